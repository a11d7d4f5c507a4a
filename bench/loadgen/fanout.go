package loadgen

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
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
	// Source is the local address subscribers connect from (nil: any).
	Source net.IP
	// Shards, when set, runs the subscribers in shard processes (RunShard)
	// instead of this one: it starts them for the run id and returns
	// their links. Each shard's share of Subs is the caller's choice
	// (SplitSubs); this process publishes, measures and merges.
	Shards func(ctx context.Context, run string) ([]ShardLink, error)
	// ServerPIDs are the server's processes (descendants are included).
	// FrontPIDs are processes in front of it (a load balancer): their CPU
	// over the same window is reported apart (FrontCPUSec), not counted in
	// CPU per delivery.
	FrontPIDs  []int
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
	PollCycles    uint64  `json:"poll_cycles"`
	PollCyclesSec float64 `json:"poll_cycles_per_sec"`
	Latency       Latency `json:"latency"`

	PerTransport []TransportResult `json:"per_transport"`

	ServerProcs      int     `json:"server_procs"`
	ServerCPUSec     float64 `json:"server_cpu_sec"`
	CPUPerDeliveryUs float64 `json:"cpu_per_delivery_us"`
	// ServerWrites is the server's write(2) calls over the window (where
	// /proc/PID/io is readable), DeliveriesPerWrite deliveries per call.
	ServerWrites       uint64  `json:"server_write_calls,omitempty"`
	DeliveriesPerWrite float64 `json:"deliveries_per_write,omitempty"`
	ClientCPUSec       float64 `json:"client_cpu_sec"`
	// FrontCPUSec is FrontPIDs' CPU over the window, FrontCPUPerDeliveryUs per delivery.
	FrontCPUSec           float64 `json:"front_cpu_sec,omitempty"`
	FrontCPUPerDeliveryUs float64 `json:"front_cpu_per_delivery_us,omitempty"`
	RSSIdleKiB            uint64  `json:"rss_idle_kib"`
	RSSConnectedKiB       uint64  `json:"rss_connected_kib"`
	RSSEndKiB             uint64  `json:"rss_end_kib"`
	RSSPerConnKiB         float64 `json:"rss_per_conn_kib"`
	WindowSec             float64 `json:"window_sec"`
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
	if cfg.Shards == nil { // else the shard processes hold the connections
		if err := ensureFDs(total); err != nil {
			return nil, err
		}
	}
	run := newRunID()
	res := &FanoutResult{
		Mode: "fanout", Label: cfg.Label, Server: cfg.Server, Dialect: cfg.Dialect,
		Run: run, Date: time.Now().UTC().Format(time.RFC3339), Subscribers: total,
		Rate: cfg.Rate, Publishers: cfg.Publishers, Size: cfg.Size,
	}
	progress := progressTo(cfg.Progress)

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

	// Connect every subscriber (here, or in the shard processes).
	var side subscriberSide
	if cfg.Shards != nil {
		links, err := cfg.Shards(ctx, run)
		if err != nil {
			return nil, err
		}
		side = newShardSide(links)
	} else {
		side = newLocalSide(&cfg, run, total, progress)
	}
	finished := false
	finish := func(published uint64) error {
		finished = true
		reps, err := side.finish(ctx, published)
		res.mergeReports(reps)
		return err
	}
	defer func() { // every subscriber ends with the run
		if !finished {
			side.finish(ctx, 0)
		}
	}()
	connectStart := time.Now()
	connected, err := side.connect(ctx)
	if err != nil {
		return nil, err
	}
	lastConnect := time.Now()
	res.ConnectSec = lastConnect.Sub(connectStart).Seconds()
	progress("connected %d of %d in %.1fs", connected, total, res.ConnectSec)
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
			if connected > 0 {
				s.RSSPerConnKiB = conn.rssPerConnKiB(idle, connected)
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
	if connected == 0 {
		err := finish(0)
		return nil, fmt.Errorf("fanout: no subscriber connected: %s (%v)", strings.Join(res.Errors, "; "), err)
	}
	if len(cfg.ServerPIDs) > 0 {
		res.RSSPerConnKiB = conn.rssPerConnKiB(idle, connected)
	}
	res.ServerProcs = conn.Procs

	var window time.Duration
	if pub != nil && ctx.Err() == nil {
		pubCfg := cfg
		if cfg.Rate <= 0 { // the probe: exactly one message
			pubCfg.Rate, pubCfg.Count = 1, 1
		}
		before, err := sampleProcs(cfg.ServerPIDs)
		if err != nil {
			return nil, err
		}
		frontBefore, err := sampleProcs(cfg.FrontPIDs)
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
		last, err := side.waitDelivered(ctx, res.Published, lastSeq, cfg.Drain)
		if err != nil {
			return nil, err
		}
		after, err := sampleProcs(cfg.ServerPIDs)
		if err != nil {
			return nil, err
		}
		frontAfter, err := sampleProcs(cfg.FrontPIDs)
		if err != nil {
			return nil, err
		}
		res.FrontCPUSec = (frontAfter.CPU - frontBefore.CPU).Seconds()
		end := time.Now()
		if last > 0 && time.Unix(0, last).Before(end) {
			end = time.Unix(0, last)
		}
		window = end.Sub(start)
		res.WindowSec = window.Seconds()
		res.ServerCPUSec = (after.CPU - before.CPU).Seconds()
		if after.Writes > before.Writes {
			res.ServerWrites = after.Writes - before.Writes
		}
		res.ClientCPUSec = (selfCPU() - clientBefore).Seconds()
		if ss, ok := side.(*shardSide); ok {
			res.ClientCPUSec += ss.cpu
		}
	}
	end, err := sampleProcs(cfg.ServerPIDs)
	if err == nil {
		res.RSSEndKiB = end.RSSKiB
	}
	if err := finish(res.Published); err != nil {
		return nil, err
	}
	if window > 0 {
		res.DeliveriesSec = float64(res.Delivered) / window.Seconds()
		res.PollCyclesSec = float64(res.PollCycles) / window.Seconds()
	}
	if res.Published > 0 {
		progress("published %d (%.1f/s), delivered %d of %d", res.Published, res.PublishRate, res.Delivered, res.Expected)
	}
	if res.Delivered > 0 && len(cfg.ServerPIDs) > 0 {
		res.CPUPerDeliveryUs = res.ServerCPUSec * 1e6 / float64(res.Delivered)
	}
	if res.ServerWrites > 0 {
		res.DeliveriesPerWrite = float64(res.Delivered) / float64(res.ServerWrites)
	}
	if res.Delivered > 0 && len(cfg.FrontPIDs) > 0 {
		res.FrontCPUPerDeliveryUs = res.FrontCPUSec * 1e6 / float64(res.Delivered)
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
