package bridge_test

import (
	"context"
	"runtime"
	"strconv"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/bridgeway/bridgeway/config"
)

// BenchmarkDeliver measures upstream → client messages per second through
// one session per transport (test upstream, gateway and client in one
// process on loopback: the numbers are a floor, not a ceiling).
func BenchmarkDeliver(b *testing.B) {
	for _, transport := range []string{"websocket", "sse", "stream", "longpoll"} {
		b.Run(transport, func(b *testing.B) {
			t := b
			up := newUpstream(b)
			route := sessionRoute(up)
			route.Buffer = 4096
			g := newGateway(b, route, config.Limits{})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			flood := "flood " + strconv.Itoa(b.N)
			b.ResetTimer()
			switch transport {
			case "websocket":
				ws, _, err := websocket.DefaultDialer.Dial(g.wsURL("/chat"), nil)
				if err != nil {
					b.Fatal(err)
				}
				defer ws.Close()
				_ = ws.WriteMessage(websocket.TextMessage, []byte(flood))
				for range b.N {
					if _, _, err := ws.ReadMessage(); err != nil {
						b.Fatal(err)
					}
				}
			case "sse":
				s := g.openSSE(t, ctx, "/chat/sse", nil)
				defer s.resp.Body.Close()
				id, _ := s.session(t)
				g.send(t, id, flood)
				for range b.N {
					if _, err := s.p.Next(); err != nil {
						b.Fatal(err)
					}
				}
			case "stream":
				st := g.openStream(t, ctx, "", nil)
				defer st.resp.Body.Close()
				head := st.next(t)
				g.send(t, head.Session, flood)
				for range b.N {
					st.next(t)
				}
			case "longpoll":
				a, _ := g.poll(t, ctx, "", nil)
				g.send(t, a.Session, flood)
				for n := 0; n < b.N; {
					next, _ := g.poll(t, ctx, "?cursor="+a.Cursor, nil)
					n += len(next.Messages)
					a.Cursor = next.Cursor
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}

// BenchmarkIdleSessionMemory opens idle long-poll sessions and reports the
// heap growth per session. It includes the gateway's session, log and
// upstream WebSocket client, but also the in-process test upstream's
// server-side connection (goroutine, buffers), so it over-states the
// gateway's own share.
func BenchmarkIdleSessionMemory(b *testing.B) {
	const sessions = 500
	t := b
	up := newUpstream(b)
	g := newGateway(b, sessionRoute(up), config.Limits{})
	ctx := context.Background()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for range sessions {
		g.poll(t, ctx, "", nil)
	}
	waitFor(t, "upstreams connected", func() bool { open, _, _ := up.stats(); return open == sessions })
	runtime.GC()
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(after.HeapInuse-before.HeapInuse)/sessions, "heap-bytes/session")
	b.ReportMetric(float64(after.StackInuse-before.StackInuse)/sessions, "stack-bytes/session")
}
