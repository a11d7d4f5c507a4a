// Package demo runs the built-in demo upstreams that `bridgeway demo` puts
// the gateway in front of: a WebSocket chat/echo server with a ticker, a
// resumable SSE feed, and a JSON document that changes every second (served
// for polling and for long-polling). They listen on a random loopback port.
package demo

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"go.uber.org/zap"
)

// Paths served by the demo upstreams.
const (
	ChatPath     = "/chat"      // WebSocket: each message goes to every client of the same path
	EchoPath     = "/echo"      // WebSocket: each message comes back to its sender
	EventsPath   = "/events"    // SSE feed, one event per tick, resumable with Last-Event-ID
	TimePath     = "/time.json" // JSON that changes every tick, with ETag / Last-Modified
	LongPollPath = "/time/wait" // the same JSON, held until it changes (If-None-Match)
)

// Upstreams are the running demo servers.
type Upstreams struct {
	base   string // http://127.0.0.1:PORT
	server *http.Server
	log    *zap.Logger

	clock *clock
	chat  *chatServer
	feed  *eventFeed

	done     chan struct{} // closed by Close: handlers and goroutines end
	stopped  chan struct{} // closed when Close has finished
	mu       sync.Mutex
	closed   bool
	handlers sync.WaitGroup // running handlers (WebSocket ones outlive server.Close)
	workers  sync.WaitGroup // clock and writer goroutines
	stopCtx  func() bool
}

// Start starts the demo upstreams on loopback; they stop when ctx ends or
// Close is called. Ticks come every second.
func Start(ctx context.Context, logger *zap.Logger) (*Upstreams, error) {
	return start(ctx, logger, time.Second)
}

func start(ctx context.Context, logger *zap.Logger, tick time.Duration) (*Upstreams, error) {
	if logger == nil {
		logger = zap.NewNop()
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("demo: listen: %w", err)
	}
	u := &Upstreams{
		base:    "http://" + ln.Addr().String(),
		log:     logger.Named("demo"),
		done:    make(chan struct{}),
		stopped: make(chan struct{}),
	}
	u.clock = newClock(tick)
	u.chat = newChatServer(u.log.Named("ws"), u.done, &u.workers)
	u.feed = &eventFeed{clock: u.clock, done: u.done}

	mux := http.NewServeMux()
	mux.HandleFunc("GET "+ChatPath+"/", u.chat.serveChat)
	mux.HandleFunc("GET "+ChatPath, u.chat.serveChat)
	mux.HandleFunc("GET "+EchoPath, u.chat.serveEcho)
	mux.HandleFunc("GET "+EventsPath, u.feed.serve)
	mux.HandleFunc("GET "+TimePath, u.serveTime)
	mux.HandleFunc("GET "+LongPollPath, u.serveTimeWait)
	u.server = &http.Server{
		Handler:           u.track(mux),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          zap.NewStdLog(u.log),
	}

	u.workers.Go(func() { u.clock.run(u.done, u.chat.tick) })
	u.workers.Go(func() {
		if err := u.server.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			u.log.Error("demo server stopped", zap.Error(err))
		}
	})
	u.mu.Lock() // Close, run by AfterFunc, must see stopCtx set
	u.stopCtx = context.AfterFunc(ctx, func() { u.Close() })
	u.mu.Unlock()
	u.log.Info("demo upstreams started", zap.String("base", u.base))
	return u, nil
}

// track counts running handlers so Close can wait for them, and refuses new
// requests once closing.
func (u *Upstreams) track(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		if u.closed {
			u.mu.Unlock()
			http.Error(w, "demo upstreams are shutting down", http.StatusServiceUnavailable)
			return
		}
		u.handlers.Add(1)
		u.mu.Unlock()
		defer u.handlers.Done()
		next.ServeHTTP(w, r)
	})
}

// BaseURL is http://127.0.0.1:PORT.
func (u *Upstreams) BaseURL() string { return u.base }

// Addr is the 127.0.0.1:PORT the demo upstreams listen on.
func (u *Upstreams) Addr() string { return u.base[len("http://"):] }

// ChatURL is the WebSocket chat room (ws://.../chat); /chat/NAME are other rooms.
func (u *Upstreams) ChatURL() string { return "ws" + u.base[len("http"):] + ChatPath }

// EchoURL is the WebSocket echo server (ws://.../echo).
func (u *Upstreams) EchoURL() string { return "ws" + u.base[len("http"):] + EchoPath }

// SSEURL is the SSE feed.
func (u *Upstreams) SSEURL() string { return u.base + EventsPath }

// JSONURL is the JSON document for interval polling.
func (u *Upstreams) JSONURL() string { return u.base + TimePath }

// LongPollURL is the JSON document for long-polling.
func (u *Upstreams) LongPollURL() string { return u.base + LongPollPath }

// Close stops everything and waits for every goroutine it started.
// Idempotent; every caller waits until the shutdown is complete.
func (u *Upstreams) Close() error {
	u.mu.Lock()
	if u.closed {
		u.mu.Unlock()
		<-u.stopped
		return nil
	}
	u.closed = true
	stopCtx := u.stopCtx
	u.mu.Unlock()
	defer close(u.stopped)
	stopCtx()
	close(u.done)
	err := u.server.Close()
	u.chat.closeAll()
	u.handlers.Wait()
	u.workers.Wait()
	return err
}
