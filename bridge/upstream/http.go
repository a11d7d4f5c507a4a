package upstream

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/bridgeway/bridgeway/bridge/msg"
)

// httpBase is what the HTTP upstream kinds (sse, longpoll, poll) share: an
// own transport (so Close can drop its idle connections and no goroutine
// outlives the Conn), request building, and the push-only half of Conn.
type httpBase struct {
	s         *settings
	cnt       counters
	transport *http.Transport
	client    *http.Client

	closed    context.Context // done once Close was called
	closeFunc context.CancelFunc
}

func newHTTPBase(s *settings) *httpBase {
	transport := &http.Transport{
		// Upstreams come from the config only; no environment proxy.
		Proxy: nil,
		DialContext: (&net.Dialer{
			Timeout:   s.timeout,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		ForceAttemptHTTP2:   true,
		MaxIdleConns:        4,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: s.timeout,
	}
	closed, closeFunc := context.WithCancel(context.Background())
	return &httpBase{
		s:         s,
		cnt:       s.metrics.forRoute(s.routePath, s.kind),
		transport: transport,
		client:    &http.Client{Transport: transport, CheckRedirect: checkRedirect},
		closed:    closed,
		closeFunc: closeFunc,
	}
}

func (b *httpBase) Subprotocol() string { return "" }

// Send always fails: sse, longpoll and poll upstreams only push.
func (b *httpBase) Send(context.Context, msg.Message) error { return ErrSendUnsupported }

func (b *httpBase) stopping(runCtx context.Context) bool {
	return b.closed.Err() != nil || runCtx.Err() != nil
}

// newRequest builds a GET for the upstream URL with Options.Header.
func (b *httpBase) newRequest(ctx context.Context) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.s.url.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("upstream: build request: %w", err)
	}
	for k, vs := range b.s.header {
		req.Header[k] = append([]string(nil), vs...)
	}
	if host := req.Header.Get("Host"); host != "" {
		req.Host = host
		req.Header.Del("Host")
	}
	return req, nil
}

// errBodyTooLarge marks a body above MaxMessageBytes; it is skipped.
var errBodyTooLarge = errors.New("upstream: body larger than max_message_bytes")

// fetchResult is one finished poll or long-poll request.
type fetchResult struct {
	status       int
	body         []byte
	etag         string
	lastModified string
	err          error // transport error, timeout or errBodyTooLarge
}

// conditional holds the validators sent as If-None-Match / If-Modified-Since.
type conditional struct {
	etag, lastModified string
}

func (c *conditional) update(r fetchResult) {
	if r.etag != "" {
		c.etag = r.etag
	}
	if r.lastModified != "" {
		c.lastModified = r.lastModified
	}
}

// fetch makes one conditional GET bounded by the upstream timeout and reads
// the whole body (bounded by MaxMessageBytes).
func (b *httpBase) fetch(ctx context.Context, cond conditional) fetchResult {
	ctx, cancel := context.WithTimeout(ctx, b.s.timeout)
	defer cancel()
	req, err := b.newRequest(ctx)
	if err != nil {
		return fetchResult{err: err}
	}
	if cond.etag != "" {
		req.Header.Set("If-None-Match", cond.etag)
	}
	if cond.lastModified != "" {
		req.Header.Set("If-Modified-Since", cond.lastModified)
	}
	resp, err := b.client.Do(req)
	if err != nil {
		return fetchResult{err: fmt.Errorf("upstream: request: %w", err)}
	}
	defer resp.Body.Close()
	r := fetchResult{
		status:       resp.StatusCode,
		etag:         resp.Header.Get("ETag"),
		lastModified: resp.Header.Get("Last-Modified"),
	}
	if resp.StatusCode/100 != 2 || resp.StatusCode == http.StatusNoContent {
		// Drain a little so the connection can be reused.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return r
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, b.s.maxBytes+1))
	switch {
	case err != nil:
		r.err = fmt.Errorf("upstream: read body: %w", err)
	case int64(len(body)) > b.s.maxBytes:
		r.err = errBodyTooLarge
	default:
		r.body = body
	}
	return r
}

// outcome classifies a fetchResult.
type outcome int

const (
	outcomeBody      outcome = iota // 2xx with a body to deliver
	outcomeNothing                  // 204, 304: nothing new
	outcomeSkipped                  // a body we could not take (too large)
	outcomeTransient                // network error, timeout, 5xx, 408, 425, 429: retry
	outcomePermanent                // other 4xx (and odd statuses): ends a session
)

func classify(r fetchResult) outcome {
	switch {
	case errors.Is(r.err, errBodyTooLarge):
		return outcomeSkipped
	case errors.Is(r.err, errRedirectRefused):
		return outcomePermanent
	case r.err != nil:
		return outcomeTransient
	case r.status == http.StatusNoContent || r.status == http.StatusNotModified:
		return outcomeNothing
	case r.status/100 == 2:
		return outcomeBody
	case r.status/100 == 5, r.status == http.StatusRequestTimeout,
		r.status == http.StatusTooEarly, r.status == http.StatusTooManyRequests:
		return outcomeTransient
	default:
		return outcomePermanent
	}
}

func (r fetchResult) describe() string {
	if r.err != nil {
		return r.err.Error()
	}
	return fmt.Sprintf("upstream answered %d %s", r.status, http.StatusText(r.status))
}

func bodyHash(body []byte) [sha256.Size]byte { return sha256.Sum256(body) }
