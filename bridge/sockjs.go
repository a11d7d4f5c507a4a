package bridge

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/bridgeway/bridgeway/bridge/wire"
	"github.com/bridgeway/bridgeway/config"
)

// SockJS routes (config routes[].sockjs, docs/sockjs.md): the route's path
// is the SockJS base URL. This file answers the endpoints that need no
// session (greeting, /info, the iframe page) and dispatches the rest.

// serveSockJS answers every request of a SockJS route; rest is the path
// after the base URL.
func (h *RouteHandler) serveSockJS(req *request, rest string) {
	sj := h.route.SockJS
	switch {
	case rest == "":
		h.sockjsGreeting(req)
	case rest == "/info":
		h.sockjsInfo(req)
	case iframePath.MatchString(rest):
		sockjsIframe(req, sj.ClientURL)
	case rest == "/websocket":
		h.sockjsRawWebSocket(req)
	default:
		sid, transport, ok := sockjsSessionPath(rest)
		if !ok {
			writeError(req.w, errNotFound)
			return
		}
		h.sockjsSessionRequest(req, sid, transport)
	}
}

// iframePath is /iframe.html and its versioned forms (/iframe-1.6.1.html).
var iframePath = regexp.MustCompile(`^/iframe[0-9a-z_.-]*\.html$`)

// sockjsSessionPath splits /<server>/<session>/<transport>. server_id is
// for sticky load balancers and ignored; neither part may be empty or hold
// a dot.
func sockjsSessionPath(rest string) (sid, transport string, ok bool) {
	parts := strings.Split(strings.TrimPrefix(rest, "/"), "/")
	if len(parts) != 3 {
		return "", "", false
	}
	for _, p := range parts[:2] {
		if p == "" || strings.Contains(p, ".") {
			return "", "", false
		}
	}
	return parts[1], parts[2], true
}

// sockjsNoCache is the protocol's header for answers that must never be
// cached (they carry session data, some over GET).
const sockjsNoCache = "no-store, no-cache, no-transform, must-revalidate, max-age=0"

// sockjsYear is how long the static answers (iframe page, preflights) may
// be cached.
const sockjsYear = 365 * 24 * time.Hour

func setCacheForever(hdr http.Header) {
	hdr.Set("Cache-Control", "public, max-age="+strconv.Itoa(int(sockjsYear/time.Second)))
	hdr.Set("Expires", time.Now().Add(sockjsYear).UTC().Format(http.TimeFormat))
}

// sockjsMethod answers 405 with Allow and no body, as the protocol wants.
func sockjsMethod(w http.ResponseWriter, allow string) {
	w.Header().Set("Allow", allow)
	w.WriteHeader(http.StatusMethodNotAllowed)
}

// sockjsText is an answer whose text the protocol fixes (sockjs-client
// and its test suite read it), such as 500 "Broken JSON encoding.".
func sockjsText(w http.ResponseWriter, status int, text string) {
	w.Header().Set("Content-Type", "text/plain;charset=UTF-8")
	w.Header().Set("Cache-Control", sockjsNoCache)
	w.WriteHeader(status)
	_, _ = w.Write([]byte(text))
}

func (h *RouteHandler) sockjsGreeting(req *request) {
	if req.r.Method != http.MethodGet && req.r.Method != http.MethodHead {
		sockjsMethod(req.w, "GET, HEAD")
		return
	}
	req.w.Header().Set("Content-Type", "text/plain;charset=UTF-8")
	_, _ = req.w.Write([]byte("Welcome to SockJS!\n"))
}

// sockjsInfo is /info: the server's capabilities, and entropy for clients
// without a good random source.
func (h *RouteHandler) sockjsInfo(req *request) {
	w, r := req.w, req.r
	switch r.Method {
	case http.MethodOptions:
		h.sockjsPreflight(req, "OPTIONS, GET")
		return
	case http.MethodGet:
	default:
		sockjsMethod(w, "OPTIONS, GET")
		return
	}
	if !h.sockjsCORS(req) {
		return
	}
	sj := h.route.SockJS
	var b [4]byte
	_, _ = rand.Read(b[:])
	body := []byte(`{"websocket":`)
	body = strconv.AppendBool(body, config.Bool(sj.WebSocket, true))
	body = append(body, `,"origins":["*:*"],"cookie_needed":`...)
	body = strconv.AppendBool(body, sj.CookieNeeded)
	body = append(body, `,"entropy":`...)
	body = strconv.AppendUint(body, uint64(binary.BigEndian.Uint32(b[:])), 10)
	body = append(body, '}')
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.Header().Set("Cache-Control", sockjsNoCache)
	_, _ = w.Write(body)
}

