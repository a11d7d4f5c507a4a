package loadgen

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"
)

// TestSpreadConnectsReadMemoryAtGivenTimes: with ConnectOver the connects
// are spread (the last starts no earlier than (n-1)/n of it, 0.35 s here: a lower bound
// that sleeping guarantees), and RSSAt gives one memory reading per time,
// the last of which is the run's RSS per connection.
func TestSpreadConnectsReadMemoryAtGivenTimes(t *testing.T) {
	res := runOnFakeGateway(t, FanoutConfig{
		Subs: []SubGroup{{TransportSSE, 4}, {TransportWebSocket, 4}},
		Rate: 0, ConnectOver: 400 * time.Millisecond,
		RSSAt: []time.Duration{50 * time.Millisecond, 150 * time.Millisecond},
		Drain: 20 * time.Second, ServerPIDs: []int{os.Getpid()},
	})
	if res.Connected != 8 || res.Delivered != 8 {
		t.Fatalf("spread run: %+v", res)
	}
	if res.ConnectSec < 0.3 {
		t.Errorf("connects took %.3fs, want them spread over 0.4s", res.ConnectSec)
	}
	if len(res.RSSAt) != 2 || res.RSSAt[0].AfterSec != 0.05 || res.RSSAt[1].AfterSec != 0.15 {
		t.Fatalf("memory readings %+v, want at +0.05s and +0.15s", res.RSSAt)
	}
	if res.RSSAt[1].RSSKiB != res.RSSConnectedKiB || res.RSSAt[1].RSSPerConnKiB != res.RSSPerConnKiB || res.RSSConnectedKiB == 0 {
		t.Errorf("the last reading %+v is not the run's (connected %d KiB, %.2f per conn)",
			res.RSSAt[1], res.RSSConnectedKiB, res.RSSPerConnKiB)
	}
}

// TestTableComparesBridgewayWithEveryPeer: one ratio row per peer, and the
// storm/spread readings in their own table.
func TestTableComparesBridgewayWithEveryPeer(t *testing.T) {
	at := func(a, b float64) []RSSSample {
		return []RSSSample{{AfterSec: 0.5, RSSPerConnKiB: a}, {AfterSec: 10, RSSPerConnKiB: b}}
	}
	res := &Results{Fanout: []*FanoutResult{
		{Mode: "fanout", Label: "idle storm", Server: "nginx-nchan", RSSPerConnKiB: 10, RSSAt: at(10, 10)},
		{Mode: "fanout", Label: "idle storm", Server: "centrifugo", RSSPerConnKiB: 50, RSSAt: at(55, 50)},
		{Mode: "fanout", Label: "idle storm", Server: "bridgeway", RSSPerConnKiB: 5, RSSAt: at(8, 5)},
		{Mode: "fanout", Label: "floor", Server: "floor", Rate: 2, CPUPerDeliveryUs: 4, Delivered: 1},
		{Mode: "fanout", Label: "floor", Server: "bridgeway", Rate: 2, CPUPerDeliveryUs: 5, Delivered: 1},
	}}
	var b bytes.Buffer
	res.WriteMarkdown(&b)
	out := b.String()
	for _, want := range []string{
		"| idle storm | bridgeway ÷ nginx-nchan | – | – | – | – | 0.50× |",
		"| idle storm | bridgeway ÷ centrifugo | – | – | – | – | 0.10× |",
		"| floor | bridgeway ÷ floor | 1.25× |",
		"| idle storm | bridgeway | 1 | 0 | 0.0 s | +0.5 s: 8.00, +10 s: 5.00 |",
		"| idle storm | bridgeway ÷ centrifugo | | | | +0.5 s: 0.15×, +10 s: 0.10× |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "centrifugo ÷") || strings.Contains(out, "floor ÷") {
		t.Errorf("a peer is compared with a peer:\n%s", out)
	}
}
