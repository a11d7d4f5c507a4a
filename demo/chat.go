package demo

import (
	"encoding/json"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/zap"
)

const (
	chatMaxMessage = 64 << 10
	chatSendQueue  = 64 // frames queued per client; a client that lags further is dropped
	chatWriteWait  = 5 * time.Second
)

// chatServer is the WebSocket demo: on /chat (and /chat/ROOM) every message
// goes to all clients of the same path, sender included; on /echo it comes
// back to its sender only. Every client also gets a JSON tick per clock tick:
// {"type":"tick","n":N,"time":"RFC3339"}.
type chatServer struct {
	log      *zap.Logger
	done     <-chan struct{}
	workers  *sync.WaitGroup
	upgrader websocket.Upgrader

	mu    sync.Mutex
	rooms map[string]map[*chatClient]struct{} // by path; echo clients only get ticks
}

type chatClient struct {
	ws       *websocket.Conn
	send     chan frame
	quit     chan struct{}
	quitOnce sync.Once
}

type frame struct {
	kind int
	data []byte
}

func newChatServer(log *zap.Logger, done <-chan struct{}, workers *sync.WaitGroup) *chatServer {
	return &chatServer{
		log:      log,
		done:     done,
		workers:  workers,
		upgrader: websocket.Upgrader{ReadBufferSize: 1024, WriteBufferSize: 1024},
		rooms:    map[string]map[*chatClient]struct{}{},
	}
}

func (s *chatServer) serveChat(w http.ResponseWriter, r *http.Request) { s.serve(w, r, false) }
func (s *chatServer) serveEcho(w http.ResponseWriter, r *http.Request) { s.serve(w, r, true) }

func (s *chatServer) serve(w http.ResponseWriter, r *http.Request, echo bool) {
	ws, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // Upgrade already answered
	}
	ws.SetReadLimit(chatMaxMessage)
	c := &chatClient{ws: ws, send: make(chan frame, chatSendQueue), quit: make(chan struct{})}
	room := r.URL.Path
	if !s.join(room, c) {
		ws.Close()
		return
	}
	s.workers.Go(func() { s.writePump(c) })
	defer func() {
		s.leave(room, c)
		c.stop()
		ws.Close()
	}()
	for {
		kind, data, err := ws.ReadMessage()
		if err != nil {
			return
		}
		f := frame{kind: kind, data: data}
		if echo {
			s.enqueue(c, f)
			continue
		}
		s.mu.Lock()
		for other := range s.rooms[room] {
			s.enqueue(other, f)
		}
		s.mu.Unlock()
	}
}

// join adds c to a room unless the server is closing.
func (s *chatServer) join(room string, c *chatClient) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.done:
		return false
	default:
	}
	if s.rooms[room] == nil {
		s.rooms[room] = map[*chatClient]struct{}{}
	}
	s.rooms[room][c] = struct{}{}
	return true
}

func (s *chatServer) leave(room string, c *chatClient) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.rooms[room], c)
	if len(s.rooms[room]) == 0 {
		delete(s.rooms, room)
	}
}

// enqueue never blocks: a client whose queue is full is disconnected.
func (s *chatServer) enqueue(c *chatClient, f frame) {
	select {
	case c.send <- f:
	default:
		c.ws.Close()
	}
}

func (c *chatClient) stop() { c.quitOnce.Do(func() { close(c.quit) }) }

func (s *chatServer) writePump(c *chatClient) {
	for {
		select {
		case f := <-c.send:
			c.ws.SetWriteDeadline(time.Now().Add(chatWriteWait))
			if err := c.ws.WriteMessage(f.kind, f.data); err != nil {
				c.ws.Close()
				return
			}
		case <-c.quit:
			return
		case <-s.done:
			return
		}
	}
}

// tick sends the tick message to every client.
func (s *chatServer) tick(n int, at time.Time) {
	data, err := json.Marshal(struct {
		Type string `json:"type"`
		N    int    `json:"n"`
		Time string `json:"time"`
	}{"tick", n, at.UTC().Format(time.RFC3339)})
	if err != nil {
		s.log.Error("encode tick", zap.Error(err))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, room := range s.rooms {
		for c := range room {
			s.enqueue(c, frame{kind: websocket.TextMessage, data: data})
		}
	}
}

// closeAll says goodbye (1001) to every client and closes its connection,
// which ends its handler.
func (s *chatServer) closeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	bye := websocket.FormatCloseMessage(websocket.CloseGoingAway, "demo shutting down")
	for _, room := range s.rooms {
		for c := range room {
			_ = c.ws.WriteControl(websocket.CloseMessage, bye, time.Now().Add(time.Second))
			c.ws.Close()
		}
	}
}
