package loadgen

import (
	"context"
	"crypto/sha1"
	"encoding/base64"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// Floor is the least a broadcast server can do per delivery: it takes each
// message from the same upstream a bridgeway broadcast route reads, frames
// it once for SSE (a chunk holding "id: … data: …") and once for WebSocket
// (one unmasked text frame), and writes those bytes to every subscriber
// socket in turn from one goroutine: no log, no cursor, no queue, no
// heartbeat, no per-subscriber goroutine. bench/compare.sh measures
// bridgeway's CPU per delivery as a ratio to it. Subscribers use
// bridgeway's paths: GET .../sse and a WebSocket upgrade on .../ws.
type Floor struct {
	upstream string
	svc      *httpService

	mu   sync.Mutex
	sse  []net.Conn
	ws   []net.Conn
	stop context.CancelFunc
	wg   sync.WaitGroup
}

// StartFloor listens on addr and reads messages from the WebSocket
// upstream URL (reconnecting every 100 ms while it is down) until Close.
func StartFloor(addr, upstream string) (*Floor, error) {
	f := &Floor{upstream: upstream}
	svc, err := startHTTPService("floor", addr, http.HandlerFunc(f.serve))
	if err != nil {
		return nil, err
	}
	ctx, stop := context.WithCancel(context.Background())
	f.svc, f.stop = svc, stop
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		f.pump(ctx)
	}()
	return f, nil
}

// Addr is the address subscribers connect to.
func (f *Floor) Addr() string { return f.svc.addr() }

// Close stops the pump and the listener and closes every subscriber.
func (f *Floor) Close() {
	f.stop()
	f.svc.close()
	f.wg.Wait()
	f.mu.Lock()
	for _, c := range append(f.sse, f.ws...) {
		c.Close()
	}
	f.sse, f.ws = nil, nil
	f.mu.Unlock()
}

const floorSSEHead = "HTTP/1.1 200 OK\r\nCache-Control: no-store, no-transform\r\n" +
	"Content-Type: text/event-stream; charset=utf-8\r\nX-Accel-Buffering: no\r\n" +
	"Transfer-Encoding: chunked\r\n\r\n"

func (f *Floor) serve(w http.ResponseWriter, r *http.Request) {
	isWS := r.Header.Get("Upgrade") != ""
	var head string
	if isWS {
		key := r.Header.Get("Sec-WebSocket-Key")
		if key == "" {
			http.Error(w, "no Sec-WebSocket-Key", http.StatusBadRequest)
			return
		}
		sum := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
		head = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
			"Sec-WebSocket-Accept: " + base64.StdEncoding.EncodeToString(sum[:]) + "\r\n\r\n"
	} else {
		head = floorSSEHead + chunk("retry: 2000\n\n")
	}
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	if _, err := conn.Write([]byte(head)); err != nil {
		conn.Close()
		return
	}
	f.mu.Lock()
	if isWS {
		f.ws = append(f.ws, conn)
	} else {
		f.sse = append(f.sse, conn)
	}
	f.mu.Unlock()
}

func chunk(s string) string { return strconv.FormatInt(int64(len(s)), 16) + "\r\n" + s + "\r\n" }

// pump reads the upstream and writes every message to every subscriber.
func (f *Floor) pump(ctx context.Context) {
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	for ctx.Err() == nil {
		c, _, err := d.DialContext(ctx, f.upstream, nil)
		if err != nil {
			sleepCtx(ctx, 100*time.Millisecond)
			continue
		}
		stop := context.AfterFunc(ctx, func() { c.Close() })
		var seq uint64
		var sse, ws []byte
		for {
			_, msg, err := c.ReadMessage()
			if err != nil {
				break
			}
			seq++
			sse = appendSSEChunk(sse[:0], seq, msg)
			ws = appendWSText(ws[:0], msg)
			f.writeAll(sse, ws)
		}
		stop()
		c.Close()
	}
}

func appendSSEChunk(dst []byte, seq uint64, msg []byte) []byte {
	// "id: floor-N\ndata: MSG\n\n", as bridgeway frames a one-line message.
	n := len("id: floor-\ndata: \n\n") + len(strconv.FormatUint(seq, 10)) + len(msg)
	dst = strconv.AppendInt(dst, int64(n), 16)
	dst = append(dst, "\r\nid: floor-"...)
	dst = strconv.AppendUint(dst, seq, 10)
	dst = append(dst, "\ndata: "...)
	dst = append(dst, msg...)
	return append(dst, "\n\n\r\n"...)
}

func appendWSText(dst, msg []byte) []byte {
	switch n := len(msg); {
	case n < 126:
		dst = append(dst, 0x81, byte(n))
	case n <= 0xffff:
		dst = append(dst, 0x81, 126, byte(n>>8), byte(n))
	default:
		dst = append(dst, 0x81, 127, 0, 0, 0, 0, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	return append(dst, msg...)
}

// writeAll writes to every subscriber in turn; a failed one is dropped.
func (f *Floor) writeAll(sse, ws []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sse = writeEach(f.sse, sse)
	f.ws = writeEach(f.ws, ws)
}

func writeEach(conns []net.Conn, b []byte) []net.Conn {
	kept := conns[:0]
	for _, c := range conns {
		if _, err := c.Write(b); err != nil {
			c.Close()
			continue
		}
		kept = append(kept, c)
	}
	clear(conns[len(kept):])
	return kept
}
