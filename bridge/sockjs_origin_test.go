package bridge_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/bridgeway/bridgeway/config"
)

// TestSockJSAnyOriginIsCredentialedButAnonymous: under origins ["*"] a
// SockJS route names the page's origin and allows credentials (sockjs-client
// sends its cross-origin XHRs with credentials, and a browser refuses to show
// them an "Access-Control-Allow-Origin: *" answer), yet stays anonymous: the
// visitor's Cookie and Authorization reach neither the upstream nor the
// preflight's allowed headers.
func TestSockJSAnyOriginIsCredentialedButAnonymous(t *testing.T) {
	up := newUpstream(t)
	route := sockjsRoute("/echo", up.url("/echo"))
	route.Origins = []string{"*"}
	route.Upstream.ForwardHeaders = []string{"Cookie", "Authorization"}
	s := newSockJS(t, route, config.Limits{})
	page := "http://any-page.example"

	resp := start(t, "OPTIONS", s.base+"/000/"+newSID()+"/xhr_streaming", "",
		hdr("Origin", page, "Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "content-type, cookie, authorization"))
	resp.Body.Close()
	checkCORS(t, "preflight", resp, page)
	if allow := strings.ToLower(resp.Header.Get("Access-Control-Allow-Headers")); allow != "content-type" {
		t.Fatalf("preflight allows headers %q, want only content-type", allow)
	}

	url := s.base + "/000/" + newSID() + "/xhr"
	resp = exchange(t, "open", "POST", url, "", hdr("Origin", page, "Cookie", "secret=1", "Authorization", "Bearer x"), http.StatusOK, "o\n")
	checkCORS(t, "xhr", resp, page)
	waitFor(t, "upstream dialled", func() bool { _, opened, _ := up.stats(); return opened == 1 })
	up.mu.Lock()
	h := up.headers
	up.mu.Unlock()
	if h.Get("Cookie") != "" || h.Get("Authorization") != "" {
		t.Fatalf("the upstream saw the visitor's credentials under \"*\": %v", h)
	}
}
