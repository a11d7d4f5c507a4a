package hardening

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/bridgeway/bridgeway/config"
	"github.com/bridgeway/bridgeway/internal/testdeps"
)

// fdLimit is the open-file limit the gateway runs under in these tests:
// small, so a flood reaches it in a second, and the common default soft
// limit of a shell.
const fdLimit = 1024

// TestDefaultConfigSurvivesOneAddressFlood runs the built binary under
// prlimit --nofile=1024 with a default config (only the listeners and the
// routes are written). One client address floods it: 1,100 sessions on
// one keep-alive connection, 150 broadcast topics, then 1,100 connections
// held open. Every flood request gets an answer, refusals a status and a
// JSON code; afterwards another address (127.0.0.2) is still served on a
// new connection, opens a bridged session and a topic, and /healthz
// answers on the admin listener. Before the fd budget (max_connections
// 20000, no per-IP caps) the flood took every descriptor: upstream dials
// failed, then accept did, and nobody was served.
func TestDefaultConfigSurvivesOneAddressFlood(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	prlimit := testdeps.LookPath(t, "prlimit") // util-linux
	bin := buildBridgeway(t)
	app := newWSApp(t)
	cfgPath := filepath.Join(t.TempDir(), "bridgeway.yaml")
	if err := os.WriteFile(cfgPath, []byte("listen: 127.0.0.1:0\nadmin: {listen: 127.0.0.1:0}\nroutes:\n"+
		"  - path: /s\n    upstream: {url: \""+app.wsURL("/echo")+"\"}\n"+
		"  - path: /t/{room}\n    mode: broadcast\n    upstream: {url: \""+app.wsURL("/rooms/{room}")+"\"}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	g := startBinary(t, []string{prlimit, fmt.Sprintf("--nofile=%d:%d", fdLimit, fdLimit), "--"}, bin, cfgPath)

	const flood = fdLimit + 76 // more than the process has descriptors
	k := dialAddr(t, g.addr, "127.0.0.1")
	sessions := tally(t, "session", flood, func(i int) answer { return k.get(t, "/s/poll?wait=0") },
		200, 429, "too_many_sessions_per_ip")
	topics := tally(t, "topic", 150, func(i int) answer { return k.get(t, fmt.Sprintf("/t/r%d/poll?wait=0", i)) },
		200, 429, "too_many_topics_per_ip")
	conns := tally(t, "connection", flood, func(i int) answer {
		c := dialAddr(t, g.addr, "127.0.0.1")
		a := c.get(t, "/nowhere")
		if a.status == 404 {
			return a // admitted: held open until the test ends
		}
		_ = c.c.Close()
		return a
	}, 404, 429, "too_many_connections_per_ip")
	fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", g.cmd.Process.Pid))
	t.Logf("flood from one address: sessions %+v, topics %+v, connections %+v; the gateway holds %d descriptors", sessions, topics, conns, len(fds))

	other := dialAddr(t, g.addr, "127.0.0.2")
	if a := other.get(t, "/s/poll?wait=0"); a.status != 200 || !strings.Contains(a.body, `"session"`) {
		t.Errorf("another address opening a session: %d %s", a.status, a.body)
	}
	if a := other.get(t, "/t/other/poll?wait=0"); a.status != 200 {
		t.Errorf("another address opening a topic: %d %s", a.status, a.body)
	}
	if a := dialAddr(t, g.admin, "127.0.0.1").get(t, "/healthz"); a.status != 200 {
		t.Errorf("/healthz on the admin listener: %d %s", a.status, a.body)
	}
	if n := g.metric("bridgeway_proxy_rejected_connections_total", `reason="max_connections_per_ip"`); n != float64(conns.refused) {
		t.Errorf("refused connections counted %v, answered %d", n, conns.refused)
	}
	for _, line := range strings.Split(g.log(), "\n") {
		if strings.Contains(line, "too many open files") {
			t.Errorf("the gateway ran out of descriptors; first log line saying so:\n%s", line)
			break
		}
	}
}

// floodCounts are a flood's answers: accepted, refused with the expected
// status, code and Retry-After, and anything else.
type floodCounts struct {
	accepted, refused, other int
	firstOther               string
}

// tally sends n flood requests and sorts their answers. No answer at all (a
// connection the gateway could not accept) ends the flood as an error. Both
// accepted and refused must occur (the cap was reached), nothing else.
func tally(t *testing.T, what string, n int, send func(i int) answer, okStatus, refused int, code string) floodCounts {
	t.Helper()
	var c floodCounts
	for i := range n {
		a := send(i)
		switch {
		case a.status == okStatus:
			c.accepted++
		case a.status == refused && a.errorCode() == code && a.header.Get("Retry-After") != "":
			c.refused++
		case a.status == -1:
			t.Errorf("%s %d of the flood got no answer (so far %+v)", what, i, c)
			return c
		default:
			c.other++
			if c.firstOther == "" {
				c.firstOther = fmt.Sprintf("%d %s", a.status, a.body)
			}
		}
	}
	if c.accepted == 0 || c.refused == 0 || c.other != 0 {
		t.Errorf("%s flood: %+v; want some accepted (%d), the rest refused (%d %s with Retry-After)", what, c, okStatus, refused, code)
	}
	return c
}

// TestDefaultPerIPCapsSpareTrustedProxies: with the default per-IP caps, a
// load balancer listed in trusted_proxies still carries more connections
// than max_connections_per_ip and more sessions than max_sessions_per_ip,
// because each session counts its own client; the same traffic from an
// unlisted peer is one address and is refused beyond the caps (before
// the caps had defaults it was all let in).
func TestDefaultPerIPCapsSpareTrustedProxies(t *testing.T) {
	app := newWSApp(t)
	g := startGateway(t, "trusted_proxies: [127.0.0.5]\nroutes:\n  - path: /s\n    upstream: {url: \""+app.wsURL("/echo")+"\"}\n")
	const n = config.DefaultMaxConnsPerIP + 44 // also more than DefaultMaxSessionsPerIP
	for _, peer := range []string{"127.0.0.5", "127.0.0.6"} {
		codes := map[string]int{}
		for i := range n {
			a := dialAddr(t, g.addr, peer).send(t, "/s/poll?wait=0", "gw.test", fmt.Sprintf("X-Forwarded-For: 10.0.%d.%d", i/256, i%256))
			codes[fmt.Sprintf("%d %s", a.status, a.errorCode())]++
		}
		want := map[string]int{"200 ": n} // one session per client, one connection each
		if peer == "127.0.0.6" {
			want = map[string]int{
				"200 ":                            config.DefaultMaxSessionsPerIP,
				"429 too_many_sessions_per_ip":    config.DefaultMaxConnsPerIP - config.DefaultMaxSessionsPerIP,
				"429 too_many_connections_per_ip": n - config.DefaultMaxConnsPerIP,
			}
		}
		if !reflect.DeepEqual(codes, want) {
			t.Errorf("%d connections from %s, one session each: %v, want %v", n, peer, codes, want)
		}
	}
}
