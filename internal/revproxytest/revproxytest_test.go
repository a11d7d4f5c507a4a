package revproxytest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/bridgeway/bridgeway/internal/freeport"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// A port taken between the pick and the proxy's bind, by a stranger that
// answers HTTP, does not pass for the proxy: a new port is tried and the
// address returned reaches the gateway behind it.
func TestStartSurvivesATakenPort(t *testing.T) {
	gateway := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "from the gateway")
	}))
	defer gateway.Close()
	for name, start := range map[string]func(testing.TB, Options) string{"nginx": Nginx, "haproxy": HAProxy} {
		t.Run(name, func(t *testing.T) {
			pick, _ := freeport.Busy(t, freeport.AnswerHTTP("200 OK", "from stranger"))
			pickPort = pick
			defer func() { pickPort = freeport.Pick }()
			addr := start(t, Options{ListenIP: "127.0.0.1", Gateway: strings.TrimPrefix(gateway.URL, "http://")})
			client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
			resp, err := client.Get("http://" + addr + "/")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if string(body) != "from the gateway" {
				t.Fatalf("through %s: %d %q; want the gateway's answer", addr, resp.StatusCode, body)
			}
		})
	}
}
