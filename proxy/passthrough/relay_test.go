package passthrough

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/bridgeway/bridgeway/config"
)

// frameStream is a run of frames of awkward sizes (every length encoding,
// sizes around the relay's buffer, control frames between them), masked as
// a client sends them or unmasked as a server does.
func frameStream(masked bool, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, 1))
	var out []byte
	sizes := []int{0, 1, 125, 126, 127, 1000, relayBufferSize - 14, relayBufferSize - 1, relayBufferSize,
		relayBufferSize + 3, 65535, 65536, 70000, 3 * relayBufferSize}
	for i, size := range sizes {
		payload := make([]byte, size)
		x := rng.Uint64() | 1
		for j := range payload {
			x ^= x << 13 // xorshift: cheap bytes that differ from frame to frame
			x ^= x >> 7
			x ^= x << 17
			payload[j] = byte(x)
		}
		out = appendFrame(out, 0x82, payload, masked)
		if i%3 == 0 {
			out = appendFrame(out, 0x89, []byte("ping"), masked) // control frame in between
		}
	}
	return out
}

func appendFrame(out []byte, first byte, payload []byte, masked bool) []byte {
	maskBit := byte(0)
	if masked {
		maskBit = 0x80
	}
	switch n := len(payload); {
	case n < 126:
		out = append(out, first, maskBit|byte(n))
	case n <= 0xffff:
		out = append(out, first, maskBit|126)
		out = binary.BigEndian.AppendUint16(out, uint16(n))
	default:
		out = append(out, first, maskBit|127)
		out = binary.BigEndian.AppendUint64(out, uint64(n))
	}
	if masked {
		out = append(out, 9, 8, 7, 6) // the payload is opaque to the tunnel: left as is
	}
	return append(out, payload...)
}

// writeInPieces writes b in pieces of random sizes, so frames and headers
// arrive split anywhere.
func writeInPieces(conn net.Conn, b []byte, seed uint64) error {
	rng := rand.New(rand.NewPCG(seed, 2))
	for len(b) > 0 {
		n := min(len(b), 1+rng.IntN(3000))
		if rng.IntN(4) == 0 {
			n = min(len(b), 1+rng.IntN(3)) // a header cut in the middle
		}
		if _, err := conn.Write(b[:n]); err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

// byteUpstream answers the handshake, then sends down in pieces while
// reading len(want) bytes, which it reports.
func byteUpstream(t *testing.T, down []byte, wantLen int) (url string, got <-chan []byte) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan []byte, 1)
	var wg sync.WaitGroup
	wg.Go(func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(testDeadline))
		br := bufio.NewReader(conn)
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		_, _ = io.WriteString(conn, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
			"Sec-WebSocket-Accept: "+acceptKey(req.Header.Get("Sec-WebSocket-Key"))+"\r\n\r\n")
		var writer sync.WaitGroup
		writer.Go(func() { _ = writeInPieces(conn, down, 3) })
		buf := make([]byte, wantLen)
		n, _ := io.ReadFull(br, buf)
		ch <- buf[:n]
		writer.Wait()
	})
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	return "http://" + ln.Addr().String(), ch
}

// TestRelayPassesBytesVerbatim: frames of every size, split anywhere (a
// header across two reads, a payload across many), come out byte for byte
// as they went in, in both directions at once: read from the socket (plain
// listener) and through the TLS connection's reader (TLS listener).
func TestRelayPassesBytesVerbatim(t *testing.T) {
	for _, useTLS := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain", true: "tls"}[useTLS], func(t *testing.T) {
			up := frameStream(true, 1)
			down := frameStream(false, 2)
			upURL, gotUp := byteUpstream(t, down, len(up))
			conn := dialTunnel(t, route("/ws", upURL), useTLS)
			br := bufio.NewReader(conn)
			res, err := http.ReadResponse(br, nil)
			if err != nil || res.StatusCode != http.StatusSwitchingProtocols {
				t.Fatalf("handshake: %v %v", res, err)
			}
			var writer sync.WaitGroup
			writer.Go(func() { _ = writeInPieces(conn, up, 4) })
			defer writer.Wait()
			gotDown := make([]byte, len(down))
			if _, err := io.ReadFull(br, gotDown); err != nil {
				t.Fatalf("client read: %v", err)
			}
			if !bytes.Equal(gotDown, down) {
				t.Error("upstream to client: bytes differ")
			}
			if got := recv(t, gotUp); !bytes.Equal(got, up) {
				t.Errorf("client to upstream: %d bytes, want %d, bytes differ", len(got), len(up))
			}
		})
	}
}

// dialTunnel serves rt from a gateway (plain or TLS listener), connects and
// sends a WebSocket handshake.
func dialTunnel(t *testing.T, rt config.Route, useTLS bool) net.Conn {
	t.Helper()
	var conn net.Conn
	var err error
	if useTLS {
		h, herr := New(Options{Route: rt, Logger: zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))})
		if herr != nil {
			t.Fatal(herr)
		}
		srv := httptest.NewTLSServer(h)
		t.Cleanup(srv.Close)
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), testDeadline)
			defer cancel()
			_ = h.Shutdown(ctx)
		})
		conn, err = tls.Dial("tcp", hostOf(srv), srv.Client().Transport.(*http.Transport).TLSClientConfig)
	} else {
		gw := newGateway(t, rt, nil)
		conn, err = net.Dial("tcp", hostOf(gw.srv))
	}
	if err != nil {
		t.Fatal(err)
	}
	startHandshake(t, conn)
	return conn
}

