package e2e

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/bridgeway/bridgeway/internal/freeport"
)

// A port taken between the pick and nginx's bind, by a stranger that
// answers HTTP, does not pass for nginx: startDaemon tries a new port and
// the address it returns proxies to the target.
func TestNginxStartSurvivesATakenPort(t *testing.T) {
	target := targetBehindTakenPort(t)
	ngx := startNginx(t, target, "")
	expectTarget(t, &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}, ngx.URL+"/", "nginx")
}

// The same for squid: a forward proxy started on a taken port moves to a
// new one, and requests through the address it returns reach the target.
func TestSquidStartSurvivesATakenPort(t *testing.T) {
	target := targetBehindTakenPort(t)
	sq := startSquid(t, "")
	proxyURL, err := url.Parse("http://" + sq.addr)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(proxyURL), DisableKeepAlives: true}}
	expectTarget(t, client, target+"/", "squid at "+sq.addr)
}

// targetBehindTakenPort starts the target a proxy is put in front of and
// makes the proxy's first port one a stranger answering HTTP holds.
func targetBehindTakenPort(t *testing.T) string {
	t.Helper()
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "from the target")
	}))
	t.Cleanup(target.Close)
	pick, _ := freeport.Busy(t, freeport.AnswerHTTP("200 OK", "from stranger"))
	pickDaemonPort = pick
	t.Cleanup(func() { pickDaemonPort = freeport.Pick })
	return target.URL
}

// expectTarget gets url with client and wants the target's answer.
func expectTarget(t *testing.T, client *http.Client, url, through string) {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if !strings.Contains(string(body), "from the target") {
		t.Fatalf("through %s: %d %q; want the target's answer", through, resp.StatusCode, body)
	}
}
