package loadgen

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// SubGroup is a number of subscribers over one transport.
type SubGroup struct {
	Transport string `json:"transport"`
	Count     int    `json:"count"`
}

// FanoutConfig describes one fan-out run: subscribers connect, the server's
// idle memory is read, then messages are published at Rate for Duration.
type FanoutConfig struct {
	Label   string // scenario name, for reports
	Server  string // name of the server under test, for reports
	Dialect string // DialectBridgeway, DialectNchan or DialectPlain
	// URL is the subscriber base URL; "{run}" is replaced by the run ID
	// (a fresh nchan channel per run), and in the plain dialect
	// "{transport}" by the transport's name (sse, websocket).
	URL  string
	Subs []SubGroup
	// WSHello, when set, is a text message each WebSocket subscriber sends
	// right after the handshake ("{run}" replaced): Centrifugo's
	// uni_websocket takes its connect request that way.
	WSHello string
	// PublishURL: messages are POSTed there (nchan's publisher location,
	// Centrifugo's API, Pushpin's control port) in PublishFormat.
	PublishURL    string
	PublishFormat string
	// UpstreamListen: instead, the run serves an upstream on this address
	// (UpstreamKind websocket or sse) that the gateway's route points at.
	UpstreamListen string
	UpstreamKind   string

	Rate float64 // messages per second; 0 = measure idle memory, then one probe message
	// Count, when above 0, publishes exactly this many messages at Rate
	// however long it takes, instead of publishing for Duration.
	Count int
	// Publishers is the number of concurrent publishers sharing Rate
	// (default 1). nchan answers a POST only after its fan-out, so one
	// sequential publisher caps its rate; order is then checked per publisher.
	Publishers int
	Duration   time.Duration // publishing time
	Size       int           // payload bytes
	// Settle is the pause after connecting, before memory is read.
	Settle time.Duration
	// Drain bounds the wait for the last deliveries after publishing ended.
	Drain           time.Duration
	ConnectTimeout  time.Duration
	DialConcurrency int
	// ConnectOver, when above 0, spreads the connects evenly over this
	// time (the "spread" arrival); 0 connects as fast as DialConcurrency
	// allows (a reconnect storm when DialConcurrency is large).
	ConnectOver time.Duration
	// RSSAt, when given, reads the server's memory at these times after the
	// last subscriber connected (instead of once after Settle); the last
	// one is RSSPerConnKiB.
	RSSAt []time.Duration
	// ServerPIDs are the server's processes (descendants are included).
	ServerPIDs []int
	// Progress receives human progress lines; nil discards them.
	Progress io.Writer
}

func (c *FanoutConfig) defaults() {
	if c.Dialect == "" {
		c.Dialect = DialectBridgeway
	}
	if c.Size <= 0 {
		c.Size = 128
	}
	if c.Settle <= 0 {
		c.Settle = 2 * time.Second
	}
	if c.Drain <= 0 {
		c.Drain = 5 * time.Second
	}
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = 60 * time.Second
	}
	if c.DialConcurrency <= 0 {
		c.DialConcurrency = 64
	}
	if c.Publishers <= 0 {
		c.Publishers = 1
	}
	if c.UpstreamKind == "" {
		c.UpstreamKind = UpstreamWebSocket
	}
	if c.Progress == nil {
		c.Progress = io.Discard
	}
}

