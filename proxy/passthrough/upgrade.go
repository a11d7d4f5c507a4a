package passthrough

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/textproto"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/bridgeway/bridgeway/internal/jsonerr"
)

const (
	websocketGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
	// maxHandshakeResponse bounds what the upstream may send before its
	// handshake answer is complete.
	maxHandshakeResponse = 64 << 10
	upstreamReadBuffer   = 4 << 10
)

// errUpgrade is an upstream answer that does not open a WebSocket.
var errUpgrade = errors.New("websocket upgrade refused")

// hopHeaders are the RFC 7230 hop-by-hop headers (as in ReverseProxy).
var hopHeaders = []string{
	"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
}

// serveWebSocket opens a tunnel for a WebSocket upgrade. The client's
// connection is hijacked only after the upstream answered with a valid 101;
// any other answer gets a 502 and the client connection is closed after it.
//
// Bytes a client pipelines after its handshake (a first frame sent before
// the 101) stay in the server's read buffer and the kernel until the
// upstream's 101 is validated; only then are they forwarded, in order, as
// tunnel data. After a refused upgrade they are never forwarded.
func (h *Handler) serveWebSocket(w http.ResponseWriter, r *http.Request, t target) {
	// A refused upgrade ends the client connection: whatever the client
	// sent behind its handshake must never be read as anything.
	if status, code, msg := checkClientUpgrade(r); status != 0 {
		w.Header().Set("Connection", "close")
		if status == http.StatusUpgradeRequired {
			w.Header().Set("Sec-WebSocket-Version", "13")
		}
		if status == http.StatusMethodNotAllowed {
			w.Header().Set("Allow", http.MethodGet)
		}
		jsonerr.Write(w, status, code, msg)
		return
	}
	if h.isClosing() {
		w.Header().Set("Connection", "close")
		jsonerr.Write(w, http.StatusServiceUnavailable, "shutting_down", "the gateway is shutting down")
		return
	}

	ctx, cancel := context.WithTimeout(r.Context(), h.timeout)
	defer cancel()
	up, err := h.dialUpstream(ctx)
	if err != nil {
		w.Header().Set("Connection", "close")
		h.upstreamFailed(w, r, err)
		return
	}
	res, upReader, err := h.upstreamHandshake(ctx, up, r, t)
	if err != nil {
		_ = up.Close()
		w.Header().Set("Connection", "close")
		h.upgradeFailed(w, r, err)
		return
	}

	client, clientRW, err := http.NewResponseController(w).Hijack()
	if err != nil {
		_ = up.Close()
		w.Header().Set("Connection", "close")
		jsonerr.Write(w, http.StatusInternalServerError, "internal_error", "the connection cannot be taken over")
		return
	}
	_ = client.SetDeadline(time.Time{}) // the server may have left read/write deadlines
	tun := newTunnel(h, client, clientRW.Reader, up, upReader)
	tun.toUpstream.frames.extensions = res.Header.Get("Sec-WebSocket-Extensions") != ""
	tun.serve(switchingProtocols(res))
}

// checkClientUpgrade validates the client's half of the handshake (RFC 6455
// section 4.2.1). A zero status means the request is fine.
func checkClientUpgrade(r *http.Request) (status int, code, msg string) {
	switch {
	case r.ProtoMajor != 1:
		return http.StatusBadRequest, "bad_websocket_request", "WebSocket upgrades need HTTP/1.1"
	case r.Method != http.MethodGet:
		return http.StatusMethodNotAllowed, "method_not_allowed", "a WebSocket upgrade must be a GET"
	case !headerHasToken(r.Header, "Connection", "upgrade"):
		return http.StatusBadRequest, "bad_websocket_request", "missing Connection: Upgrade"
	case r.Header.Get("Sec-WebSocket-Version") != "13":
		return http.StatusUpgradeRequired, "unsupported_websocket_version", "Sec-WebSocket-Version must be 13"
	}
	key, err := base64.StdEncoding.DecodeString(r.Header.Get("Sec-WebSocket-Key"))
	if err != nil || len(key) != 16 {
		return http.StatusBadRequest, "bad_websocket_request", "Sec-WebSocket-Key must be 16 bytes in base64"
	}
	return 0, "", ""
}

