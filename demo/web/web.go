// Package web serves the demo page of `bridgeway demo`: one page that shows
// each demo feed live over every client transport side by side, using the
// browser library at /_bridgeway/client.js. The page reads its list of feeds
// from /_demo/routes.json (see RoutesJSON) and has a built-in default.
package web

import (
	"bytes"
	"crypto/sha256"
	_ "embed" // index.html
	"encoding/base64"
	"encoding/json"
	"net/http"
	"time"
)

//go:embed index.html
var page []byte

// RoutesPath is where the page looks for its list of feeds.
const RoutesPath = "/_demo/routes.json"

// Route describes one feed on the demo page.
type Route struct {
	// Path is the bridged route's path, as a client uses it ("/chat").
	Path string `json:"path"`
	// Title is shown next to the path.
	Title string `json:"title,omitempty"`
	// Mode is "session" or "broadcast" (shown only).
	Mode string `json:"mode,omitempty"`
	// Send shows a send box for the feed (chat-like upstreams).
	Send bool `json:"send,omitempty"`
	// Transports the route serves; empty means all six.
	Transports []string `json:"transports,omitempty"`
	// SockJS marks a route that speaks the SockJS protocol instead of
	// bridgeway's: the page reads it with a SockJS frame reader of its own
	// over the route's WebSocket endpoint (it ships no sockjs-client).
	SockJS bool `json:"sockjs,omitempty"`
}

var etag = func() string {
	sum := sha256.Sum256(page)
	return `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`
}()

// Handler serves the demo page for GET and HEAD at any path it is mounted on
// (mount it at "/" exactly, e.g. mux.Handle("GET /{$}", web.Handler())).
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writeJSON(w, http.StatusMethodNotAllowed, map[string]string{
				"error": "method_not_allowed", "message": "the demo page is served for GET and HEAD only"})
			return
		}
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", "no-cache")
		h.Set("ETag", etag)
		http.ServeContent(w, r, "index.html", time.Time{}, bytes.NewReader(page))
	})
}

// RoutesHandler serves the list of feeds as RoutesPath expects it:
// {"routes":[{"path":"/chat","title":"...","mode":"session","send":true}]}.
func RoutesHandler(routes []Route) http.Handler {
	body, err := json.Marshal(struct {
		Routes []Route `json:"routes"`
	}{routes})
	if err != nil { // Route holds only strings, bools and slices of strings
		panic("web: encode routes: " + err.Error())
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-cache")
		_, _ = w.Write(body)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
