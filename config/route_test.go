package config

import "testing"

func TestRouteHelpers(t *testing.T) {
	c, err := parseWithEnv("h.yaml", []byte(`
routes:
  - path: /ticker
    upstream: {url: "ws://127.0.0.1:1/t"}
    mode: broadcast
    transports: [sse, poll]
  - path: /app
    upstream: {url: "HTTPS://127.0.0.1:2"}
`), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	ticker, app := c.Routes[0], c.Routes[1]
	if !ticker.Broadcast() || ticker.PassThrough() || !ticker.Serves(TransportSSE) || ticker.Serves(TransportWebSocket) {
		t.Errorf("ticker helpers wrong: %+v", ticker)
	}
	if app.Broadcast() || !app.PassThrough() || app.Serves(TransportSSE) {
		t.Errorf("app helpers wrong: %+v", app)
	}
	if (&Config{}).AdminListen() != DefaultAdminListen {
		t.Error("a Config built in code gets the default admin address")
	}
}