// dialUpstream connects to the upstream, with TLS (HTTP/1.1 only) for
// https/wss upstreams.
func (h *Handler) dialUpstream(ctx context.Context) (net.Conn, error) {
	addr := h.upstream.host
	if _, _, err := net.SplitHostPort(addr); err != nil {
		if h.upstream.secure {
			addr = net.JoinHostPort(strings.Trim(addr, "[]"), "443")
		} else {
			addr = net.JoinHostPort(strings.Trim(addr, "[]"), "80")
		}
	}
	conn, err := h.dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("dial upstream: %w", err)
	}
	if !h.upstream.secure {
		return conn, nil
	}
	cfg := &tls.Config{}
	if h.tlsConfig != nil {
		cfg = h.tlsConfig.Clone()
	}
	if cfg.ServerName == "" {
		host, _, _ := net.SplitHostPort(addr)
		cfg.ServerName = host
	}
	cfg.NextProtos = []string{"http/1.1"} // the tunnel speaks HTTP/1.1 upgrades only
	tlsConn := tls.Client(conn, cfg)
	if err := tlsConn.HandshakeContext(ctx); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("upstream tls: %w", err)
	}
	return tlsConn, nil
}

// upstreamHandshake sends the upgrade request and validates the answer. The
// returned reader holds any bytes the upstream sent after its 101.
func (h *Handler) upstreamHandshake(ctx context.Context, up net.Conn, r *http.Request, t target) (*http.Response, *bufio.Reader, error) {
	if dl, ok := ctx.Deadline(); ok {
		_ = up.SetDeadline(dl)
	}
	// A client that leaves mid-handshake unblocks the upstream reads at once.
	stop := context.AfterFunc(ctx, func() { _ = up.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	out := r.Clone(ctx)
	out.Body, out.ContentLength, out.TransferEncoding, out.Close, out.RequestURI = nil, 0, nil, false, ""
	removeHopHeaders(out.Header)
	pr := &httputil.ProxyRequest{In: r.WithContext(context.WithValue(r.Context(), targetKey{}, t)), Out: out}
	h.rewrite(pr)
	out = pr.Out
	out.Header.Set("Connection", "Upgrade")
	out.Header.Set("Upgrade", "websocket")
	if _, ok := out.Header["User-Agent"]; !ok {
		out.Header.Set("User-Agent", "") // no Go default User-Agent
	}
	if err := out.Write(up); err != nil {
		return nil, nil, fmt.Errorf("send upgrade request: %w", err)
	}

	limit := &handshakeLimit{r: up, n: maxHandshakeResponse}
	br := bufio.NewReaderSize(limit, upstreamReadBuffer)
	res, err := http.ReadResponse(br, out)
	if err != nil {
		if ctx.Err() != nil && r.Context().Err() == nil {
			err = fmt.Errorf("%w: %w", err, context.DeadlineExceeded)
		}
		return nil, nil, fmt.Errorf("read upgrade response: %w", err)
	}
	if err := validateUpgradeResponse(res, r); err != nil {
		_ = res.Body.Close()
		return nil, nil, err
	}
	limit.n = -1
	_ = up.SetDeadline(time.Time{})
	return res, br, nil
}

// validateUpgradeResponse accepts only a real 101 for this client's key.
func validateUpgradeResponse(res *http.Response, r *http.Request) error {
	switch {
	case res.StatusCode != http.StatusSwitchingProtocols:
		return fmt.Errorf("%w: upstream answered %d", errUpgrade, res.StatusCode)
	case !headerHasToken(res.Header, "Upgrade", "websocket"):
		return fmt.Errorf("%w: 101 without Upgrade: websocket", errUpgrade)
	case !headerHasToken(res.Header, "Connection", "upgrade"):
		return fmt.Errorf("%w: 101 without Connection: Upgrade", errUpgrade)
	case res.Header.Get("Sec-WebSocket-Accept") != acceptKey(r.Header.Get("Sec-WebSocket-Key")):
		return fmt.Errorf("%w: wrong Sec-WebSocket-Accept", errUpgrade)
	}
	if proto := res.Header.Get("Sec-WebSocket-Protocol"); proto != "" && !headerHasToken(r.Header, "Sec-WebSocket-Protocol", proto) {
		return fmt.Errorf("%w: subprotocol %q was not offered", errUpgrade, proto)
	}
	offered := extensionNames(r.Header)
	for name := range extensionNames(res.Header) {
		if !offered[name] {
			return fmt.Errorf("%w: extension %q was not offered", errUpgrade, name)
		}
	}
	return nil
}

// upgradeFailed answers a failed handshake: 504 on timeout, else 502.
func (h *Handler) upgradeFailed(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, errUpgrade) || !isTimeout(err) {
		if r.Context().Err() != nil {
			w.WriteHeader(StatusClientClosed)
			return
		}
		h.reportUpstreamError(KindUpgrade)
		if ce := h.log.Check(zap.WarnLevel, "upstream websocket upgrade failed"); ce != nil {
			ce.Write(zap.String("upstream", h.upstream.host), zap.String("kind", KindUpgrade), zap.Error(err))
		}
		jsonerr.Write(w, http.StatusBadGateway, "bad_gateway", "the upstream did not accept the WebSocket upgrade")
		return
	}
	h.upstreamFailed(w, r, err)
}

func isTimeout(err error) bool {
	var netErr net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &netErr) && netErr.Timeout()
}

