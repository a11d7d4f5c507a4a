package upstream

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/bridgeway/bridgeway/bridge/msg"
	"github.com/bridgeway/bridgeway/config"
	"github.com/bridgeway/bridgeway/demo"
)

// TestAdaptersAgainstDemoUpstreams runs every adapter against the built-in
// demo upstreams, as `bridgeway demo` does (one tick per second).
func TestAdaptersAgainstDemoUpstreams(t *testing.T) {
	ups, err := demo.Start(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ups.Close() })

	for _, tc := range []struct {
		kind, url string
	}{
		{config.KindWebSocket, ups.EchoURL()},
		{config.KindSSE, ups.SSEURL()},
		{config.KindPoll, ups.JSONURL()},
		{config.KindLongPoll, ups.LongPollURL()},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			t.Parallel()
			opts := testOptions(t, tc.kind, tc.url)
			opts.Reconnect = true
			conn := dial(t, opts)
			sink := newRecSink()
			startRun(t, conn, sink)
			got := sink.waitMessages(t, 2)
			for _, m := range got[:2] {
				var v struct {
					N    int    `json:"n"`
					Time string `json:"time"`
				}
				if err := json.Unmarshal(m.Data, &v); err != nil || v.N == 0 || v.Time == "" {
					t.Errorf("message %q is not a demo tick", m.Data)
				}
			}
			if tc.kind == config.KindSSE && got[0].UpstreamID == "" {
				t.Error("SSE message without its upstream id")
			}
			if tc.kind == config.KindWebSocket {
				if err := conn.Send(t.Context(), msg.Message{Data: []byte("echo me")}); err != nil {
					t.Fatal(err)
				}
				sink.waitUntil(t, "the echo", func() bool {
					for _, m := range sink.messages() {
						if strings.Contains(string(m.Data), "echo me") {
							return true
						}
					}
					return false
				})
			}
		})
	}
}