// startHandshake sends a WebSocket handshake for /ws on conn, which the
// test's cleanup closes.
func startHandshake(t *testing.T, conn net.Conn) {
	t.Helper()
	t.Cleanup(func() { conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(testDeadline))
	if _, err := io.WriteString(conn, handshake("/ws", "")); err != nil {
		t.Fatal(err)
	}
}

// TestRelayStalledWrite: a client that stops reading makes the gateway's
// write stall (a full socket buffer, or past stallAfter for a wrapper that
// must see every write); the write is finished outside the read callback
// once the client reads again, every byte arrives in order, and a counting
// wrapper saw every byte written to the client.
func TestRelayStalledWrite(t *testing.T) {
	for _, wrap := range []string{"bare", "counted", "opaque"} {
		t.Run(wrap, func(t *testing.T) {
			stalled := make(chan struct{}, 1)
			oldAfter := stallAfter
			stallAfter = 100 * time.Millisecond
			testHookStall = func() { trySend(stalled, struct{}{}) }
			t.Cleanup(func() { stallAfter, testHookStall = oldAfter, nil })

			down := stallStream()
			upURL, gotUp := byteUpstream(t, down, len(maskedFrame("after")))
			gwAddr, written := wrappedGateway(t, route("/ws", upURL), wrap)

			conn, err := net.Dial("tcp", gwAddr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(testDeadline))
			if _, err := io.WriteString(conn, handshake("/ws", "")); err != nil {
				t.Fatal(err)
			}
			cr := &countingReader{r: conn}
			br := bufio.NewReaderSize(cr, 64)
			res, err := http.ReadResponse(br, nil)
			if err != nil || res.StatusCode != http.StatusSwitchingProtocols {
				t.Fatalf("handshake: %v %v", res, err)
			}
			recv(t, stalled) // not reading: the gateway's write to us stalls
			got := make([]byte, len(down))
			if _, err := io.ReadFull(br, got); err != nil {
				t.Fatalf("client read: %v", err)
			}
			if !bytes.Equal(got, down) {
				t.Error("bytes differ after the stall")
			}
			if _, err := conn.Write(maskedFrame("after")); err != nil {
				t.Fatal(err)
			}
			if got := recv(t, gotUp); !bytes.Equal(got, maskedFrame("after")) {
				t.Errorf("client to upstream after the stall: %x", got)
			}
			if wrap != "bare" {
				if n, want := written.Load(), cr.n-int64(br.Buffered()); n != want {
					t.Errorf("wrapper counted %d bytes written, the client read %d", n, want)
				}
			}
		})
	}
}

// stallStream is about 12 MiB of frames: more than socket buffers hold.
var stallStream = sync.OnceValue(func() []byte {
	var down []byte
	for i := range 64 {
		down = append(down, frameStream(false, uint64(10+i))...)
	}
	return down
})

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// opaqueConn is a wrapper like the gateway's own: it exposes the socket
// (NetConn) and counts what is written through it.
type opaqueConn struct {
	net.Conn
	written *atomic.Int64
}

func (c *opaqueConn) NetConn() net.Conn { return c.Conn }

func (c *opaqueConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	c.written.Add(int64(n))
	return n, err
}

// countedConn also counts bytes written past it, straight to the socket.
type countedConn struct{ *opaqueConn }

func (c countedConn) AddWritten(n int64) { c.written.Add(n) }

type wrappingListener struct {
	net.Listener
	wrap    string
	written *atomic.Int64
}

func (l wrappingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil || l.wrap == "bare" {
		return c, err
	}
	oc := &opaqueConn{Conn: c, written: l.written}
	if l.wrap == "counted" {
		return countedConn{oc}, nil
	}
	return oc, nil
}

// wrappedGateway serves rt with every client connection wrapped as wrap
// says ("bare", "counted", "opaque"); written counts bytes written to them.
func wrappedGateway(t *testing.T, rt config.Route, wrap string) (addr string, written *atomic.Int64) {
	t.Helper()
	h, err := New(Options{Route: rt, Logger: zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))})
	if err != nil {
		t.Fatal(err)
	}
	written = new(atomic.Int64)
	srv := httptest.NewUnstartedServer(h)
	srv.Listener = wrappingListener{Listener: srv.Listener, wrap: wrap, written: written}
	srv.Start()
	t.Cleanup(srv.Close)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), testDeadline)
		defer cancel()
		_ = h.Shutdown(ctx)
	})
	return hostOf(srv), written
}

// FuzzParseFrameHeader: parseFrameHeader agrees with readFrameHeader on
// every input, and any prefix of a valid header is errShortHeader.
func FuzzParseFrameHeader(f *testing.F) {
	for _, seed := range [][]byte{
		{0x81, 0}, {0x81, 0x85, 1, 2, 3, 4}, {0x82, 126, 1, 0}, {0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0},
		{0x82, 127, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, {0x88, 0x82, 0, 0, 0, 0, 3, 0xe9}, {0x89, 126, 0, 126},
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var buf [maxFrameHeader]byte
		want, wantErr := readFrameHeader(bytes.NewReader(in), buf[:])
		got, err := parseFrameHeader(in)
		switch {
		case wantErr == nil:
			if err != nil || !bytes.Equal(got.raw, want.raw) || got.length != want.length ||
				got.opcode != want.opcode || got.fin != want.fin || got.masked != want.masked {
				t.Fatalf("parse %+v %v, read %+v", got, err, want)
			}
			for i := range len(want.raw) {
				if _, err := parseFrameHeader(in[:i]); err != errShortHeader {
					t.Fatalf("prefix of %d bytes: %v", i, err)
				}
			}
		case errors.Is(wantErr, errFrame):
			if !errors.Is(err, errFrame) {
				t.Fatalf("read refused with %v, parse gave %v", wantErr, err)
			}
		default: // input ended inside the header
			if err != errShortHeader && !errors.Is(err, errFrame) {
				t.Fatalf("read %v, parse %v", wantErr, err)
			}
		}
	})
}
