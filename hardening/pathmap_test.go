package hardening

import (
	"strings"
	"testing"
)

// TestPassthroughPathMapping walks every row of the path-mapping table in
// docs/configuration.md through the gateway: nginx's proxy_pass rule, where
// an upstream URL without a path keeps the client path and one with a path
// ("/" included) replaces the matched route prefix.
func TestPassthroughPathMapping(t *testing.T) {
	app := newHTTPApp(t)
	up := app.srv.URL
	rows := []struct{ route, upstream, request, want string }{
		{"/app", up, "/app/users?q=1", "/app/users?q=1"},
		{"/app", up, "/app", "/app"},
		{"/slash", up + "/", "/slash/users", "/users"},
		{"/slash", up + "/", "/slash", "/"},
		{"/slash", up + "/", "/slash/", "/"},
		{"/app", up + "/base", "/app/users", "/base/users"},
		{"/app", up + "/base", "/app", "/base"},
		{"/app", up + "/base", "/app/", "/base/"},
		{"/app", up + "/base/", "/app/users", "/base/users"},
		{"/app", up + "/base/", "/app", "/base/"},
		{"/", up, "/users", "/users"},
		{"/", up + "/v1", "/users", "/v1/users"},
		{"/t/{id}", up + "/items/{id}", "/t/7/x", "/items/7/x"},
		{"/app", up + "/base?k=v", "/app/users?q=1", "/base/users?k=v&q=1"},
		{"/app", up + "/", "/app/a%2Fb", "/a%2Fb"},
		{"/app", up, "/app/a%2Fb%20c", "/app/a%2Fb%20c"},
		{"/a/b", up + "/c", "/a/b/d", "/c/d"},
		{"/p/{s}", up + "/q/{s}?s={s}", "/p/AAPL/live?x=1", "/q/AAPL/live?s=AAPL&x=1"},
		{"/p/{s}", up + "/q/{s}?s={s}", "/p/A%20B%2FC", "/q/A%20B%2FC?s=A+B%2FC"},
		{"/p/{s}", up + "/q?s={s}", "/p/a&b=c", "/q?s=a%26b%3Dc"},
		{"/p/{s}", up, "/p/X/y?z", "/p/X/y?z"},
	}
	for _, row := range rows {
		t.Run(row.route+" "+strings.TrimPrefix(row.upstream, up)+" "+row.request, func(t *testing.T) {
			g := startGateway(t, "routes:\n  - path: "+row.route+"\n    upstream: {url: \""+row.upstream+"\", kind: http}\n")
			app.forget()
			res, _ := g.rawExchange(t, "GET "+row.request+" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
			if res == nil || res.StatusCode != 200 {
				t.Fatalf("answer %v", res)
			}
			seen := app.seen()
			if len(seen) != 1 || seen[0].uri != row.want {
				t.Errorf("upstream saw %v, want %s", seen, row.want)
			}
		})
	}
}
