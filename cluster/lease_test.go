package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/bridgeway/bridgeway/bridge/msg"
	"github.com/bridgeway/bridgeway/bridge/msglog"
)

// leaseTTL is long enough that renewals (every ttl/3) are not starved on a
// loaded machine under -race: a lease that lapses would be taken, and
// the tests check that exactly one instance holds at a time.
const leaseTTL = 1500 * time.Millisecond

func TestLeaseExclusiveAndReleased(t *testing.T) {
	_, url := startRedis(t)
	cs := newClients(t, url, 2, Options{})
	ctx := context.Background()
	name := TopicName("/t", "")
	a, err := cs[0].TryLease(ctx, name, leaseTTL)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cs[1].TryLease(ctx, name, leaseTTL); !errors.Is(err, ErrLeaseHeld) {
		t.Fatalf("second TryLease: %v", err)
	}
	// Held across several renewals.
	time.Sleep(2 * leaseTTL)
	if h, _ := cs[1].LeaseHolder(ctx, name); h != "inst0" {
		t.Fatalf("holder after renewals = %q", h)
	}
	select {
	case <-a.Lost():
		t.Fatal("lease lost while renewed")
	default:
	}
	a.Release()
	<-a.Lost()
	b, err := cs[1].TryLease(ctx, name, leaseTTL)
	if err != nil {
		t.Fatalf("take after release: %v", err)
	}
	b.Release()
	b.Release() // idempotent
}

// The holder stops renewing (its process is gone): another instance takes
// the lease once it expires, reads the stored upstream id to resume, and
// continues the same log; readers elsewhere see one unbroken sequence.
func TestLeaseTakeoverContinuesTopic(t *testing.T) {
	_, url := startRedis(t)
	cs := newClients(t, url, 3, Options{})
	ctx := context.Background()
	name := TopicName("/feed", "")
	const capacity = 100

	lease, err := cs[0].TryLease(ctx, name, leaseTTL)
	if err != nil {
		t.Fatal(err)
	}
	holderLog := openLog(t, cs[0], name, LogOptions{Capacity: capacity})
	reader := openLog(t, cs[2], name, LogOptions{Capacity: capacity})
	standby := openLog(t, cs[1], name, LogOptions{Capacity: capacity})
	for i := 0; i < 30; i++ {
		holderLog.Append(msg.Message{Data: []byte(fmt.Sprint(i)), UpstreamID: fmt.Sprintf("ev-%d", i)})
	}

	// inst1 campaigns while inst0 holds the lease.
	type taken struct {
		l   *Lease
		err error
	}
	got := make(chan taken, 1)
	wctx, cancel := context.WithTimeout(ctx, deadline)
	defer cancel()
	go func() {
		l, err := cs[1].WaitLease(wctx, name, leaseTTL)
		got <- taken{l, err}
	}()
	holderLog.Flush() // what the holder appended is stored before it dies
	_ = cs[0].Close() // crash: no release, renewals stop
	<-lease.Lost()
	tk := <-got
	if tk.err != nil {
		t.Fatalf("takeover: %v", tk.err)
	}
	defer tk.l.Release()
	if h, _ := cs[2].LeaseHolder(ctx, name); h != "inst1" {
		t.Fatalf("holder after takeover = %q", h)
	}
	up, err := standby.FetchUpstreamID(ctx)
	if err != nil || up != "ev-29" {
		t.Fatalf("resume id = %q, %v", up, err)
	}
	for i := 30; i < 60; i++ {
		standby.Append(msg.Message{Data: []byte(fmt.Sprint(i))})
	}
	res, _ := readUntil(t, reader, 0, atLeast(60))
	if len(res.gaps) != 0 {
		t.Fatalf("gaps: %+v", res.gaps)
	}
	for i, e := range res.entries {
		if e.Kind != msglog.KindMessage || string(e.Msg.Data) != fmt.Sprint(i) || e.Seq != uint64(i+1) {
			t.Fatalf("entry %d = kind %d %q seq %d", i, e.Kind, e.Msg.Data, e.Seq)
		}
	}
}

// Three instances campaign for one topic; exactly one runs the upstream at
// any time, and when it dies another takes over and continues.
func TestCampaignOneHolderAtATime(t *testing.T) {
	_, url := startRedis(t)
	cs := newClients(t, url, 3, Options{})
	name := TopicName("/poll", "")
	var mu sync.Mutex
	active, maxActive := 0, 0
	holders := []string{}
	changed := make(chan struct{}, 16)
	hold := func(c *Client) func(context.Context, *Lease) {
		return func(ctx context.Context, l *Lease) {
			mu.Lock()
			active++
			maxActive = max(maxActive, active)
			holders = append(holders, c.InstanceID())
			mu.Unlock()
			changed <- struct{}{}
			<-ctx.Done()
			mu.Lock()
			active--
			mu.Unlock()
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = c.Campaign(ctx, name, leaseTTL, hold(c))
		}()
	}
	waitChange := func() string {
		t.Helper()
		select {
		case <-changed:
		case <-time.After(deadline):
			t.Fatal("no holder")
		}
		mu.Lock()
		defer mu.Unlock()
		return holders[len(holders)-1]
	}
	first := waitChange()
	// Kill the holder (no release); someone else takes over.
	for _, c := range cs {
		if c.InstanceID() == first {
			_ = c.Close()
		}
	}
	second := waitChange()
	if second == first {
		t.Fatalf("the dead instance %s holds again", first)
	}
	mu.Lock()
	seen := append([]string(nil), holders...)
	mu.Unlock()
	cancel() // the survivors stop; the holder releases
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if maxActive != 1 {
		t.Fatalf("%d holders at once", maxActive)
	}
	if len(seen) != 2 {
		t.Fatalf("holders = %v", seen)
	}
}
