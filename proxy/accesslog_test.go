package proxy

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

func TestAccessLog(t *testing.T) {
	up := startUpstream(t, "app")
	core, logs := observer.New(zapcore.InfoLevel)
	s := startServer(t, baseYAML+"routes:\n"+route("/app", up.URL), Deps{Logger: zap.New(core)})
	c := newClient(t)

	req, _ := http.NewRequest("GET", "http://"+s.Addr()+"/app/page?x=1&token=hunter2", nil)
	req.Header.Set("Cookie", "sid=cookie-secret-value")
	req.Header.Set("Authorization", "Bearer auth-secret-value")
	req.Header.Set("User-Agent", "access-log-test")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	get(t, c, "http://"+s.Addr()+"/missing")
	tunnel := dialWS(t, "ws://"+s.Addr()+"/app/ws")
	_ = tunnel.Close()

	eventually(t, "three access lines", func() bool {
		return logs.FilterLoggerName("access").Len() >= 3
	})
	lines := logs.FilterLoggerName("access").All()
	byPath := map[string]map[string]any{}
	for _, e := range lines {
		fields := e.ContextMap()
		byPath[fmt.Sprint(fields["path"])] = fields
	}
	page := byPath["/app/page"]
	if page == nil {
		t.Fatalf("no access line for /app/page: %v", lines)
	}
	for key, want := range map[string]any{
		"route": "/app", "method": "GET", "status": int64(200), "kind": "http",
		"user_agent": "access-log-test", "query": "x=1&token=REDACTED",
	} {
		if page[key] != want {
			t.Errorf("access field %s = %v (%T), want %v", key, page[key], page[key], want)
		}
	}
	for _, key := range []string{"bytes", "duration", "remote"} {
		if _, ok := page[key]; !ok {
			t.Errorf("access line lacks %s", key)
		}
	}
	if missing := byPath["/missing"]; missing == nil || missing["status"] != int64(404) || missing["route"] != "none" {
		t.Errorf("404 access line: %v", missing)
	}
	if ws := byPath["/app/ws"]; ws == nil || ws["status"] != int64(101) || ws["kind"] != "websocket" {
		t.Errorf("tunnel access line: %v", ws)
	}
	for _, e := range logs.All() {
		text := fmt.Sprint(e.Message, e.ContextMap())
		for _, secret := range []string{"cookie-secret-value", "auth-secret-value", "hunter2"} {
			if strings.Contains(text, secret) {
				t.Errorf("log line leaks %s: %s", secret, text)
			}
		}
	}
}

func TestAccessLogOff(t *testing.T) {
	up := startUpstream(t, "app")
	core, logs := observer.New(zapcore.InfoLevel)
	s := startServer(t, baseYAML+"log:\n  access: false\nroutes:\n"+route("/app", up.URL), Deps{Logger: zap.New(core)})
	get(t, newClient(t), "http://"+s.Addr()+"/app")
	if n := logs.FilterLoggerName("access").Len(); n != 0 {
		t.Fatalf("%d access lines with log.access false", n)
	}
}

func TestRedactQuery(t *testing.T) {
	for in, want := range map[string]string{
		"":                                     "",
		"a=1&b=2":                              "a=1&b=2",
		"access_token=x&y=2":                   "access_token=REDACTED&y=2",
		"API_KEY=k":                            "API_KEY=REDACTED",
		"flag&password=p":                      "flag&password=REDACTED",
		"session=s1&cursor=c":                  "session=s1&cursor=c",
		"session=iC6qtVcthc1NkB38rVpKJA&seq=3": "session=iC6qtVct...&seq=3",
		"cursor=iC6qtVcthc1NkB38rVpKJA-41&wait=0": "cursor=iC6qtVct...&wait=0",
		"lastEventId=iC6qtVcthc1NkB38rVpKJA-2":    "lastEventId=iC6qtVct...",
		"%74oken=escaped-name":                    "%74oken=REDACTED",
	} {
		if got := redactQuery(in); got != want {
			t.Errorf("redactQuery(%q) = %q, want %q", in, got, want)
		}
	}
}
