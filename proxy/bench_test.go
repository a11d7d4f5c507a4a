package proxy

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.uber.org/zap"
)

// BenchmarkPassThroughGET measures a small GET through the whole gateway
// (limits, wire guard, routing, metrics, access log to a no-op core, the
// pass-through handler) against the same GET sent to the upstream directly.
func BenchmarkPassThroughGET(b *testing.B) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "ok")
	}))
	defer up.Close()
	cfg, err := parseConfigB(baseYAML + "routes:\n" + route("/app", up.URL))
	if err != nil {
		b.Fatal(err)
	}
	s, err := New(cfg, Deps{Logger: zap.NewNop(), Bridge: newFakeBridge().factory})
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Start(b.Context()); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = s.Shutdown(b.Context()) }()

	for _, target := range []struct{ name, url string }{
		{"direct", up.URL + "/app"},
		{"gateway", "http://" + s.Addr() + "/app"},
	} {
		b.Run(target.name, func(b *testing.B) {
			tr := &http.Transport{MaxIdleConnsPerHost: 64}
			defer tr.CloseIdleConnections()
			c := &http.Client{Transport: tr}
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					resp, err := c.Get(target.url)
					if err != nil {
						b.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			})
		})
	}
}

// BenchmarkWireGuardScan is the per-byte cost of the plain listener's
// Content-Length/Transfer-Encoding watch on a typical request head.
func BenchmarkWireGuardScan(b *testing.B) {
	head := []byte("GET /app/items?page=2 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: Mozilla/5.0\r\n" +
		"Accept: */*\r\nCookie: " + strings.Repeat("c", 200) + "\r\nContent-Length: 0\r\n\r\n")
	body := []byte(strings.Repeat(`{"id":12345,"name":"some item","tags":["a","b","c"]},`, 1000))
	for _, tc := range []struct {
		name string
		data []byte
	}{{"head", head}, {"json-body", body}} {
		b.Run(tc.name, func(b *testing.B) {
			var g wireGuard
			b.SetBytes(int64(len(tc.data)))
			for b.Loop() {
				g.scan(tc.data)
			}
		})
	}
}
