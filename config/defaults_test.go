package config

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// pretendFDLimit makes the loader see n as the process's open-file limit.
func pretendFDLimit(t *testing.T, n uint64) {
	t.Cleanup(func() { fdLimit = readFDLimit })
	fdLimit = func() uint64 { return n }
}

func TestDefaultsFilledIn(t *testing.T) {
	pretendFDLimit(t, 1<<20)
	c, err := parseWithEnv("min.yaml", []byte("routes:\n  - path: /chat\n    upstream: {url: \"ws://127.0.0.1:9001/chat\"}\n  - path: /app\n    upstream: {url: \"http://127.0.0.1:9002\"}\n  - path: /poll\n    upstream: {url: \"http://127.0.0.1:9003\", kind: poll}\n"), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	check := func(name string, got, want any) {
		t.Helper()
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	check("path", c.Path, "min.yaml")
	check("listen", c.Listen, ":8080")
	check("admin.listen", *c.Admin.Listen, "127.0.0.1:9090")
	check("tls", c.TLS, (*TLS)(nil))
	check("cluster", c.Cluster, (*Cluster)(nil))
	check("log.level", c.Log.Level, "info")
	check("log.format", c.Log.Format, "json")
	check("log.access", *c.Log.Access, true)
	check("max_connections", c.Limits.MaxConnections, 20000)
	check("max_connections_per_ip", c.Limits.MaxConnectionsPerIP, 256)
	check("max_sessions_per_ip", c.Limits.MaxSessionsPerIP, 128)
	check("max_topics", c.Limits.MaxTopics, 1000)
	check("max_topics_per_ip", c.Limits.MaxTopicsPerIP, 100)
	check("max_batch_messages", c.Limits.MaxBatchMessages, 100)
	check("read_header_timeout", c.Limits.ReadHeaderTimeout.D(), 10*time.Second)
	check("body_timeout", c.Limits.BodyTimeout.D(), 60*time.Second)
	check("send_timeout", c.Limits.SendTimeout.D(), 60*time.Second)
	check("max_header_bytes", c.Limits.MaxHeaderBytes, Size(65536))
	check("max_message_bytes", c.Limits.MaxMessageBytes, Size(1<<20))
	check("max_body_bytes", c.Limits.MaxBodyBytes, Size(1<<20))
	check("send_timeout", c.Limits.SendTimeout.D(), 60*time.Second)
	check("http2_max_resets", c.Limits.HTTP2MaxResets, 200)
	check("shutdown_timeout", c.ShutdownTimeout.D(), 15*time.Second)

	r := c.Routes[0]
	check("kind", r.Upstream.Kind, KindWebSocket)
	check("mode", r.Mode, ModeSession)
	check("transports", r.Transports, []string{"websocket", "sse", "longpoll", "poll", "stream", "jsonp"})
	check("buffer", r.Buffer, 1024)
	check("session_ttl", r.SessionTTL.D(), 30*time.Second)
	check("heartbeat", r.Heartbeat.D(), 15*time.Second)
	check("poll_timeout", r.PollTimeout.D(), 25*time.Second)
	check("idle_close", r.IdleClose.D(), 30*time.Second)
	check("snapshot", *r.Snapshot, true)
	check("client_send", r.ClientSend, false)
	check("slow_client", r.SlowClient, SlowDropOldest)
	check("sse_padding", r.SSEPadding, Size(0))
	check("poll_max_bytes", r.PollMaxBytes, Size(64<<10))
	check("interval (not a poller)", r.Upstream.Interval.D(), time.Duration(0))
	check("timeout", r.Upstream.Timeout.D(), 30*time.Second)
	check("reconnect.min", r.Upstream.Reconnect.Min.D(), 500*time.Millisecond)
	check("reconnect.max", r.Upstream.Reconnect.Max.D(), 30*time.Second)
	check("split", r.Upstream.Split, SplitNone)
	check("serves sse", r.Serves(TransportSSE), true)

	p := c.Routes[1]
	check("pass-through kind", p.Upstream.Kind, KindHTTP)
	check("pass-through transports", p.Transports, []string(nil))
	check("pass-through", p.PassThrough(), true)
	check("poll interval", c.Routes[2].Upstream.Interval.D(), 2*time.Second)
}

func TestTLSDefaults(t *testing.T) {
	c, err := parseWithEnv("tls.yaml", []byte(`
tls:
  acme: {domains: [app.example.com]}
admin: {listen: ""}
routes: [{path: /, upstream: {url: "http://127.0.0.1:1"}}]
`), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if c.TLS.Listen != ":8443" || !*c.TLS.RedirectHTTP {
		t.Errorf("tls = %+v", *c.TLS)
	}
	if c.TLS.ACME.CA != DefaultACMECA || c.TLS.ACME.Storage != "./data/certs" {
		t.Errorf("acme = %+v", *c.TLS.ACME)
	}
	if *c.Admin.Listen != "" || c.AdminListen() != "" {
		t.Errorf("explicit empty admin.listen must stay empty (off), got %q", *c.Admin.Listen)
	}
}

func noEnv(string) (string, bool) { return "", false }

// TestMaxConnectionsFitsTheFDLimit: by default client connections take at
// most half the process's descriptors, so the upstream sockets they cause
// always have room; an explicit value above that loads with a warning.
func TestMaxConnectionsFitsTheFDLimit(t *testing.T) {
	const routes = "routes:\n  - path: /chat\n    upstream: {url: \"ws://127.0.0.1:9001/chat\"}\n"
	for _, tc := range []struct {
		fds  uint64
		want int
	}{{1024, 512}, {20000, 10000}, {40000, 20000}, {1 << 40, 20000}, {0, 20000}} {
		pretendFDLimit(t, tc.fds)
		c, err := parseWithEnv("gw.yaml", []byte(routes), noEnv)
		if err != nil {
			t.Fatal(err)
		}
		if c.Limits.MaxConnections != tc.want || len(c.Warnings) != 0 {
			t.Errorf("fd limit %d: max_connections %d (warnings %v), want %d", tc.fds, c.Limits.MaxConnections, c.Warnings, tc.want)
		}
	}

	pretendFDLimit(t, 1024)
	c, err := parseWithEnv("gw.yaml", []byte("limits: {max_connections: 1000}\n"+routes), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	want := "gw.yaml:1:27: warning: limits.max_connections: 1000 is more than half the process's open-file limit (1024"
	if c.Limits.MaxConnections != 1000 || len(c.Warnings) != 1 || !strings.HasPrefix(c.Warnings[0].Error(), want) {
		t.Errorf("explicit 1000 under 1024 fds: %d, warnings %v; want 1000 and %q", c.Limits.MaxConnections, c.Warnings, want)
	}
	c, err = parseWithEnv("gw.yaml", []byte("limits: {max_connections: 512}\n"+routes), noEnv)
	if err != nil || len(c.Warnings) != 0 {
		t.Errorf("explicit 512 under 1024 fds: %v, warnings %v", err, c.Warnings)
	}
}