func (c *FanoutConfig) validate() error {
	if c.Dialect != DialectBridgeway && c.Dialect != DialectNchan && c.Dialect != DialectPlain {
		return fmt.Errorf("fanout: unknown dialect %q (bridgeway, nchan or plain)", c.Dialect)
	}
	if err := validPublishFormat(c.PublishFormat); err != nil {
		return err
	}
	if c.URL == "" {
		return errors.New("fanout: no subscriber URL")
	}
	total := 0
	for _, g := range c.Subs {
		switch g.Transport {
		case TransportWebSocket, TransportSSE, TransportLongPoll, TransportStream:
		default:
			return fmt.Errorf("fanout: unknown transport %q", g.Transport)
		}
		if g.Transport == TransportStream && c.Dialect == DialectNchan {
			return errors.New("fanout: nchan has no NDJSON stream transport")
		}
		if c.Dialect == DialectPlain && g.Transport != TransportSSE && g.Transport != TransportWebSocket {
			return fmt.Errorf("fanout: the plain dialect has sse and websocket only, not %s", g.Transport)
		}
		if g.Count < 0 {
			return fmt.Errorf("fanout: negative subscriber count for %s", g.Transport)
		}
		total += g.Count
	}
	if total == 0 {
		return errors.New("fanout: no subscribers")
	}
	if c.PublishURL != "" && c.UpstreamListen != "" {
		return errors.New("fanout: give a publish URL or an upstream listen address, not both")
	}
	if c.Rate > 0 && c.PublishURL == "" && c.UpstreamListen == "" {
		return errors.New("fanout: publishing needs a publish URL or an upstream listen address")
	}
	if c.Rate > 0 && c.Duration <= 0 && c.Count <= 0 {
		return errors.New("fanout: publishing needs a duration")
	}
	return nil
}

// TransportResult is the part of a result for one transport.
type TransportResult struct {
	Transport  string  `json:"transport"`
	Subs       int     `json:"subscribers"`
	Connected  int     `json:"connected"`
	Delivered  uint64  `json:"delivered"`
	Lost       uint64  `json:"lost"`
	Duplicated uint64  `json:"duplicated"`
	OutOfOrder uint64  `json:"out_of_order"`
	Gaps       uint64  `json:"gaps"`
	Latency    Latency `json:"latency"`
}

// FanoutResult is what a fan-out run measured.
type FanoutResult struct {
	Mode    string `json:"mode"` // "fanout"
	Label   string `json:"label"`
	Server  string `json:"server"`
	Dialect string `json:"dialect"`
	Run     string `json:"run"`
	Date    string `json:"date"`

	Subscribers int      `json:"subscribers"`
	Connected   int      `json:"connected"`
	Failed      int      `json:"failed"`
	Dropped     int      `json:"dropped"`
	Errors      []string `json:"errors,omitempty"`

	Rate          float64 `json:"rate"`
	Publishers    int     `json:"publishers"`
	Size          int     `json:"size"`
	Published     uint64  `json:"published"`
	PublishErrors uint64  `json:"publish_errors"`
	PublishRate   float64 `json:"publish_rate"`

	Expected      uint64  `json:"expected"`
	Delivered     uint64  `json:"delivered"`
	Lost          uint64  `json:"lost"`
	Duplicated    uint64  `json:"duplicated"`
	OutOfOrder    uint64  `json:"out_of_order"`
	Foreign       uint64  `json:"foreign"`
	Gaps          uint64  `json:"gaps"`
	DeliveriesSec float64 `json:"deliveries_per_sec"`
	PollRequests  uint64  `json:"poll_requests"`
	PollCyclesSec float64 `json:"poll_cycles_per_sec"`
	Latency       Latency `json:"latency"`

	PerTransport []TransportResult `json:"per_transport"`

	ServerProcs      int     `json:"server_procs"`
	ServerCPUSec     float64 `json:"server_cpu_sec"`
	CPUPerDeliveryUs float64 `json:"cpu_per_delivery_us"`
	ClientCPUSec     float64 `json:"client_cpu_sec"`
	RSSIdleKiB       uint64  `json:"rss_idle_kib"`
	RSSConnectedKiB  uint64  `json:"rss_connected_kib"`
	RSSEndKiB        uint64  `json:"rss_end_kib"`
	RSSPerConnKiB    float64 `json:"rss_per_conn_kib"`
	WindowSec        float64 `json:"window_sec"`
	// ConnectSec is the time from the first connect to the last.
	ConnectSec float64 `json:"connect_sec"`
	// RSSAt is the memory read at each of FanoutConfig.RSSAt.
	RSSAt []RSSSample `json:"rss_at,omitempty"`
}

// RSSSample is the server's memory some time after the last connect.
type RSSSample struct {
	AfterSec      float64 `json:"after_sec"`
	RSSKiB        uint64  `json:"rss_kib"`
	RSSPerConnKiB float64 `json:"rss_per_conn_kib"`
}

