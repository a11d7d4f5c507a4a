package hardening

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/bridgeway/bridgeway/bridge"
	"github.com/bridgeway/bridgeway/bridge/client"
	"github.com/bridgeway/bridgeway/cluster"
	"github.com/bridgeway/bridgeway/config"
	"github.com/bridgeway/bridgeway/proxy"
)

// gateway is the complete bridgeway assembled in-process exactly as
// cmd/bridgeway's runGateway and bridgeWiring do it: config.Parse, a
// registry, bridge.New + NewRoute as the BridgeFactory, client.js, then
// proxy.New and Start, on 127.0.0.1:0 with the admin listener on.
type gateway struct {
	t     testing.TB
	srv   *proxy.Server
	cfg   *config.Config
	addr  string // plain listener host:port
	admin string // admin listener host:port
	URL   string // http://addr
	// stopped is set by stop so Cleanup does not shut down twice.
	stopped bool
}

// gatewayYAML fills the listeners in: tests write limits and routes only.
const gatewayHead = "listen: 127.0.0.1:0\nadmin: {listen: 127.0.0.1:0}\nlog: {access: false}\n"

// oneMachineLoad lifts the per-address caps for load tests whose thousands
// of clients all come from 127.0.0.1, as a load test from one machine must.
const oneMachineLoad = "limits: {max_connections_per_ip: 0, max_sessions_per_ip: 0}\n"

// startGateway parses yamlText (listeners are added) and starts the gateway.
// BRIDGEWAY_HARDENING_LOG=1 shows its logs.
func startGateway(t testing.TB, yamlText string) *gateway {
	t.Helper()
	cfg, err := config.Parse("hardening.yaml", []byte(gatewayHead+yamlText))
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	return startGatewayConfig(t, cfg)
}

func parseConfig(t testing.TB, yamlText string) *config.Config {
	t.Helper()
	cfg, err := config.Parse("hardening.yaml", []byte(gatewayHead+yamlText))
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	return cfg
}

func startGatewayConfig(t testing.TB, cfg *config.Config) *gateway {
	return startGatewayLogged(t, cfg, nil)
}

// startGatewayLogged is startGatewayConfig with a given logger (nil: none,
// or the test log with BRIDGEWAY_HARDENING_LOG=1).
func startGatewayLogged(t testing.TB, cfg *config.Config, logger *zap.Logger) *gateway {
	t.Helper()
	if logger == nil {
		logger = zap.NewNop()
	}
	if os.Getenv("BRIDGEWAY_HARDENING_LOG") == "1" {
		logger = zaptest.NewLogger(t, zaptest.Level(zap.InfoLevel))
	}
	reg := prometheus.NewRegistry()
	// As cmd/bridgeway/cluster_wiring.go and bridge_wiring.go.
	var cl *cluster.Client
	if cfg.Cluster != nil {
		cluster.RedirectRedisLogs(logger)
		var err error
		cl, err = cluster.New(cluster.Options{URL: cfg.Cluster.Redis, InstanceID: t.Name(), Logger: logger, Registry: reg})
		if err != nil {
			t.Fatalf("cluster: %v", err)
		}
		t.Cleanup(func() { _ = cl.Close() }) // runs after the gateway's stop below
	}
	b := bridge.New(bridge.Deps{Logger: logger, Registry: reg, Limits: cfg.Limits, Cluster: cl})
	factory := func(route config.Route) (proxy.RouteHandler, error) {
		h, err := b.NewRoute(route)
		if err != nil {
			return nil, err
		}
		return h, nil
	}
	srv, err := proxy.New(cfg, proxy.Deps{Logger: logger, Registry: reg, Bridge: factory, ClientJS: client.Handler()})
	if err != nil {
		t.Fatalf("proxy.New: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := srv.Start(ctx); err != nil {
		_ = srv.Shutdown(context.Background())
		t.Fatalf("start: %v", err)
	}
	g := &gateway{t: t, srv: srv, cfg: cfg, addr: srv.Addr(), admin: srv.AdminAddr()}
	g.URL = "http://" + g.addr
	t.Cleanup(func() {
		if !g.stopped {
			_ = g.stop()
		}
	})
	return g
}

// stop drains the gateway (bounded by shutdown_timeout).
func (g *gateway) stop() error {
	g.stopped = true
	return g.srv.Shutdown(context.Background())
}

// metric scrapes the admin /metrics and returns the sum of the samples of
// name whose labels contain every "key=\"value\"" pair in labels.
func (g *gateway) metric(name string, labels ...string) float64 {
	g.t.Helper()
	res, err := httpClient.Get("http://" + g.admin + "/metrics")
	if err != nil {
		g.t.Fatalf("scrape: %v", err)
	}
	defer res.Body.Close()
	sum := 0.0
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name) {
			continue
		}
		rest := line[len(name):]
		if rest == "" || (rest[0] != '{' && rest[0] != ' ') {
			continue
		}
		ok := true
		for _, l := range labels {
			if !strings.Contains(rest, l) {
				ok = false
				break
			}
		}
		if !ok {
			continue
		}
		f := strings.Fields(rest[strings.LastIndexByte(rest, '}')+1:])
		if len(f) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err == nil {
			sum += v
		}
	}
	return sum
}

