package hardening

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
)

// TestSockJSThroughGateway: a SockJS route from a YAML file, through the
// assembled gateway (proxy listener, route table, bridge): /info, a
// session over xhr polling whose send reaches the app and comes back, a
// SockJS WebSocket, and the session's upstream closed after
// disconnect_delay with no receiver.
func TestSockJSThroughGateway(t *testing.T) {
	app := newWSApp(t)
	g := startGateway(t, `routes:
  - path: /sock
    upstream: {url: "`+app.wsURL("/echo")+`"}
    sockjs: {disconnect_delay: 1s}
`)
	post := func(path, body string) (int, string) {
		t.Helper()
		res, err := httpClient.Post(g.URL+path, "text/plain", strings.NewReader(body))
		if err != nil {
			t.Fatalf("POST %s: %v", path, err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	res, err := httpClient.Get(g.URL + "/sock/info")
	if err != nil {
		t.Fatal(err)
	}
	info, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(info), `"websocket":true`) {
		t.Fatalf("info: %d %s", res.StatusCode, info)
	}

	if code, body := post("/sock/000/abc/xhr", ""); code != 200 || body != "o\n" {
		t.Fatalf("open: %d %q", code, body)
	}
	if code, body := post("/sock/000/abc/xhr_send", `["hello"]`); code != http.StatusNoContent {
		t.Fatalf("send: %d %q", code, body)
	}
	if code, body := post("/sock/000/abc/xhr", ""); code != 200 || body != "a[\"hello\"]\n" {
		t.Fatalf("poll: %d %q", code, body)
	}
	if msgs := app.messages(); len(msgs) != 1 || msgs[0] != "hello" {
		t.Fatalf("the app got %q", msgs)
	}

	ws, _, err := websocket.DefaultDialer.Dial("ws://"+g.addr+"/sock/000/def/websocket", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	for _, step := range []struct{ send, want string }{{"", "o"}, {`["hi"]`, `a["hi"]`}} {
		if step.send != "" {
			_ = ws.WriteMessage(websocket.TextMessage, []byte(step.send))
		}
		if _, b, err := ws.ReadMessage(); err != nil || string(b) != step.want {
			t.Fatalf("websocket: %q %v, want %q", b, err, step.want)
		}
	}
	ws.Close()

	eventually(t, "the sessions' upstreams to close", func() bool { return app.open() == 0 })
	if code, _ := post("/sock/000/abc/xhr_send", `["late"]`); code != http.StatusNotFound {
		t.Fatalf("send after disconnect_delay: %d, want 404", code)
	}
}
