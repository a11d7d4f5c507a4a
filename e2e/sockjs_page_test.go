package e2e

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bridgeway/bridgeway/internal/testdeps"
)

// npmDir is where .ci/run installs the npm packages the SockJS tests load
// (an ignored folder: bridgeway ships no third-party script).
const npmDir = "testdata/npm/node_modules"

// npmScripts are the browser bundles the page server serves, by its path.
var npmScripts = map[string]string{
	"/sockjs.min.js":     "sockjs-client/dist/sockjs.min.js",
	"/stomp.umd.min.js":  "@stomp/stompjs/bundles/stomp.umd.min.js",
	"/sockjs.min.js.map": "sockjs-client/dist/sockjs.min.js.map",
}

// sockjsPage is the test page: sockjs-client (and stompjs) from the page's
// own origin, and a few functions the tests call through chromedp. S
// records what the SockJS object reported, in order.
const sockjsPage = `<!doctype html><meta charset="utf-8"><title>sockjs-client</title>
<script src="/sockjs.min.js"></script>
<script src="/stomp.umd.min.js"></script>
<script>
var S, sock;
function sjOpen(url, options) {
  S = {opens: 0, transport: null, msgs: [], closes: []};
  sock = new SockJS(url, null, options || {});
  sock.onopen = function () { S.opens++; S.transport = sock.transport; };
  sock.onmessage = function (e) { S.msgs.push(e.data); };
  sock.onclose = function (e) { S.closes.push([e.code, e.reason]); };
  return true;
}
function sjSendMany(prefix, n) {
  for (var i = 1; i <= n; i++) sock.send(prefix + i);
  return true;
}
function sjWith(prefix) {
  return S.msgs.filter(function (m) { return m.indexOf(prefix) === 0; });
}
// STOMP over SockJS (@stomp/stompjs): T records what the client saw.
var T, stomp;
function stompOpen(url, transport, dest) {
  T = {connected: false, version: null, got: [], errors: [], closes: []};
  stomp = new StompJs.Client({
    webSocketFactory: function () { return new SockJS(url, null, {transports: [transport]}); },
    connectHeaders: {login: "guest", passcode: "guest", host: "/"},
    reconnectDelay: 0, heartbeatIncoming: 0, heartbeatOutgoing: 0,
    onConnect: function (frame) {
      T.connected = true;
      T.version = frame.headers.version;
      stomp.subscribe(dest, function (m) { T.got.push(m.body); });
    },
    onStompError: function (frame) { T.errors.push(frame.headers.message || frame.body); },
    onWebSocketClose: function (e) { T.closes.push(e.code); }
  });
  stomp.activate();
  return true;
}
function stompSendMany(dest, prefix, n) {
  for (var i = 1; i <= n; i++) stomp.publish({destination: dest, body: prefix + i});
  return true;
}
function sjSummary() {
  return {opens: S.opens, transport: S.transport, readyState: sock && sock.readyState,
    n: S.msgs.length, first: S.msgs.slice(0, 3), last: S.msgs.slice(-3), closes: S.closes};
}
</script>`

// sockjsPageFile writes the test page, with sockjs-client beside it, to a
// folder and returns its file:// URL: a page whose Origin is "null", as
// when someone opens a saved HTML file.
func sockjsPageFile(t *testing.T) string {
	t.Helper()
	requireNPMScripts(t)
	dir := t.TempDir()
	abs, err := filepath.Abs(filepath.Join(npmDir, npmScripts["/sockjs.min.js"]))
	if err != nil {
		t.Fatal(err)
	}
	page := strings.Replace(sockjsPage, `<script src="/stomp.umd.min.js"></script>`, "", 1)
	page = strings.Replace(page, `src="/sockjs.min.js"`, `src="sockjs.min.js"`, 1)
	script, err := os.ReadFile(abs)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "sockjs.min.js"), script, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "index.html"), []byte(page), 0o644); err != nil {
		t.Fatal(err)
	}
	return "file://" + filepath.Join(dir, "index.html")
}

// requireNPMScripts skips the test (fails under BRIDGEWAY_REQUIRE_DEPS=1)
// when the npm packages are not installed.
func requireNPMScripts(t *testing.T) {
	t.Helper()
	for _, rel := range npmScripts {
		if _, err := os.Stat(filepath.Join(npmDir, rel)); err != nil {
			testdeps.Missing(t, "npm packages for the SockJS tests not installed in e2e/"+npmDir+
				" (run: npm install --prefix e2e/testdata/npm sockjs-client@1.6.1 @stomp/stompjs@7.5.0; .ci/run does)")
		}
	}
}

// newSockJSPageServer serves the test page and the npm bundles on an origin
// of its own (not the gateway's): every SockJS request is cross-origin. It
// skips the test when the npm packages are not installed.
func newSockJSPageServer(t *testing.T) *httptest.Server {
	t.Helper()
	requireNPMScripts(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rel, ok := npmScripts[r.URL.Path]; ok {
			http.ServeFile(w, r, filepath.Join(npmDir, rel))
			return
		}
		if r.URL.Path == "/favicon.ico" {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(sockjsPage))
	}))
	t.Cleanup(srv.Close)
	return srv
}
