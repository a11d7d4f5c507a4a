package e2e

import (
	"net/http"
	"strings"
)

// testPage loads the library the way an application page does and records
// everything the connection reports in window.S. With ?bare=1 the page first
// removes WebSocket and EventSource, like a browser that has neither.
const testPage = `<!doctype html>
<html><head><meta charset="utf-8"><title>bridgeway e2e</title>
BARE
<script src="/_bridgeway/client.js"></script>
<script>
var S = null;
function bwOpen(url, opts) {
  var s = S = {opens: [], msgs: [], gaps: [], errors: [], closes: []};
  var c = s.c = bridgeway.connect(url, opts);
  c.onopen = function (i) { s.opens.push({transport: i.transport, session: i.session, resumed: i.resumed}); };
  c.onmessage = function (m) { s.msgs.push(m); };
  c.ongap = function (g) { s.gaps.push(g); };
  c.onerror = function (e) { s.errors.push(e.message || e.type); };
  c.onclose = function (e) { s.closes.push({code: e.code, reason: e.reason}); };
  return true;
}
// datas lists the data of received messages that start with prefix.
function datas(prefix) {
  return S.msgs.filter(function (m) { return m.data.indexOf(prefix) === 0; }).map(function (m) { return m.data; });
}
function summary() {
  return {transport: S.c.transport, opens: S.opens, count: S.msgs.length, last: S.msgs.slice(-3),
    gaps: S.gaps, errors: S.errors, closes: S.closes};
}
</script>
</head><body><p>bridgeway e2e</p></body></html>
`

const bareScript = `<script>
delete window.WebSocket; delete window.EventSource;
window.WebSocket = undefined; window.EventSource = undefined;
</script>`

func servePage(w http.ResponseWriter, r *http.Request) {
	page := strings.Replace(testPage, "BARE", "", 1)
	if r.URL.Query().Get("bare") == "1" {
		page = strings.Replace(testPage, "BARE", bareScript, 1)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte(page))
}
