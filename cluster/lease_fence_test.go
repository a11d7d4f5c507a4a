package cluster

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/bridgeway/bridgeway/hardening"
)

// The holder's way to Redis stops delivering while Redis itself runs on:
// its renewal hangs (the round trip timeout is longer than the lease), the
// lease expires in Redis and another instance takes it. The old holder
// must have stopped by then: its local fence, counted from when its last
// confirmed renewal was sent, ends its hold before the lease can expire,
// whatever the hanging renewal will answer.
func TestLeaseHolderStopsBeforeItsLeaseCanBeTaken(t *testing.T) {
	srv, url := startRedis(t)
	// The holder reaches Redis through a relay that will swallow
	// everything from then on, never closing: a path that stopped
	// delivering.
	proxy, err := hardening.NewFaultProxy(srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = proxy.Close() })
	stalled, err := New(Options{URL: "redis://" + proxy.Addr() + "/0", InstanceID: "stalled", OpTimeout: 4 * deadline})
	if err != nil {
		t.Fatal(err)
	}
	other := newClients(t, url, 1, Options{})[0]
	name := TopicName("/fenced", "")
	events := make(chan string, 16)
	hold := func(id string) func(context.Context, *Lease) {
		return func(ctx context.Context, _ *Lease) {
			events <- id + " holds"
			<-ctx.Done()
			events <- id + " stopped"
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	campaign := func(c *Client, id string) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = c.Campaign(ctx, name, leaseTTL, hold(id))
		}()
	}
	defer func() {
		cancel()
		_ = proxy.Close() // the stalled instance's calls fail at once
		_ = stalled.Close()
		wg.Wait()
	}()
	next := func() string {
		t.Helper()
		select {
		case e := <-events:
			return e
		case <-time.After(deadline):
			t.Fatal("no holder change")
			return ""
		}
	}
	campaign(stalled, "stalled")
	if e := next(); e != "stalled holds" {
		t.Fatalf("first event %q", e)
	}
	campaign(other, "other")
	proxy.SetFaults(hardening.Faults{Blackhole: true})
	if e := next(); e != "stalled stopped" {
		t.Fatalf("%q while the stalled instance still held the lease", e)
	}
	if e := next(); e != "other holds" {
		t.Fatalf("after the stalled holder stopped: %q", e)
	}
}
