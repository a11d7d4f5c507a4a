// Package passthrough is the plain reverse proxy behind routes whose upstream
// kind is http: every request under the route goes to the upstream, SSE and
// other streaming responses unbuffered, WebSocket upgrades through a
// frame-aware tunnel that can be closed with 1001 on shutdown.
//
// # Upstream address
//
// nginx's proxy_pass rule. An upstream URL with no path gets the client
// path unchanged: route /app, upstream http://up, /app/x → /app/x. An
// upstream URL with a path, "/" included, replaces the route prefix:
// upstream http://up/, /app/x → /x, /app → /; upstream http://up/base,
// /app/x → /base/x, /app → /base, /app/ → /base/ (a trailing slash on the
// upstream path is not doubled: http://up/base/ gives /base/x).
// The client path is forwarded in its escaped form, so %2F stays %2F. The
// client query string is appended to the upstream URL's own query.
// Placeholders of the route path ({name}) fill the same names in the
// upstream path (url.PathEscape) and query (url.QueryEscape); they never
// appear in the scheme or host. ws:// and wss:// upstream URLs are accepted
// as http:// and https://. A path holding a "." or ".." segment is refused
// with 400 bad_path (routing.HasDotSegment: escaped or not, "..;" as "..",
// "\" as "/"): the route was matched on the path as sent, and /app/../admin
// must not reach the upstream's /admin.
//
// # Headers
//
// Hop-by-hop headers, and every header named in Connection, are removed in
// both directions. The client's Forwarded and X-Forwarded-* headers are
// dropped; X-Forwarded-For (client IP), X-Forwarded-Host (the Host the
// client asked for) and X-Forwarded-Proto are set by the gateway. The Host
// header is the upstream's host unless upstream.headers sets Host;
// upstream.headers replace client headers of the same name. Only WebSocket
// upgrades are forwarded: any other Upgrade (h2c in particular) is removed
// and the request proceeds as plain HTTP. Accept-Encoding and compressed
// bodies pass through untouched. Upstream proxies from the environment
// (HTTP_PROXY) are never used.
//
// # Errors
//
// Before any response byte reached the client, failures are JSON
// {"error","message"}: connect refused, DNS, TLS or a bad answer → 502
// bad_gateway; no response headers (or WebSocket handshake answer) within
// upstream.timeout, or a connect timeout → 504 gateway_timeout. A client that
// left before the upstream answered is logged with status 499 and is not an
// upstream error; nor is a request body the client broke (bad chunking, cut
// short), which gets 400 bad_request. Once headers are out, a failure aborts the response
// (http.ErrAbortHandler) so the client never mistakes a cut body for a
// complete one. upstream.timeout never limits a long-lived body.
//
// # WebSocket tunnel
//
// The client's upgrade is checked first (GET, Connection: Upgrade, version
// 13, 16-byte key; 405/400/426 otherwise). The gateway then dials the
// upstream (TLS with ALPN http/1.1 for https/wss), forwards the handshake
// with the client's key, subprotocols and extensions, and accepts only a 101
// with Upgrade: websocket, Connection: Upgrade, the right
// Sec-WebSocket-Accept and no subprotocol or extension the client did not
// offer. Anything else is a 502, the client connection is closed after it
// and never becomes a tunnel. Bytes the client pipelines behind its
// handshake wait in the server's buffers until the 101 is validated and are
// then forwarded in order; after a refused upgrade they are dropped.
//
// Both directions are copied as bytes arrive, several frames per write when
// several arrived together, with only frame headers parsed (payloads are
// never unmasked or buffered whole; a declared length above 2^62 or a
// malformed control frame ends the tunnel with close 1002 to the other
// side). On plain TCP an established tunnel waits on the gateway's own
// event loop (loop.go): a few edge-triggered epoll sets, one per P, whose
// goroutines read a ready source until a short read, scan its frames and
// write them to the other socket with raw non-blocking calls. Like nginx, a short read
// whose event had no hang-up flag (EPOLLRDHUP) is taken as drained: one
// read and one write per message and direction, no goroutine woken per
// message. Whatever cannot finish at once (the destination's buffer full,
// a close frame or a broken one, an end of stream, the direction's lock
// held by an injected close) goes back to the direction's own goroutine
// (relay.go), which reads until EAGAIN and then hands the source back;
// grace, close injection and closing take it off the loop for good. TLS
// sources and destinations behind a wrapper that must see each write never
// use the loop. Knowing where frames end is what lets Shutdown put a close
// 1001 between two frames: unmasked to the client, masked to the upstream. After that the gateway
// drops what each peer still sends until that peer's close answer, then
// closes. When one side ends, the end is passed on (TCP half-close) and the
// other side gets five seconds to finish; when both close frames have
// passed, both connections close at once. There is no idle timeout: the
// tunnel lives as long as the two peers keep it. Upstream.timeout bounds the
// whole upstream handshake.
package passthrough
