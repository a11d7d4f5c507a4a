package loadgen

import (
	"context"
	"strings"
	"sync"
	"time"
)

// subscriberSide is where a run's subscribers live: in this process
// (localSide) or in shard processes (shardSide, shard_parent.go).
type subscriberSide interface {
	// connect starts every subscriber and returns once each connected or
	// failed (or the connect timeout passed): how many connected.
	connect(ctx context.Context) (int64, error)
	// waitDelivered waits until messages 1..last reached every subscriber
	// (or drain passed) and returns the time of the latest delivery in
	// Unix nanoseconds (0: none). The subscribers keep running.
	waitDelivered(ctx context.Context, published, last uint64, drain time.Duration) (int64, error)
	// finish stops the subscribers and returns their accounts.
	finish(ctx context.Context, published uint64) ([]shardReport, error)
}

// localSide runs the subscribers in this process.
type localSide struct {
	cfg      *FanoutConfig
	run      string
	total    int
	progress func(format string, a ...any)

	env     *subscriberEnv
	live    *liveCounts
	groups  []*subGroupState
	stopAll context.CancelFunc
	wg      sync.WaitGroup
	// connectStart is when the first connect began (spread arrivals count from it).
	connectStart time.Time
}

func newLocalSide(cfg *FanoutConfig, run string, total int, progress func(string, ...any)) *localSide {
	return &localSide{cfg: cfg, run: run, total: total, progress: progress, live: &liveCounts{}}
}

func (s *localSide) connect(ctx context.Context) (int64, error) {
	cfg := s.cfg
	env := newSubscriberEnv(cfg.Dialect, strings.ReplaceAll(cfg.URL, "{run}", s.run), s.total, cfg.Source)
	env.wsHello = strings.ReplaceAll(cfg.WSHello, "{run}", s.run)
	s.env = env
	subCtx, stopSubs := context.WithCancel(ctx)
	s.stopAll = stopSubs
	sem := make(chan struct{}, cfg.DialConcurrency)
	s.connectStart = time.Now()
	s.progress("connecting %d subscribers to %s (%s dialect)", s.total, env.base, cfg.Dialect)
	stopped := false
	started := 0
	for _, g := range cfg.Subs {
		gs := &subGroupState{SubGroup: g}
		s.groups = append(s.groups, gs)
		for i := 0; i < g.Count && !stopped; i++ {
			if cfg.ConnectOver > 0 { // spread: the i-th connect starts at i/total of ConnectOver
				if !sleepUntil(ctx, s.connectStart.Add(cfg.ConnectOver*time.Duration(started)/time.Duration(s.total))) {
					stopped = true
					continue
				}
			}
			started++
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				stopped = true
				continue
			}
			t := newTracker(s.run, &gs.hist, s.live, cfg.Publishers)
			gs.trackers = append(gs.trackers, t)
			var once sync.Once
			ready := func() { once.Do(func() { <-sem }) }
			s.wg.Add(1)
			go func(transport string) {
				defer s.wg.Done()
				env.subscribe(subCtx, transport, t, ready)
			}(g.Transport)
		}
	}
	deadline := time.Now().Add(cfg.ConnectTimeout)
	for int(s.live.connected.Load()+s.live.failed.Load()) < s.total && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(50 * time.Millisecond)
	}
	return s.live.connected.Load(), nil
}

func (s *localSide) waitDelivered(ctx context.Context, published, last uint64, drain time.Duration) (int64, error) {
	waitDeliveries(ctx, s.live, s.groups, uint64(s.live.connected.Load())*published, last, drain)
	return s.live.lastNanos.Load(), nil
}

func (s *localSide) finish(_ context.Context, published uint64) ([]shardReport, error) {
	s.stop()
	return []shardReport{s.report(published)}, nil
}

// stop ends every subscriber goroutine and waits for them (idempotent).
func (s *localSide) stop() {
	if s.stopAll != nil {
		s.stopAll()
	}
	s.wg.Wait()
	if s.env != nil {
		s.env.close()
	}
}

// report is this process's account of its subscribers; call after stop.
func (s *localSide) report(published uint64) shardReport {
	rep := shardReport{
		Failed: s.live.failed.Load(), Dropped: s.live.dropped.Load(),
		PollCycles: s.live.pollCycles.Load(), LastNanos: s.live.lastNanos.Load(),
		Errors: map[string]int{},
	}
	for _, g := range s.groups {
		gr := groupReport{TransportResult: TransportResult{Transport: g.Transport, Subs: g.Count}, Hist: g.hist.snapshot()}
		for _, t := range g.trackers {
			if t.err != nil {
				rep.Errors[shortErr(t.err)]++
			}
			if !t.connected {
				continue
			}
			gr.Connected++
			gr.Delivered += t.unique
			if published > t.unique {
				gr.Lost += published - t.unique
			}
			gr.Duplicated += t.dups
			gr.OutOfOrder += t.outOfOrd
			gr.Gaps += t.gaps
			gr.Foreign += t.foreign
		}
		rep.Connected += int64(gr.Connected)
		rep.Groups = append(rep.Groups, gr)
	}
	return rep
}