func newRunID() string {
	var b [4]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

type subGroupState struct {
	SubGroup
	hist     histogram
	trackers []*tracker
}

// RunFanout runs one fan-out measurement.
func RunFanout(ctx context.Context, cfg FanoutConfig) (*FanoutResult, error) {
	cfg.defaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	total := 0
	for _, g := range cfg.Subs {
		total += g.Count
	}
	if err := ensureFDs(total); err != nil {
		return nil, err
	}
	run := newRunID()
	res := &FanoutResult{
		Mode: "fanout", Label: cfg.Label, Server: cfg.Server, Dialect: cfg.Dialect,
		Run: run, Date: time.Now().UTC().Format(time.RFC3339), Subscribers: total,
		Rate: cfg.Rate, Publishers: cfg.Publishers, Size: cfg.Size,
	}
	progress := func(format string, a ...any) {
		fmt.Fprintf(cfg.Progress, "%s  "+format+"\n", append([]any{time.Now().Format("15:04:05.000")}, a...)...)
	}

	// With Rate 0 a configured publisher still serves: the gateway keeps its
	// upstream connection while memory is read, and one probe message
	// afterwards shows that the idle subscribers are alive.
	var pub publisher
	if cfg.PublishURL != "" || cfg.UpstreamListen != "" {
		if cfg.UpstreamListen != "" {
			up, err := startUpstreamServer(cfg.UpstreamListen, cfg.UpstreamKind)
			if err != nil {
				return nil, err
			}
			pub = up
		} else {
			pub = newHTTPPublisher(strings.ReplaceAll(cfg.PublishURL, "{run}", run), cfg.PublishFormat, run, cfg.Publishers)
		}
		defer pub.close()
	}

	idle, err := sampleProcs(cfg.ServerPIDs)
	if err != nil {
		return nil, err
	}
	res.RSSIdleKiB = idle.RSSKiB

	// Connect every subscriber, a bounded number of handshakes at a time.
	env := newSubscriberEnv(cfg.Dialect, strings.ReplaceAll(cfg.URL, "{run}", run), total)
	env.wsHello = strings.ReplaceAll(cfg.WSHello, "{run}", run)
	defer env.close()
	live := &liveCounts{}
	groups := make([]*subGroupState, len(cfg.Subs))
	subCtx, stopSubs := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() { stopSubs(); wg.Wait() }() // every subscriber goroutine ends with the run
	sem := make(chan struct{}, cfg.DialConcurrency)
	connectStart := time.Now()
	progress("connecting %d subscribers to %s (%s dialect)", total, env.base, cfg.Dialect)
	stopped := false
	started := 0
	for gi, g := range cfg.Subs {
		gs := &subGroupState{SubGroup: g}
		groups[gi] = gs
		for i := 0; i < g.Count && !stopped; i++ {
			if cfg.ConnectOver > 0 { // spread: the i-th connect starts at i/total of ConnectOver
				if !sleepUntil(ctx, connectStart.Add(cfg.ConnectOver*time.Duration(started)/time.Duration(total))) {
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
			t := newTracker(run, &gs.hist, live, cfg.Publishers)
			gs.trackers = append(gs.trackers, t)
			var once sync.Once
			ready := func() { once.Do(func() { <-sem }) }
			wg.Add(1)
			go func(transport string) {
				defer wg.Done()
				env.subscribe(subCtx, transport, t, ready)
			}(g.Transport)
		}
	}
	deadline := time.Now().Add(cfg.ConnectTimeout)
	for int(live.connected.Load()+live.failed.Load()) < total && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(50 * time.Millisecond)
	}
	lastConnect := time.Now()
	res.ConnectSec = lastConnect.Sub(connectStart).Seconds()
	progress("connected %d, failed %d in %.1fs", live.connected.Load(), live.failed.Load(), res.ConnectSec)
	if pub != nil {
		readyCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := pub.waitReady(readyCtx)
		cancel()
		if err != nil {
			return nil, err
		}
	}
	var conn procSample
	if len(cfg.RSSAt) > 0 {
		// Memory at fixed times after the last connect (the storm's
		// +0.5 s and +10 s); the last reading stands for the run.
		for _, at := range cfg.RSSAt {
			sleepUntil(ctx, lastConnect.Add(at))
			if conn, err = sampleProcs(cfg.ServerPIDs); err != nil {
				return nil, err
			}
			s := RSSSample{AfterSec: at.Seconds(), RSSKiB: conn.RSSKiB}
			if n := live.connected.Load(); n > 0 {
				s.RSSPerConnKiB = conn.rssPerConnKiB(idle, n)
			}
			res.RSSAt = append(res.RSSAt, s)
			progress("rss %d KiB at +%s (%.2f KiB per connection)", conn.RSSKiB, at, s.RSSPerConnKiB)
		}
	} else {
		sleepCtx(ctx, cfg.Settle)
		if conn, err = sampleProcs(cfg.ServerPIDs); err != nil {
			return nil, err
		}
	}
	res.RSSConnectedKiB = conn.RSSKiB
	connected := live.connected.Load()
	if connected == 0 {
		stopSubs()
		wg.Wait()
		res.aggregate(groups, live)
		return nil, fmt.Errorf("fanout: no subscriber connected: %s", strings.Join(res.Errors, "; "))
	}
	if len(cfg.ServerPIDs) > 0 {
		res.RSSPerConnKiB = conn.rssPerConnKiB(idle, connected)
	}
	res.ServerProcs = conn.Procs

	if pub != nil && ctx.Err() == nil {
		pubCfg := cfg
		if cfg.Rate <= 0 { // the probe: exactly one message
			pubCfg.Rate, pubCfg.Count = 1, 1
		}
		before, err := sampleProcs(cfg.ServerPIDs)
		if err != nil {
			return nil, err
		}
		clientBefore := selfCPU()
		start := time.Now()
		progress("publishing %.0f msg/s of %d bytes for %s", pubCfg.Rate, cfg.Size, pubCfg.Duration)
		var lastSeq uint64
		res.Published, res.PublishErrors, lastSeq = publishLoop(ctx, pub, run, pubCfg)
		pubElapsed := time.Since(start)
		res.PublishRate = float64(res.Published) / pubElapsed.Seconds()
		want := uint64(live.connected.Load()) * res.Published
		waitDeliveries(ctx, live, groups, want, lastSeq, cfg.Drain)
		after, err := sampleProcs(cfg.ServerPIDs)
		if err != nil {
			return nil, err
		}
		end := time.Now()
		if last := live.lastNanos.Load(); last > 0 && time.Unix(0, last).Before(end) {
			end = time.Unix(0, last)
		}
		window := end.Sub(start)
		res.WindowSec = window.Seconds()
		res.ServerCPUSec = (after.CPU - before.CPU).Seconds()
		res.ClientCPUSec = (selfCPU() - clientBefore).Seconds()
		res.PollRequests = live.pollReqs.Load()
		if window > 0 {
			res.DeliveriesSec = float64(live.unique.Load()) / window.Seconds()
			res.PollCyclesSec = float64(res.PollRequests) / window.Seconds()
		}
		progress("published %d (%.1f/s), delivered %d of %d", res.Published, res.PublishRate, live.unique.Load(), want)
	}
	end, err := sampleProcs(cfg.ServerPIDs)
	if err == nil {
		res.RSSEndKiB = end.RSSKiB
	}

	stopSubs()
	wg.Wait()
	res.aggregate(groups, live)
	if res.Delivered > 0 && len(cfg.ServerPIDs) > 0 {
		res.CPUPerDeliveryUs = res.ServerCPUSec * 1e6 / float64(res.Delivered)
	}
	return res, nil
}

// drainGrace is how long the run still waits once every subscriber has
// received the last message: a message lost by the server never comes, and
// the others of concurrent publishers may still be on their way.
const drainGrace = 500 * time.Millisecond

// waitDeliveries waits until every subscriber got every message, or every
// connected subscriber got the last one (plus drainGrace), or drain passed.
func waitDeliveries(ctx context.Context, live *liveCounts, groups []*subGroupState, want, last uint64, drain time.Duration) {
	end := time.Now().Add(drain)
	var caughtUp time.Time
	for live.unique.Load() < want && time.Now().Before(end) && ctx.Err() == nil {
		if caughtUp.IsZero() && allSaw(groups, last) {
			caughtUp = time.Now()
		}
		if !caughtUp.IsZero() && time.Since(caughtUp) > drainGrace {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func allSaw(groups []*subGroupState, last uint64) bool {
	for _, g := range groups {
		for _, t := range g.trackers {
			if t.connectedFlag.Load() && t.highest.Load() < last {
				return false
			}
		}
	}
	return true
}

// publishLoop publishes sequence numbers 1..N at cfg.Rate for cfg.Duration,
// spread over cfg.Publishers goroutines (publisher j takes j+1, j+1+K, ...).
// It keeps to a schedule: a slow publish is followed by the next at once,
// and publishing stops when the duration is over even if behind, so a
// server that cannot take the rate shows a lower achieved rate (reported)
// rather than an ever longer run. Lost = published - received per
// subscriber, so numbers left unpublished are never counted as lost.
func publishLoop(ctx context.Context, pub publisher, run string, cfg FanoutConfig) (published, failed, lastSeq uint64) {
	interval := time.Duration(float64(time.Second) / cfg.Rate)
	start := time.Now()
	end := start.Add(cfg.Duration)
	k := uint64(max(cfg.Publishers, 1))
	var nPub, nFail, highest atomic.Uint64
	var wg sync.WaitGroup
	for j := uint64(0); j < k; j++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 0, cfg.Size+64)
			timer := time.NewTimer(time.Hour)
			defer timer.Stop()
			for seq := j + 1; ctx.Err() == nil; seq += k {
				due := start.Add(time.Duration(seq-1) * interval)
				if cfg.Count > 0 {
					if seq > uint64(cfg.Count) {
						return
					}
				} else if !due.Before(end) || !time.Now().Before(end) {
					return
				}
				if wait := time.Until(due); wait > 0 {
					timer.Reset(wait)
					select {
					case <-timer.C:
					case <-ctx.Done():
						return
					}
				}
				buf = appendPayload(buf[:0], run, seq, time.Now().UnixNano(), cfg.Size)
				if err := pub.publish(ctx, buf); err != nil {
					nFail.Add(1)
				}
				// A failed publish still used its sequence number: subscribers
				// count it as lost, which is what a user would see.
				nPub.Add(1)
				for h := highest.Load(); seq > h && !highest.CompareAndSwap(h, seq); h = highest.Load() {
				}
			}
		}()
	}
	wg.Wait()
	return nPub.Load(), nFail.Load(), highest.Load()
}

func (r *FanoutResult) aggregate(groups []*subGroupState, live *liveCounts) {
	var all histogram
	errs := map[string]int{}
	for _, g := range groups {
		tr := TransportResult{Transport: g.Transport, Subs: g.Count}
		for _, t := range g.trackers {
			if t.err != nil {
				errs[shortErr(t.err)]++
			}
			if !t.connected {
				continue
			}
			tr.Connected++
			tr.Delivered += t.unique
			if r.Published > t.unique {
				tr.Lost += r.Published - t.unique
			}
			tr.Duplicated += t.dups
			tr.OutOfOrder += t.outOfOrd
			tr.Gaps += t.gaps
			r.Foreign += t.foreign
		}
		tr.Latency = g.hist.summary()
		all.merge(&g.hist)
		r.PerTransport = append(r.PerTransport, tr)
		r.Connected += tr.Connected
		r.Delivered += tr.Delivered
		r.Lost += tr.Lost
		r.Duplicated += tr.Duplicated
		r.OutOfOrder += tr.OutOfOrder
		r.Gaps += tr.Gaps
	}
	r.Failed = int(live.failed.Load())
	r.Dropped = int(live.dropped.Load())
	r.Expected = uint64(r.Connected) * r.Published
	r.Latency = all.summary()
	for e, n := range errs {
		r.Errors = append(r.Errors, fmt.Sprintf("%dx %s", n, e))
	}
	sort.Strings(r.Errors)
	if len(r.Errors) > 8 {
		r.Errors = r.Errors[:8]
	}
}

// shortErr keeps error texts groupable: port numbers and addresses vary.
func shortErr(err error) string {
	s := err.Error()
	if len(s) > 160 {
		s = s[:160]
	}
	return s
}

// sleepUntil waits for t; false when ctx ended first.
func sleepUntil(ctx context.Context, t time.Time) bool {
	if d := time.Until(t); d > 0 {
		sleepCtx(ctx, d)
	}
	return ctx.Err() == nil
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