// eventually polls cond every 20ms until it holds or the generous deadline
// passes (a hang guard, not a timing assertion).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	eventuallyWithin(t, 30*time.Second, what, cond)
}

// eventuallyWithin is eventually for a wait the gateway itself makes long
// (its write deadline, its close grace): limit only guards against a hang.
func eventuallyWithin(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// rawConn dials the gateway's plain listener.
func (g *gateway) rawConn(t *testing.T) net.Conn {
	t.Helper()
	c := g.dialWith(t, net.Dialer{})
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	return c
}

// dialWith dials the gateway's plain listener with d (5 s to connect),
// closed when the test ends.
func (g *gateway) dialWith(t *testing.T, d net.Dialer) net.Conn {
	t.Helper()
	d.Timeout = 5 * time.Second
	c, err := d.Dial("tcp", g.addr)
	if err != nil {
		t.Fatalf("dial gateway: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// rawExchange writes req on a fresh connection and reads the first
// response (nil when the connection closed without one), its body, and,
// when the answer says Connection: close, everything that followed until
// the server closed the connection.
func (g *gateway) rawExchange(t *testing.T, req string) (*http.Response, string) {
	t.Helper()
	return exchangeOn(t, g.rawConn(t), req)
}

// exchangeOn is rawExchange on a given connection (a TLS one, say).
func exchangeOn(t *testing.T, c net.Conn, req string) (*http.Response, string) {
	t.Helper()
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatalf("write: %v", err)
	}
	br := bufio.NewReader(c)
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		return nil, ""
	}
	body, _ := io.ReadAll(res.Body)
	res.Body = io.NopCloser(strings.NewReader(string(body)))
	if !res.Close {
		return res, string(body)
	}
	// The server said it closes: everything after the answer must be nothing.
	rest, _ := io.ReadAll(br)
	return res, string(body) + "\x00" + string(rest)
}

// readAllUntilClosed reads c until EOF or an error (reset); it fails on
// the hang-guard deadline only.
func readAllUntilClosed(t *testing.T, c net.Conn) []byte {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	var out []byte
	buf := make([]byte, 32<<10)
	for {
		n, err := c.Read(buf)
		out = append(out, buf[:n]...)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("the gateway did not close the connection")
			}
			return out
		}
	}
}

// bufConn reads through a bufio.Reader that already holds some of c's bytes.
type bufConn struct {
	net.Conn
	r *bufio.Reader
}

func (b bufConn) Read(p []byte) (int, error) { return b.r.Read(p) }
