package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// EchoConfig describes an echo run: Conns WebSocket clients each send a
// message, wait for it to come back, and repeat for Duration.
type EchoConfig struct {
	Label           string
	Server          string
	URL             string // ws:// URL of a session route, a pass-through route, or a proxy
	Conns           int
	Duration        time.Duration
	Size            int
	Settle          time.Duration
	ConnectTimeout  time.Duration
	DialConcurrency int
	ServerPIDs      []int
	Progress        io.Writer
}

// EchoResult is what an echo run measured.
type EchoResult struct {
	Mode   string `json:"mode"` // "echo"
	Label  string `json:"label"`
	Server string `json:"server"`
	Run    string `json:"run"`
	Date   string `json:"date"`

	Conns     int      `json:"conns"`
	Connected int      `json:"connected"`
	Failed    int      `json:"failed"`
	Errors    []string `json:"errors,omitempty"`
	Size      int      `json:"size"`

	RoundTrips        uint64  `json:"round_trips"`
	Unexpected        uint64  `json:"unexpected"` // frames that were not the awaited echo
	RoundTripsSec     float64 `json:"round_trips_per_sec"`
	Latency           Latency `json:"latency"`
	ServerProcs       int     `json:"server_procs"`
	ServerCPUSec      float64 `json:"server_cpu_sec"`
	ClientCPUSec      float64 `json:"client_cpu_sec"`
	CPUPerRoundTripUs float64 `json:"cpu_per_round_trip_us"`
	RSSIdleKiB        uint64  `json:"rss_idle_kib"`
	RSSConnectedKiB   uint64  `json:"rss_connected_kib"`
	RSSPerConnKiB     float64 `json:"rss_per_conn_kib"`
	WindowSec         float64 `json:"window_sec"`
}

// RunEcho runs one echo measurement.
func RunEcho(ctx context.Context, cfg EchoConfig) (*EchoResult, error) {
	if cfg.URL == "" || cfg.Conns <= 0 || cfg.Duration <= 0 {
		return nil, errors.New("echo: need a URL, a connection count and a duration")
	}
	if cfg.Size <= 0 {
		cfg.Size = 128
	}
	if cfg.Settle <= 0 {
		cfg.Settle = time.Second
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = 60 * time.Second
	}
	if cfg.DialConcurrency <= 0 {
		cfg.DialConcurrency = 64
	}
	if cfg.Progress == nil {
		cfg.Progress = io.Discard
	}
	if err := ensureFDs(cfg.Conns); err != nil {
		return nil, err
	}
	run := newRunID()
	res := &EchoResult{Mode: "echo", Label: cfg.Label, Server: cfg.Server, Run: run,
		Date: time.Now().UTC().Format(time.RFC3339), Conns: cfg.Conns, Size: cfg.Size}
	idle, err := sampleProcs(cfg.ServerPIDs)
	if err != nil {
		return nil, err
	}
	res.RSSIdleKiB = idle.RSSKiB

	netDialer := &net.Dialer{Timeout: 15 * time.Second}
	dialer := &websocket.Dialer{NetDialContext: netDialer.DialContext, HandshakeTimeout: 15 * time.Second,
		ReadBufferSize: 1024, WriteBufferSize: 1024}
	sem := make(chan struct{}, cfg.DialConcurrency)
	var (
		mu    sync.Mutex
		conns []*websocket.Conn
		errs  = map[string]int{}
	)
	var wg sync.WaitGroup
	fmt.Fprintf(cfg.Progress, "connecting %d echo clients to %s\n", cfg.Conns, cfg.URL)
	for i := 0; i < cfg.Conns; i++ {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			dctx, cancel := context.WithTimeout(ctx, cfg.ConnectTimeout)
			defer cancel()
			c, _, err := dialer.DialContext(dctx, cfg.URL, nil)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs[shortErr(fmt.Errorf("echo: dial: %w", err))]++
				return
			}
			conns = append(conns, c)
		}()
	}
	wg.Wait()
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	res.Connected = len(conns)
	res.Failed = cfg.Conns - len(conns)
	if res.Connected == 0 {
		for e, n := range errs {
			res.Errors = append(res.Errors, fmt.Sprintf("%dx %s", n, e))
		}
		return nil, fmt.Errorf("echo: no connection: %s", strings.Join(res.Errors, "; "))
	}
	sleepCtx(ctx, cfg.Settle)
	connected, err := sampleProcs(cfg.ServerPIDs)
	if err != nil {
		return nil, err
	}
	res.RSSConnectedKiB = connected.RSSKiB
	res.ServerProcs = connected.Procs
	if res.Connected > 0 && len(cfg.ServerPIDs) > 0 {
		res.RSSPerConnKiB = connected.rssPerConnKiB(idle, int64(res.Connected))
	}

	var hist histogram
	var trips, unexpected atomic.Uint64
	before, err := sampleProcs(cfg.ServerPIDs)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(cfg.Progress, "echoing over %d connections for %s\n", len(conns), cfg.Duration)
	clientBefore := selfCPU()
	start := time.Now()
	end := start.Add(cfg.Duration)
	runCtx, cancel := context.WithDeadline(ctx, end.Add(10*time.Second))
	defer cancel()
	for _, c := range conns {
		wg.Add(1)
		go func(c *websocket.Conn) {
			defer wg.Done()
			stop := context.AfterFunc(runCtx, func() { c.Close() })
			defer stop()
			err := echoLoop(c, run, cfg.Size, end, &hist, &trips, &unexpected)
			if err != nil && runCtx.Err() == nil {
				mu.Lock()
				errs[shortErr(err)]++
				mu.Unlock()
			}
		}(c)
	}
	wg.Wait()
	elapsed := time.Since(start)
	after, err := sampleProcs(cfg.ServerPIDs)
	if err != nil {
		return nil, err
	}
	res.WindowSec = elapsed.Seconds()
	res.RoundTrips = trips.Load()
	res.Unexpected = unexpected.Load()
	res.RoundTripsSec = float64(res.RoundTrips) / elapsed.Seconds()
	res.Latency = hist.summary()
	res.ServerCPUSec = (after.CPU - before.CPU).Seconds()
	res.ClientCPUSec = (selfCPU() - clientBefore).Seconds()
	if res.RoundTrips > 0 && len(cfg.ServerPIDs) > 0 {
		res.CPUPerRoundTripUs = res.ServerCPUSec * 1e6 / float64(res.RoundTrips)
	}
	for e, n := range errs {
		res.Errors = append(res.Errors, fmt.Sprintf("%dx %s", n, e))
	}
	sort.Strings(res.Errors)
	return res, nil
}

