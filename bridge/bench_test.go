package bridge_test

import (
	"context"
	"fmt"
	"net"
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

// BenchmarkIdleSubscriberMemory holds idle broadcast subscribers open with
// raw TCP clients (which cost the process nothing but a socket) and
// reports the gateway's heap and stack growth per subscriber.
func BenchmarkIdleSubscriberMemory(b *testing.B) {
	for _, transport := range []string{"sse", "stream", "websocket"} {
		b.Run(transport, func(b *testing.B) {
			const subscribers = 1000
			up := newUpstream(b)
			g := newGateway(b, broadcastRoute(up), config.Limits{})
			request := map[string]string{
				"sse":    "GET /prices/ACME/sse HTTP/1.1\r\nHost: x\r\n\r\n",
				"stream": "GET /prices/ACME/stream HTTP/1.1\r\nHost: x\r\n\r\n",
				"websocket": "GET /prices/ACME/ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n" +
					"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
			}[transport]
			// Open the topic first so its upstream is not counted.
			warm, _ := net.Dial("tcp", g.srv.Listener.Addr().String())
			fmt.Fprint(warm, request)
			waitFor(b, "topic", func() bool { return metricValue(b, g, "bridgeway_bridge_clients_connected", transport) == 1 })
			conns := make([]net.Conn, 0, subscribers)
			defer func() {
				for _, c := range conns {
					c.Close()
				}
				warm.Close()
			}()
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			for range subscribers {
				c, err := net.Dial("tcp", g.srv.Listener.Addr().String())
				if err != nil {
					b.Fatal(err)
				}
				fmt.Fprint(c, request)
				conns = append(conns, c)
			}
			waitFor(b, "subscribers", func() bool {
				return metricValue(b, g, "bridgeway_bridge_clients_connected", transport) == subscribers+1
			})
			runtime.GC()
			runtime.ReadMemStats(&after)
			b.ReportMetric(float64(after.HeapInuse-before.HeapInuse)/subscribers, "heap-bytes/sub")
			b.ReportMetric(float64(after.StackInuse-before.StackInuse)/subscribers, "stack-bytes/sub")
		})
	}
}
