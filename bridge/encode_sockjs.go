package bridge

import (
	"errors"
	"time"

	"github.com/gorilla/websocket"

	"github.com/bridgeway/bridgeway/bridge/msg"
	"github.com/bridgeway/bridgeway/bridge/msglog"
	"github.com/bridgeway/bridgeway/bridge/wire"
)

// The SockJS encoder: one streamWriter for every SockJS transport, over
// a wireOut (httpOut for the HTTP transports, sockjsWSOut for SockJS over
// WebSocket). The frames' bytes come from bridge/wire (sockjs*.go); how
// each transport wraps a frame is its receiver's (sockjs_receive.go).

// errSockJSDone ends a receiving request that has said what it should: a
// polling answer after its one frame, a stream past response_limit.
var errSockJSDone = errors.New("sockjs: response complete")

// sockjsWriter is the streamWriter of every SockJS transport: messages a
// pump step hands it go out as one a[...] frame at flush, each frame
// wrapped the transport's way (newline, EventSource event, htmlfile
// script, JSONP call, WebSocket message).
type sockjsWriter struct {
	out  wireOut
	wrap func(dst, frame []byte) []byte
	// oneShot: a polling answer carries one frame, then ends.
	oneShot bool
	// perFrame: each frame is one write (WebSocket messages).
	perFrame bool
	err      error // of a perFrame write
	// limit: a stream ends once it wrote this many bytes (0 = none).
	limit   int
	sent    int
	pending [][]byte // messages of the current step
	frames  []byte   // wrapped frames not yet written
	scratch []byte
	// finished: the response ended because it was complete (not because
	// the client left).
	finished bool
	// lost: the close that ended the session because the receiver would
	// have missed messages (endLost).
	lost *msg.CloseInfo
	// onClose records the session's close frame.
	onClose func(msg.CloseInfo)
	// onFlush runs after each flush that wrote (cluster: renews the
	// receiver lock).
	onFlush func()
	// onHeartbeat runs with each heartbeat frame (WebSocket: a ping, whose
	// pong tells that the client still reads).
	onHeartbeat func() error
}

// frame queues one frame (after the messages queued before it).
func (s *sockjsWriter) frame(f []byte) {
	s.flushMessages()
	s.emit(f)
}

func (s *sockjsWriter) flushMessages() {
	if len(s.pending) == 0 {
		return
	}
	s.scratch = wire.AppendSockJSMessages(s.scratch[:0], s.pending)
	s.pending = s.pending[:0]
	s.emit(s.scratch)
}

func (s *sockjsWriter) emit(f []byte) {
	if !s.perFrame {
		s.frames = s.wrap(s.frames, f)
		return
	}
	if s.err == nil {
		s.err = s.out.write(f)
		s.sent += len(f)
	}
}

// entry: an upstream gap marker (a broadcast upstream reconnected and
// could not resume) ends the session, as a raw WebSocket's connection.
func (s *sockjsWriter) entry(e *msglog.Entry) (int, error) {
	if e.Kind == msglog.KindGap {
		return 0, s.endLost(upstreamGapClose)
	}
	s.pending = append(s.pending, messageText(&e.Msg))
	return len(e.Msg.Data), nil
}

// gap: SockJS has no gap frame and no message is lost silently, so a
// receiver too slow for slow_client: drop_oldest ends the session, as a
// raw WebSocket client does (encode_ws.go).
func (s *sockjsWriter) gap(*msglog.Gap) error { return s.endLost(slowGapClose) }

// endLost writes the close frame for lost messages after what came before
// them and ends the pump; the handler then closes the session with it
// (lost).
func (s *sockjsWriter) endLost(info msg.CloseInfo) error {
	_ = s.close(info)
	s.lost = &info
	if err := s.flush(); err != nil && !errors.Is(err, errSockJSDone) {
		return err
	}
	return errSockJSDone
}

func (s *sockjsWriter) close(info msg.CloseInfo) error {
	code, reason := sockjsCloseFrame(info)
	if s.onClose != nil {
		s.onClose(msg.CloseInfo{Code: code, Reason: reason})
	}
	s.frame(wire.AppendSockJSClose(nil, code, reason))
	s.finished = true
	return nil
}

func (s *sockjsWriter) heartbeat() error {
	s.frame([]byte(wire.SockJSHeartbeat))
	if s.onHeartbeat != nil {
		return s.onHeartbeat()
	}
	return nil
}

func (s *sockjsWriter) goingAway() error {
	if s.onClose != nil {
		s.onClose(msg.CloseInfo{Code: closeShutdown, Reason: "Server shutting down"})
	}
	s.frame(wire.AppendSockJSClose(nil, closeShutdown, "Server shutting down"))
	s.finished = true
	return nil
}

// flush writes the queued frames. It reports errSockJSDone when the
// response is complete, which ends the pump.
func (s *sockjsWriter) flush() error {
	s.flushMessages()
	if s.err != nil {
		return s.err
	}
	if len(s.frames) == 0 {
		return nil
	}
	err := s.out.write(s.frames)
	s.sent += len(s.frames)
	s.frames = s.frames[:0]
	if err == nil {
		err = s.out.flush()
	}
	if err != nil {
		return err
	}
	if s.onFlush != nil {
		s.onFlush()
	}
	if s.oneShot || s.limit > 0 && s.sent >= s.limit {
		s.finished = true
		return errSockJSDone
	}
	return nil
}

// ending is how a receiving request's end closes its session: with the
// close it wrote for lost messages, with 1002 when the client broke it off
// (left: what was in flight may be lost), else not at all.
func (s *sockjsWriter) ending(left bool) *msg.CloseInfo {
	if s.lost != nil {
		return s.lost
	}
	if !s.finished && left {
		return sockjsInterrupted
	}
	return nil
}

// sockjsCloseFrame is what the client's onclose gets for the end of the
// log: the upstream's code and reason, or SockJS's own 3000 "Go away!"
// for a close that named none.
func sockjsCloseFrame(info msg.CloseInfo) (int, string) {
	if info.Reason == "" && (info.Code == 0 || info.Code == closeNormal || info.Code == 1005) {
		return 3000, "Go away!"
	}
	return info.Code, info.Reason
}

// sockjsWSOut is the wireOut of SockJS over WebSocket: each frame one
// text message.
type sockjsWSOut struct {
	ws *websocket.Conn
}

func (o *sockjsWSOut) write(b []byte) error {
	_ = o.ws.SetWriteDeadline(time.Now().Add(writeWait))
	return o.ws.WriteMessage(websocket.TextMessage, b)
}

func (o *sockjsWSOut) write2(a, b []byte) error {
	return o.write(append(append([]byte(nil), a...), b...))
}

func (o *sockjsWSOut) flush() error { return nil }