// sockjsIframe is the page the iframe-based transports load; the same
// bytes for every version in the name, so browsers cache one copy.
func sockjsIframe(req *request, clientURL string) {
	if clientURL == "" {
		writeError(req.w, errNotFound)
		return
	}
	if req.r.Method != http.MethodGet && req.r.Method != http.MethodHead {
		sockjsMethod(req.w, "GET, HEAD")
		return
	}
	page := wire.SockJSIframe(clientURL)
	sum := sha256.Sum256(page)
	etag := `"` + hex.EncodeToString(sum[:8]) + `"`
	hdr := req.w.Header()
	setCacheForever(hdr)
	hdr.Set("ETag", etag)
	if req.r.Header.Get("If-None-Match") == etag {
		req.w.WriteHeader(http.StatusNotModified)
		return
	}
	hdr.Set("Content-Type", "text/html;charset=UTF-8")
	_, _ = req.w.Write(page)
}

// sockjsCORS applies the route's origins to a SockJS request: 403 for a
// refused origin, credentialed CORS otherwise (setSockJSCORS).
func (h *RouteHandler) sockjsCORS(req *request) bool {
	v := h.set().origins.check(req.r)
	if v == originRefused {
		writeError(req.w, errOriginRefused)
		return false
	}
	setSockJSCORS(req.w, req.r, v)
	return true
}

// setSockJSCORS is setCORS, except that for "*" the page's origin is named
// and credentials allowed, as sockjs-node answers: sockjs-client sends every
// cross-origin XHR with credentials, and a browser refuses to show such an
// answer under "Access-Control-Allow-Origin: *", so the XHR transports would
// never work. It stays anonymous: setCORS has dropped the request's Cookie
// and Authorization, so nothing answered (nor the session's binding) depends
// on the visitor's credentials.
func setSockJSCORS(w http.ResponseWriter, r *http.Request, v originVerdict) {
	setCORS(w, r, v)
	if origin := r.Header.Get("Origin"); v == originAnyone && origin != "" {
		w.Header().Set("Access-Control-Allow-Origin", origin)
		w.Header().Set("Access-Control-Allow-Credentials", "true")
	}
}

// sockjsPreflight answers OPTIONS: cacheable for a year as the protocol
// asks; the requested headers are allowed back (sockjs-client sends only
// Content-Type), but never Cookie or Authorization for "*".
func (h *RouteHandler) sockjsPreflight(req *request, methods string) {
	w, r := req.w, req.r
	v := h.set().origins.check(r)
	if v == originRefused {
		writeError(w, errOriginRefused)
		return
	}
	hdr := w.Header()
	setCacheForever(hdr)
	hdr.Set("Access-Control-Max-Age", strconv.Itoa(int(sockjsYear/time.Second)))
	hdr.Set("Access-Control-Allow-Methods", methods)
	if asked := r.Header.Get("Access-Control-Request-Headers"); asked != "" && v != originSame {
		if v == originAnyone {
			asked = withoutCredentialHeaders(asked)
		}
		if asked != "" {
			hdr.Set("Access-Control-Allow-Headers", asked)
		}
	}
	setSockJSCORS(w, r, v)
	w.WriteHeader(http.StatusNoContent)
}

func withoutCredentialHeaders(list string) string {
	var keep []string
	for _, name := range strings.Split(list, ",") {
		name = strings.TrimSpace(name)
		if name != "" && !strings.EqualFold(name, "Cookie") && !strings.EqualFold(name, "Authorization") {
			keep = append(keep, name)
		}
	}
	return strings.Join(keep, ", ")
}
