package passthrough

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
)

// bodyUpstream reads whole request bodies and answers with their length;
// complete counts the bodies it read to the end, broken the ones cut off.
type bodyUpstream struct {
	srv              *httptest.Server
	complete, broken atomic.Int64
	// stream, when set, answers with this many chunks, pause apart.
	stream int
	pause  time.Duration
}

func newBodyUpstream(t *testing.T) *bodyUpstream {
	u := &bodyUpstream{}
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			u.broken.Add(1)
			return
		}
		u.complete.Add(1)
		if u.stream == 0 {
			fmt.Fprintf(w, "got %d bytes", len(b))
			return
		}
		for i := range u.stream {
			fmt.Fprintf(w, "chunk %d\n", i)
			w.(http.Flusher).Flush()
			time.Sleep(u.pause)
		}
	}))
	t.Cleanup(u.srv.Close)
	return u
}

// bodyServer serves a pass-through route to up whose bodies may idle for
// wait, over HTTP/1.1 (or HTTP/2 with TLS when h2 is set).
func bodyServer(t *testing.T, up *bodyUpstream, wait time.Duration, h2 bool) *httptest.Server {
	h, err := New(Options{
		Route:       route("/up", up.srv.URL),
		Logger:      zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)),
		BodyTimeout: wait,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(h)
	if h2 {
		srv.EnableHTTP2 = true
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), testDeadline)
		defer cancel()
		_ = h.Shutdown(ctx)
	})
	return srv
}

// A body that stops arriving is cut after the idle wait: 408 body_timeout,
// the connection closed, and the upstream never gets a whole body.
func TestStalledRequestBodyCut(t *testing.T) {
	up := newBodyUpstream(t)
	addr := hostOf(bodyServer(t, up, 300*time.Millisecond, false))
	for _, tc := range []struct{ name, head, part string }{
		{"content-length", "Content-Length: 100\r\n", "only ten b"},
		{"chunked", "Transfer-Encoding: chunked\r\n", "a\r\nonly ten b\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(testDeadline))
			fmt.Fprintf(conn, "POST /up/x HTTP/1.1\r\nHost: test\r\n%s\r\n%s", tc.head, tc.part)
			// ... and nothing more.
			br := bufio.NewReader(conn)
			res, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			expectJSONError(t, res, string(body), http.StatusRequestTimeout, "body_timeout")
			if !res.Close {
				t.Errorf("408 without Connection: close")
			}
			if _, err := br.ReadByte(); err == nil {
				t.Errorf("the connection stayed open")
			}
		})
	}
	if n := up.complete.Load(); n != 0 {
		t.Errorf("the upstream read %d whole bodies", n)
	}
}

// The wait is between reads: a body trickling in for several times the
// wait arrives whole, and a response that streams long after the body
// ended is not cut by it either.
func TestSteadyBodyAndLongResponseNotCut(t *testing.T) {
	up := newBodyUpstream(t)
	wait := 2 * time.Second
	addr := hostOf(bodyServer(t, up, wait, false))

	pr, pw := io.Pipe()
	go func() {
		for range 60 { // about 3 s at one byte per 50 ms
			if _, err := pw.Write([]byte("x")); err != nil {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		pw.Close()
	}()
	res, err := http.Post("http://"+addr+"/up/slow", "text/plain", pr)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || string(body) != "got 60 bytes" {
		t.Errorf("trickled body: %d %q", res.StatusCode, body)
	}

	up.stream, up.pause = 3, wait // each chunk comes a whole wait after the last
	res, err = http.Post("http://"+addr+"/up/stream", "text/plain", strings.NewReader("short body"))
	if err != nil {
		t.Fatal(err)
	}
	body, err = io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil || string(body) != "chunk 0\nchunk 1\nchunk 2\n" {
		t.Errorf("streamed answer after the body: %q %v", body, err)
	}
	if n := up.broken.Load(); n != 0 {
		t.Errorf("the upstream saw %d bodies cut", n)
	}
}

// Over HTTP/2 the wait applies to the stream.
func TestStalledRequestBodyCutHTTP2(t *testing.T) {
	up := newBodyUpstream(t)
	srv := bodyServer(t, up, 300*time.Millisecond, true)
	pr, pw := io.Pipe()
	defer pw.Close()
	go pw.Write([]byte("only ten b")) // and nothing more
	req, _ := http.NewRequest("POST", srv.URL+"/up/x", pr)
	req.ContentLength = 100
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.ProtoMajor != 2 {
		t.Fatalf("protocol %s, want HTTP/2", res.Proto)
	}
	expectJSONError(t, res, string(body), http.StatusRequestTimeout, "body_timeout")
	if n := up.complete.Load(); n != 0 {
		t.Errorf("the upstream read %d whole bodies", n)
	}
}
