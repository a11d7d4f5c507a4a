package bridge

import (
	"context"

	"go.uber.org/zap"

	"github.com/bridgeway/bridgeway/bridge/msg"
	"github.com/bridgeway/bridgeway/bridge/msglog"
	"github.com/bridgeway/bridgeway/bridge/upstream"
)

// localBackend keeps every log in this process (no cluster): a topic's
// upstream is dialled here, a session is found here or not at all.
type localBackend struct{}

// openTopic dials the shared upstream (reconnecting: only config errors
// fail) and starts reading it into a new log.
func (localBackend) openTopic(t *topic, req *request) {
	h := t.h
	set := h.set()
	t.log = msglog.New(msglog.Options{
		Epoch:    newEpoch(),
		Capacity: set.buffer,
		MaxBytes: set.logBytes,
		OnEvict:  func(n int) { h.metrics.drops.Add(float64(n)) },
	})
	// Dial outside any request's lifetime: the topic outlives its first
	// subscriber.
	ctx, cancel := context.WithCancel(context.Background())
	t.cancel = cancel
	conn, err := upstream.Dial(ctx, h.upstreamOptions(req, true))
	if err != nil {
		h.metrics.dialFailures.Inc()
		h.log.Warn("topic upstream dial failed", zap.Error(err))
		t.abandon(errUpstream, cancel)
		return
	}
	t.conn = conn
	h.metrics.topicsOpen.Inc()
	t.markReady()
	go t.run(ctx) // the upstream's first message is appended from here on
}

func (localBackend) closeTopic(t *topic, info msg.CloseInfo) {
	t.log.Close(info)
	t.cancel()
	_ = t.conn.Close()
}

func (localBackend) sendTopic(ctx context.Context, t *topic, out outgoing) error {
	return out.each(func(m msg.Message) error { return t.conn.Send(ctx, m) })
}

func (localBackend) openSession(h *RouteHandler, req *request, transport string) (*session, *apiError) {
	return h.openLocalSession(req, transport, false)
}

func (localBackend) findSession(*RouteHandler, *request, string) (*session, *apiError) {
	return nil, nil
}

func (localBackend) sockjs() sockjsStore { return localSockJS{} }

// localHome is a session whose log and upstream are in this process.
type localHome struct{}

func (localHome) end(s *session, info msg.CloseInfo) {
	s.log.Close(info)
	s.kickPumps(false)
}

func (localHome) send(ctx context.Context, s *session, seq int64, out outgoing) error {
	s.sendMu.Lock()
	defer s.sendMu.Unlock()
	if seq >= 0 && seq <= s.lastSeq {
		return nil // a retry of an acknowledged send
	}
	if err := out.each(func(m msg.Message) error { return s.conn.Send(ctx, m) }); err != nil {
		return err
	}
	if seq >= 0 {
		s.lastSeq = seq
	}
	return nil
}

func (localHome) local() bool  { return true }
func (localHome) queued() bool { return false }
