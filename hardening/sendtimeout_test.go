package hardening

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// floodApp streams a body without end on /flood (until its client is
// gone) and counts the streams that ended; /idle sends a line, waits
// longer than the test's send_timeout, sends another and ends.
type floodApp struct {
	srv            *httptest.Server
	started, ended atomic.Int64
	done           chan struct{}
}

func newFloodApp(t *testing.T, idle time.Duration) *floodApp {
	a := &floodApp{done: make(chan struct{})}
	chunk := []byte(strings.Repeat("x", 32<<10))
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		if strings.HasSuffix(r.URL.Path, "/idle") {
			_, _ = io.WriteString(w, "first\n")
			_ = rc.Flush()
			select {
			case <-time.After(idle):
			case <-a.done:
			}
			_, _ = io.WriteString(w, "second\n")
			return
		}
		a.started.Add(1)
		defer a.ended.Add(1)
		for {
			select {
			case <-a.done:
				return
			default:
			}
			if _, err := w.Write(chunk); err != nil {
				return
			}
			if rc.Flush() != nil {
				return
			}
		}
	}))
	t.Cleanup(func() {
		close(a.done)
		a.srv.CloseClientConnections()
		a.srv.Close()
	})
	return a
}

// TestClientsThatNeverReadAreCut: pass-through clients that never read a
// streaming response are cut after limits.send_timeout without progress,
// and the upstream response is closed (its writes fail), while a client
// that reads keeps its stream, and a response that is idle for longer
// than send_timeout between two writes is not cut.
func TestClientsThatNeverReadAreCut(t *testing.T) {
	const idle = 2500 * time.Millisecond // > send_timeout
	app := newFloodApp(t, idle)
	g := startGateway(t, "limits: {send_timeout: 1s}\n"+passthroughYAML(app.srv.URL))

	reader := g.rawConn(t)
	if _, err := io.WriteString(reader, "GET /app/flood HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	var readBytes atomic.Int64
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		buf := make([]byte, 64<<10)
		for {
			n, err := reader.Read(buf)
			readBytes.Add(int64(n))
			if err != nil {
				return
			}
		}
	}()
	eventually(t, "the reader's stream", func() bool { return app.started.Load() == 1 })

	const nonReaders = 5
	var stuck []net.Conn
	for range nonReaders {
		c := g.rawConn(t)
		if _, err := io.WriteString(c, "GET /app/flood HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		stuck = append(stuck, c)
	}
	eventually(t, "the non-readers' streams", func() bool { return app.started.Load() == 1+nonReaders })
	eventually(t, "the non-readers' upstream responses to be closed", func() bool { return app.ended.Load() == nonReaders })
	for _, c := range stuck {
		readAllUntilClosed(t, c) // what the kernel held, then EOF or reset
	}
	before := readBytes.Load()
	eventually(t, "the reader to keep receiving", func() bool { return readBytes.Load() > before+1<<20 })
	if n := app.ended.Load(); n != nonReaders {
		t.Errorf("%d upstream streams ended, want %d (the reader's goes on)", n, nonReaders)
	}
	_ = reader.Close()
	<-readerDone

	// Silence longer than send_timeout between two writes is not a cut.
	c := g.rawConn(t)
	if _, err := io.WriteString(c, "GET /app/idle HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(res.Body)
	if err != nil || string(body) != "first\nsecond\n" {
		t.Errorf("idle stream: %d bytes %.40q, %v", len(body), body, err)
	}
}

// TestHTTP2ClientThatNeverReadsIsCut: over HTTP/2 a client that opens a
// stream and never grants flow-control credit is cut the same way: after
// send_timeout without progress the upstream response is closed.
func TestHTTP2ClientThatNeverReadsIsCut(t *testing.T) {
	app := newFloodApp(t, 0)
	g := tlsGateway(t, "", "limits: {send_timeout: 1s}\n"+passthroughYAML(app.srv.URL))
	c := dialTLS(t, g, "h2")
	script := newH2Script()
	script.get(1, "/app/flood")
	if _, err := c.Write(script.out.Bytes()); err != nil {
		t.Fatal(err)
	}
	// No WINDOW_UPDATE ever: the gateway can send 64 KiB, then must wait.
	eventually(t, "the stream's upstream response", func() bool { return app.started.Load() == 1 })
	eventually(t, "the upstream response to be closed", func() bool { return app.ended.Load() == 1 })
}