// switchingProtocols is the 101 relayed to the client: the upstream's
// end-to-end headers (subprotocol, extensions, cookies) with the upgrade
// headers set by the gateway.
func switchingProtocols(res *http.Response) []byte {
	header := res.Header.Clone()
	removeHopHeaders(header)
	header.Set("Upgrade", "websocket")
	header.Set("Connection", "Upgrade")
	var b bytes.Buffer
	b.WriteString("HTTP/1.1 101 Switching Protocols\r\n")
	_ = header.Write(&b)
	b.WriteString("\r\n")
	return b.Bytes()
}

func acceptKey(key string) string {
	sum := sha1.Sum([]byte(key + websocketGUID))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// removeHopHeaders drops hop-by-hop headers and those named in Connection.
func removeHopHeaders(h http.Header) {
	for _, v := range h["Connection"] {
		for name := range strings.SplitSeq(v, ",") {
			if name = textproto.TrimString(name); name != "" {
				h.Del(name)
			}
		}
	}
	for _, name := range hopHeaders {
		h.Del(name)
	}
}

// headerHasToken reports whether a comma-separated header lists token
// (case-insensitive).
func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h[textproto.CanonicalMIMEHeaderKey(name)] {
		for part := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(textproto.TrimString(part), token) {
				return true
			}
		}
	}
	return false
}

// extensionNames lists the extension names (parameters dropped) of
// Sec-WebSocket-Extensions.
func extensionNames(h http.Header) map[string]bool {
	names := map[string]bool{}
	for _, v := range h["Sec-Websocket-Extensions"] {
		for ext := range strings.SplitSeq(v, ",") {
			name, _, _ := strings.Cut(ext, ";")
			if name = strings.ToLower(textproto.TrimString(name)); name != "" {
				names[name] = true
			}
		}
	}
	return names
}

// handshakeLimit bounds reads until the handshake is done (n < 0: no limit).
// Only the goroutine that owns the reader touches n.
type handshakeLimit struct {
	r io.Reader
	n int64
}

func (l *handshakeLimit) Read(p []byte) (int, error) {
	if l.n < 0 {
		return l.r.Read(p)
	}
	if l.n == 0 {
		return 0, fmt.Errorf("%w: handshake response larger than %d bytes", errUpgrade, maxHandshakeResponse)
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	return n, err
}
