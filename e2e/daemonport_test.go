package e2e

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/bridgeway/bridgeway/internal/freeport"
)

// A port taken between the pick and nginx's bind, by a stranger that
// answers HTTP, does not pass for nginx: startDaemon tries a new port and
// the address it returns proxies to the target.
func TestNginxStartSurvivesATakenPort(t *testing.T) {
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "from the target")
	}))
	defer target.Close()
	pick, _ := freeport.Busy(t, freeport.AnswerHTTP("200 OK", "from stranger"))
	pickDaemonPort = pick
	defer func() { pickDaemonPort = freeport.Pick }()
	ngx := startNginx(t, target.URL, "")
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Get(ngx.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if !strings.Contains(string(body), "from the target") {
		t.Fatalf("through %s: %d %q; want the target's answer", ngx.URL, resp.StatusCode, body)
	}
}
