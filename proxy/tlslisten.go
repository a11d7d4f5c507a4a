package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/bridgeway/bridgeway/internal/jsonerr"
	"github.com/bridgeway/bridgeway/proxy/certs"
)

// tlsListener does the HTTPS listener's TLS handshakes itself, one
// goroutine per handshake (net/http would spend the same one), so that an
// HTTP/1.1 connection reaches the server as a tlsHTTP1Conn carrying the
// plaintext wire guard the plain listener has (a request with both
// Content-Length and Transfer-Encoding is refused, net/http's canned errors
// become JSON), while HTTP/2 connections stay *tls.Conn for the h2 server.
// The listener owns the handshake goroutines: Close stops them.
type tlsListener struct {
	inner   net.Listener // the limitListener: slots are taken before TLS
	config  *tls.Config
	timeout time.Duration // per handshake, as net/http's (read_header_timeout)
	log     *zap.Logger

	ready     chan net.Conn
	done      chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup

	mu      sync.Mutex
	err     error                 // the inner listener's Accept error
	pending map[net.Conn]struct{} // mid-handshake, closed by Close
}

func newTLSListener(inner net.Listener, config *tls.Config, timeout time.Duration, log *zap.Logger) *tlsListener {
	l := &tlsListener{
		inner: inner, config: config, timeout: timeout, log: log,
		ready: make(chan net.Conn), done: make(chan struct{}), pending: map[net.Conn]struct{}{},
	}
	l.wg.Add(1)
	go l.acceptLoop()
	return l
}

func (l *tlsListener) acceptLoop() {
	defer l.wg.Done()
	var pause time.Duration
	for {
		c, err := l.inner.Accept()
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Temporary() {
				// Out of file descriptors and the like: wait and retry,
				// as net/http's Serve does, instead of closing the listener.
				pause = min(max(2*pause, 5*time.Millisecond), time.Second)
				select {
				case <-time.After(pause):
					continue
				case <-l.done:
					return
				}
			}
			l.mu.Lock()
			l.err = err
			l.mu.Unlock()
			_ = l.Close()
			return
		}
		pause = 0
		l.mu.Lock()
		select {
		case <-l.done:
			l.mu.Unlock()
			_ = c.Close()
			continue
		default:
		}
		l.pending[c] = struct{}{}
		l.wg.Add(1)
		l.mu.Unlock()
		go l.handshake(c)
	}
}

// handshake completes TLS on c and hands the connection to Accept.
func (l *tlsListener) handshake(c net.Conn) {
	defer l.wg.Done()
	tc := tls.Server(c, l.config)
	ctx, cancel := context.WithTimeout(context.Background(), l.timeout)
	err := tc.HandshakeContext(ctx)
	cancel()
	l.mu.Lock()
	delete(l.pending, c)
	l.mu.Unlock()
	if err != nil {
		l.log.Debug("tls handshake failed", zap.String("remote", c.RemoteAddr().String()), zap.Error(err))
		answerPlainHTTP(err)
		_ = c.Close()
		return
	}
	var conn net.Conn = tc
	switch tc.ConnectionState().NegotiatedProtocol {
	case "h2":
	case certs.ACMETLS1Protocol:
		// A TLS-ALPN-01 validation: the handshake was the whole answer.
		_ = tc.Close()
		return
	default:
		conn = &tlsHTTP1Conn{Conn: tc, tc: tc, wire: &wireGuard{}}
	}
	select {
	case l.ready <- conn:
	case <-l.done:
		_ = conn.Close()
	}
}

// plainOnTLS answers a client that spoke plain HTTP to the HTTPS listener,
// as Go's server does, in the gateway's JSON.
var plainOnTLS = jsonerr.Response(400, "bad_request", "this is the HTTPS listener: use https://", "")

// answerPlainHTTP writes plainOnTLS when the handshake failed on a first
// record that reads like an HTTP request.
func answerPlainHTTP(err error) {
	var rhe tls.RecordHeaderError
	if !errors.As(err, &rhe) || rhe.Conn == nil {
		return
	}
	switch string(rhe.RecordHeader[:]) {
	case "GET /", "HEAD ", "POST ", "PUT /", "OPTIO":
		_ = rhe.Conn.SetWriteDeadline(time.Now().Add(time.Second))
		_, _ = rhe.Conn.Write(plainOnTLS)
	}
}

func (l *tlsListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ready:
		return c, nil
	case <-l.done:
		l.mu.Lock()
		defer l.mu.Unlock()
		if l.err != nil {
			return nil, l.err
		}
		return nil, net.ErrClosed
	}
}

// Close stops accepting, cuts pending handshakes and waits for their
// goroutines.
func (l *tlsListener) Close() error {
	var err error
	l.closeOnce.Do(func() {
		l.mu.Lock()
		close(l.done)
		for c := range l.pending {
			_ = c.Close()
		}
		l.mu.Unlock()
		err = l.inner.Close()
	})
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}

// wait returns once the accept loop and every handshake goroutine ended
// (after Close).
func (l *tlsListener) wait() { l.wg.Wait() }

func (l *tlsListener) Addr() net.Addr { return l.inner.Addr() }

// tlsHTTP1Conn is an HTTP/1.1 connection over TLS with the plaintext wire
// guard. net/http sets Request.TLS from ConnectionState. NetConn gives the
// *tls.Conn, so socket fast paths that unwrap connections stop at TLS.
type tlsHTTP1Conn struct {
	net.Conn
	tc   *tls.Conn
	wire *wireGuard
}

func (c *tlsHTTP1Conn) ConnectionState() tls.ConnectionState { return c.tc.ConnectionState() }

func (c *tlsHTTP1Conn) NetConn() net.Conn { return c.tc }

// CloseWrite ends the gateway's side of a hijacked connection (a WebSocket
// tunnel after its closing handshake): TLS close_notify, then a TCP FIN,
// so the client reads EOF at once and the gateway still reads what it
// sends. Without it the tunnel's half-close found nothing to call through
// this wrapper and the client waited for the tunnel's grace to end.
func (c *tlsHTTP1Conn) CloseWrite() error {
	if err := c.tc.CloseWrite(); err != nil {
		return err
	}
	if cw, ok := c.tc.NetConn().(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

func (c *tlsHTTP1Conn) Read(b []byte) (int, error) { return c.wire.read(c.Conn, b) }

// Write swaps net/http's plain-text error answers for JSON ones, as on the
// plain listener.
func (c *tlsHTTP1Conn) Write(b []byte) (int, error) { return c.wire.write(c.Conn, b) }
