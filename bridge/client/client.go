// Package client serves the browser client library, client.js, at
// /_bridgeway/client.js. The script is plain ES5 embedded in the binary, so
// the gateway needs no files next to it and the library always matches the
// gateway's wire format.
package client

import (
	"bytes"
	"crypto/sha256"
	_ "embed" // client.js
	"encoding/base64"
	"net/http"
	"time"

	"github.com/bridgeway/bridgeway/internal/jsonerr"
)

//go:embed client.js
var script []byte

// Path is where the gateway serves the library.
const Path = "/_bridgeway/client.js"

// etag names this build's script; it changes whenever client.js does.
var etag = func() string {
	sum := sha256.Sum256(script)
	return `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`
}()

// cacheControl lets browsers and proxies reuse the script for a few minutes
// and then revalidate with the ETag, so a gateway upgrade reaches pages soon.
const cacheControl = "public, max-age=300"

// Script returns the library's source (a copy).
func Script() []byte { return bytes.Clone(script) }

// ETag returns the strong entity tag the handler sends.
func ETag() string { return etag }

// Handler serves client.js for GET and HEAD with its content type, an ETag
// (If-None-Match gives 304) and Cache-Control; other methods get 405.
func Handler() http.Handler {
	return http.HandlerFunc(serve)
}

func serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		jsonerr.Write(w, http.StatusMethodNotAllowed, "method_not_allowed", "client.js is served for GET and HEAD only")
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/javascript; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", cacheControl)
	h.Set("ETag", etag)
	// ServeContent answers If-None-Match with 304 and handles HEAD and Range.
	http.ServeContent(w, r, "client.js", time.Time{}, bytes.NewReader(script))
}
