package proxy

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/bridgeway/bridgeway/config"
	"github.com/bridgeway/bridgeway/internal/jsonerr"
	"github.com/bridgeway/bridgeway/internal/pebbletest"
)

func TestMain(m *testing.M) {
	// goleak, tolerant only of certmagic's own never-stopped goroutines
	// (the ACME test runs certmagic through proxy/certs).
	pebbletest.VerifyTestMain(m)
}

// testTimeout only keeps a broken test from hanging; nothing asserts on time.
const testTimeout = 20 * time.Second

// parseConfig builds a config from YAML through the real loader.
func parseConfig(t *testing.T, yaml string) *config.Config {
	t.Helper()
	cfg, err := config.Parse("test.yaml", []byte(yaml))
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	return cfg
}

// baseYAML is the start of every test config: loopback listeners on free ports.
const baseYAML = `
listen: "127.0.0.1:0"
admin:
  listen: "127.0.0.1:0"
shutdown_timeout: 5s
`

// fakeBridge is a test double of the BridgeFactory only: bridged routes
// answer 200 "bridged <path>" and count their Close calls.
type fakeBridge struct {
	mu     sync.Mutex
	built  map[string]int
	closed map[string]int
	fail   string // route path whose construction fails
}

func newFakeBridge() *fakeBridge {
	return &fakeBridge{built: map[string]int{}, closed: map[string]int{}}
}

func (f *fakeBridge) factory(route config.Route) (RouteHandler, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if route.Path == f.fail {
		return nil, fmt.Errorf("refused %s", route.Path)
	}
	f.built[route.Path]++
	return &fakeRoute{bridge: f, path: route.Path, url: route.Upstream.URL}, nil
}

func (f *fakeBridge) counts(path string) (built, closed int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.built[path], f.closed[path]
}

type fakeRoute struct {
	bridge *fakeBridge
	path   string
	url    string
}

func (r *fakeRoute) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	_, _ = io.WriteString(w, "bridged "+r.path+" "+r.url)
}

func (r *fakeRoute) Close(context.Context) error {
	r.bridge.mu.Lock()
	defer r.bridge.mu.Unlock()
	r.bridge.closed[r.path]++
	return nil
}

type testServer struct {
	*Server
	bridge   *fakeBridge
	registry *prometheus.Registry
}

// startServer builds and starts a Server; it is shut down at cleanup.
func startServer(t *testing.T, yaml string, deps Deps) *testServer {
	t.Helper()
	s, err := tryStartServer(t, yaml, deps)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	return s
}

// tryStartServer is startServer that returns Start's error (a port the
// config names may be taken).
func tryStartServer(t *testing.T, yaml string, deps Deps) (*testServer, error) {
	t.Helper()
	cfg := parseConfig(t, yaml)
	fb := newFakeBridge()
	if deps.Bridge == nil {
		deps.Bridge = fb.factory
	}
	if deps.Logger == nil {
		deps.Logger = zap.NewNop()
	}
	if deps.Registry == nil {
		deps.Registry = prometheus.NewRegistry()
	}
	s, err := New(cfg, deps)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	if err := s.Start(ctx); err != nil {
		return nil, err
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		_ = s.Shutdown(ctx)
	})
	return &testServer{Server: s, bridge: fb, registry: deps.Registry}, nil
}

// upstream is a real HTTP server behind the gateway: echo, WebSocket echo,
// and a count of the requests it saw.
type upstream struct {
	*httptest.Server
	name     string
	requests atomic.Int64
	release  chan struct{} // /slow waits for it
}

func startUpstream(t *testing.T, name string) *upstream {
	t.Helper()
	u := &upstream{name: name, release: make(chan struct{})}
	upgrader := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.requests.Add(1)
		switch {
		case strings.HasSuffix(r.URL.Path, "/ws"):
			conn, err := upgrader.Upgrade(w, r, nil)
			if err != nil {
				return
			}
			defer conn.Close()
			for {
				kind, data, err := conn.ReadMessage()
				if err != nil {
					return
				}
				if err := conn.WriteMessage(kind, data); err != nil {
					return
				}
			}
		case strings.HasSuffix(r.URL.Path, "/slow"):
			select {
			case <-u.release:
			case <-r.Context().Done():
				return
			}
			_, _ = io.WriteString(w, "slow done")
		default:
			body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]string{
				"upstream": u.name, "path": r.URL.Path, "query": r.URL.RawQuery, "body": string(body),
			})
		}
	}))
	t.Cleanup(func() {
		u.CloseClientConnections()
		u.Close()
	})
	return u
}

type echoReply struct {
	Upstream string `json:"upstream"`
	Path     string `json:"path"`
	Query    string `json:"query"`
	Body     string `json:"body"`
}

// newClient is an HTTP client that does not reuse connections between tests.
func newClient(t *testing.T) *http.Client {
	t.Helper()
	tr := &http.Transport{DisableKeepAlives: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: testTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func get(t *testing.T, c *http.Client, url string) (*http.Response, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: read body: %v", url, err)
	}
	return resp, string(body)
}

// decodeError checks a JSON error body and returns its code.
func decodeError(t *testing.T, body string) string {
	t.Helper()
	var e jsonerr.Body
	if err := json.Unmarshal([]byte(body), &e); err != nil || e.Error == "" || e.Message == "" {
		t.Fatalf("not a JSON error body: %q (%v)", body, err)
	}
	return e.Error
}

// eventually polls cond until it holds; the deadline only prevents hangs.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// route is one routes: entry in block style.
func route(path, url string) string {
	return "  - path: " + path + "\n    upstream:\n      url: \"" + url + "\"\n"
}

func parseConfigB(yaml string) (*config.Config, error) {
	return config.Parse("bench.yaml", []byte(yaml))
}
