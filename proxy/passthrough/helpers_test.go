package passthrough

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/bridgeway/bridgeway/config"
	"github.com/bridgeway/bridgeway/internal/jsonerr"
)

// testDeadline only keeps a broken test from hanging; no test asserts on
// how long anything took.
const testDeadline = 20 * time.Second

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// errorKinds records OnUpstreamError calls.
type errorKinds struct {
	mu    sync.Mutex
	kinds []string
}

func (e *errorKinds) add(kind string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.kinds = append(e.kinds, kind)
}

func (e *errorKinds) list() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.kinds...)
}

type gateway struct {
	h      *Handler
	srv    *httptest.Server
	errors *errorKinds
}

// newGateway mounts a Handler for route in a real HTTP server. Cleanup shuts
// the handler down (ending tunnels) before the server closes.
func newGateway(t testing.TB, route config.Route, tlsConfig *tls.Config) *gateway {
	t.Helper()
	kinds := &errorKinds{}
	h, err := newHandler(Options{
		Route:           route,
		Logger:          zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)),
		OnUpstreamError: kinds.add,
	}, tlsConfig)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), testDeadline)
		defer cancel()
		if err := h.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return &gateway{h: h, srv: srv, errors: kinds}
}

func route(path, upstream string) config.Route {
	return config.Route{Path: path, Upstream: config.Upstream{URL: upstream, Kind: config.KindHTTP}}
}

// rawRequest sends req bytes on a fresh connection and reads one response.
func rawRequest(t testing.TB, addr, req string) (*http.Response, string) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(testDeadline))
	if _, err := io.WriteString(conn, req); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, string(body)
}

// expectJSONError checks status and the {"error": code} body.
func expectJSONError(t *testing.T, res *http.Response, body string, status int, code string) {
	t.Helper()
	if res.StatusCode != status {
		t.Fatalf("status %d, want %d (body %q)", res.StatusCode, status, body)
	}
	if ct := res.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	var e jsonerr.Body
	if err := json.Unmarshal([]byte(body), &e); err != nil {
		t.Fatalf("body %q: %v", body, err)
	}
	if e.Error != code || e.Message == "" {
		t.Errorf("error body %+v, want code %q", e, code)
	}
}

func hostOf(srv *httptest.Server) string {
	return strings.TrimPrefix(strings.TrimPrefix(srv.URL, "http://"), "https://")
}

// eventually polls cond until it holds or the test deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(testDeadline)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// recv takes one value from ch, failing the test instead of hanging.
func recv[T any](t testing.TB, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(testDeadline):
		t.Fatal("timed out waiting for a value")
		panic("unreachable")
	}
}