// echoLoop sends one message at a time and waits for its echo until end.
func echoLoop(c *websocket.Conn, run string, size int, end time.Time, hist *histogram, trips, unexpected *atomic.Uint64) error {
	out := make([]byte, 0, size+64)
	in := make([]byte, 0, size+64)
	for seq := uint64(1); time.Now().Before(end); seq++ {
		sent := time.Now()
		out = appendPayload(out[:0], run, seq, sent.UnixNano(), size)
		c.SetWriteDeadline(sent.Add(10 * time.Second))
		if err := c.WriteMessage(websocket.TextMessage, out); err != nil {
			return fmt.Errorf("echo: write: %w", err)
		}
		for {
			_, r, err := c.NextReader()
			if err != nil {
				return fmt.Errorf("echo: read: %w", err)
			}
			if in, err = readAllInto(in[:0], r); err != nil {
				return fmt.Errorf("echo: read: %w", err)
			}
			gotRun, gotSeq, _, perr := parsePayload(in)
			if perr == nil && string(gotRun) == run && gotSeq == seq {
				break
			}
			unexpected.Add(1)
		}
		hist.add(time.Since(sent))
		trips.Add(1)
	}
	return nil
}

// EchoServer is a WebSocket echo upstream: every message comes back as it
// went in, on any path. The bench points session routes, pass-through
// routes and nginx's WebSocket proxy at it.
type EchoServer struct {
	ln  net.Listener
	srv *http.Server
	wg  sync.WaitGroup

	mu    sync.Mutex
	conns map[*websocket.Conn]struct{}
}

// StartEchoServer listens on addr ("127.0.0.1:0" picks a port).
func StartEchoServer(addr string) (*EchoServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("echo server: listen: %w", err)
	}
	s := &EchoServer{ln: ln, conns: map[*websocket.Conn]struct{}{}}
	up := websocket.Upgrader{ReadBufferSize: 512, WriteBufferSize: 512,
		WriteBufferPool: &sync.Pool{}, CheckOrigin: func(*http.Request) bool { return true }}
	s.srv = &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		defer func() {
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
			c.Close()
		}()
		var buf []byte
		for {
			typ, r, err := c.NextReader()
			if err != nil {
				return
			}
			if buf, err = readAllInto(buf[:0], r); err != nil {
				return
			}
			c.SetWriteDeadline(time.Now().Add(10 * time.Second))
			if err := c.WriteMessage(typ, buf); err != nil {
				return
			}
		}
	})}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.srv.Serve(ln)
	}()
	return s, nil
}

// Addr is the listening address.
func (s *EchoServer) Addr() string { return s.ln.Addr().String() }

// Close stops listening and closes every connection.
func (s *EchoServer) Close() {
	s.srv.Close()
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}
