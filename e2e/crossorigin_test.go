package e2e

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/bridgeway/bridgeway/bridge/client"
)

// TestCrossOrigin loads the page from another origin than the gateway's
// and connects to an absolute URL: JSONP (a script tag, no CORS needed to
// read) and CORS long-poll both receive and send, against a route whose
// origins allow any page.
func TestCrossOrigin(t *testing.T) {
	gw := newGateway(t)
	page := strings.Replace(strings.Replace(testPage, "BARE", "", 1),
		`src="/_bridgeway/client.js"`, `src="`+gw.URL+client.Path+`"`, 1)
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(page))
	}))
	t.Cleanup(other.Close)
	for _, transport := range []string{"jsonp", "longpoll"} {
		t.Run(transport, func(t *testing.T) {
			tab := newTab(t)
			run(t, tab, chromedp.Navigate(other.URL+"/"))
			eval[bool](t, tab, fmt.Sprintf(`bwOpen(%q, {transports: [%q], timeout: 20000})`, gw.URL+"/open", transport))
			waitFor(t, tab, `S.opens.length === 1`, `summary()`)
			exchange(t, tab, 200, 20)
			assertClean(t, tab)
		})
	}
}

// TestCrossSiteJSONPRefused: a page on another site that adds a <script>
// tag for a same-origin-only route's JSONP poll (no Origin header is sent
// for a script tag) gets a refusal, so it cannot read a session.
func TestCrossSiteJSONPRefused(t *testing.T) {
	gw := newGateway(t)
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(`<!doctype html><title>other site</title><script>
var R = {leaked: null, failed: 0, loaded: 0};
function leak(v) { R.leaked = v; }
function probe(url) {
  var s = document.createElement("script");
  s.src = url;
  s.onerror = function () { R.failed++; };
  s.onload = function () { R.loaded++; };
  document.head.appendChild(s);
}
</script>`))
	}))
	t.Cleanup(other.Close)
	tab := newTab(t)
	run(t, tab, chromedp.Navigate(other.URL+"/"))
	// The same page may read the route that allows any origin: the probe
	// itself works, so a refusal below is the origin check.
	eval[bool](t, tab, fmt.Sprintf(`probe(%q), true`, gw.URL+"/open/poll?callback=leak"))
	waitFor(t, tab, `R.loaded === 1 && R.leaked !== null`, `JSON.stringify(R)`)
	eval[bool](t, tab, `R.leaked = null, true`)
	eval[bool](t, tab, fmt.Sprintf(`probe(%q), true`, gw.URL+"/chat/poll?callback=leak"))
	waitFor(t, tab, `R.failed === 1`, `JSON.stringify(R)`)
	if got := eval[string](t, tab, `JSON.stringify(R)`); got != `{"leaked":null,"failed":1,"loaded":1}` {
		t.Fatalf("cross-site JSONP on a same-origin route: %s", got)
	}
}
