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
