package reenter

import (
	"context"
	"net/http"
	"time"
)

// Again is what a server offers a handler that reads the client's next
// request on a connection it hijacked and serves it without the server
// (the bridge's parked long-polls, for a plain next poll only; anything
// else goes back through the way of WithFunc, untouched).
type Again struct {
	// HeaderTimeout bounds the wait for the next request, as the server
	// bounds it on a connection it just took (limits.read_header_timeout).
	HeaderTimeout time.Duration
	// Open reports whether the server still takes requests (false once it
	// drains): the handler then gives the connection back instead.
	Open func() bool
	// Route returns the handler the server would give a request for path
	// to now (nil: none): a reload may have replaced the handler that
	// hijacked the connection.
	Route func(path string) http.Handler
	// Resolve gives a request read that way what the server's own
	// handler adds before routing it (the client's address and host behind
	// trusted proxies).
	Resolve func(r *http.Request) *http.Request
	// Served records a request served that way as the server records its
	// own (request metrics and the access-log line); r is as Resolve
	// returned it, start is when its bytes were read.
	Served func(r *http.Request, status int, bytes int64, start time.Time)
	// Logging reports whether the access log is on: when it is off,
	// Counted records a request without one being built.
	Logging func() bool
	// Counted records a request for path served that way in the request
	// metrics only (no access-log line).
	Counted func(path string, status int, start time.Time)
}

type againKey struct{}

// WithAgain returns ctx carrying a.
func WithAgain(ctx context.Context, a *Again) context.Context {
	return context.WithValue(ctx, againKey{}, a)
}

// AgainFrom returns the Again stored by WithAgain, or nil (the handler
// must then give every connection back).
func AgainFrom(ctx context.Context) *Again {
	a, _ := ctx.Value(againKey{}).(*Again)
	return a
}
