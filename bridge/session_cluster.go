package bridge

import (
	"context"
	"errors"
	"time"

	"go.uber.org/zap"

	"github.com/bridgeway/bridgeway/bridge/msg"
	"github.com/bridgeway/bridgeway/bridge/upstream"
	"github.com/bridgeway/bridgeway/cluster"
)

// openSharedSession opens a session in cluster mode: this instance holds
// the upstream; the log and the sends go through Redis so that any
// instance can serve the session's polls, streams and sends.
func (h *RouteHandler) openSharedSession(req *request, transport string) (*session, *apiError) {
	s, apiErr := h.newSession(req, transport, false)
	if apiErr != nil {
		return nil, apiErr
	}
	opened := false
	defer func() {
		if !opened {
			h.abandonSession(s)
		}
	}()
	id := s.id
	conn, err := upstream.Dial(req.r.Context(), h.upstreamOptions(req, false))
	if err != nil {
		h.metrics.dialFailures.Inc()
		h.log.Warn("upstream dial failed", zap.String("transport", transport), zap.Error(err))
		return nil, errUpstream
	}
	var creds []byte
	if s.bound {
		creds = s.creds[:]
	}
	set := h.set()
	shared, err := h.bridge.cluster.OpenSession(req.r.Context(), id, cluster.SessionOptions{
		Capacity:    set.buffer,
		MaxBytes:    set.logBytes,
		TTL:         set.sessionTTL,
		Credentials: creds,
		Deliver:     conn.Send,
		OnEvict:     func(n int) { h.metrics.drops.Add(float64(n)) },
	})
	if err != nil {
		_ = conn.Close()
		h.log.Warn("cluster session open failed", zap.Error(err))
		return nil, clusterError(err)
	}
	s.conn, s.shared, s.log = conn, shared, shared.Log()
	runCtx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel

	h.mu.Lock()
	if !h.addSession(s) {
		h.mu.Unlock()
		cancel()
		shared.End(msg.CloseInfo{Code: closeShutdown, Reason: "shutdown"})
		_ = conn.Close()
		return nil, errShuttingDown
	}
	h.mu.Unlock()
	opened = true
	h.metrics.sessionsOpen.Inc()
	h.metrics.sessionsTotal.Inc()
	go s.run(runCtx)
	go func() { // ends with the session (end cancels runCtx)
		select {
		case <-shared.Lost():
			s.end(cluster.CloseStateLost, "session ownership lost")
		case <-runCtx.Done():
		}
	}()
	return s, nil
}

// attachRemoteSession serves, on this instance, a session another instance
// owns. It is kept like a local one (session_ttl after its last client).
func (h *RouteHandler) attachRemoteSession(req *request, id string) (*session, *apiError) {
	set := h.set()
	rs, err := h.bridge.cluster.AttachSessionWith(req.r.Context(), id, cluster.LogOptions{
		Capacity: set.buffer,
		MaxBytes: set.logBytes,
		TTL:      set.sessionTTL,
		OnEvict:  func(n int) { h.metrics.drops.Add(float64(n)) },
	})
	if err != nil {
		return nil, clusterError(err)
	}
	s := &session{
		id:      id,
		h:       h,
		started: time.Now(),
		lastSeq: -1,
		remote:  rs,
		log:     rs.Log(),
		cancel:  func() {},
	}
	if len(rs.Record.Credentials) == len(s.creds) {
		copy(s.creds[:], rs.Record.Credentials)
		s.bound = true
	}
	h.mu.Lock()
	if h.closing {
		h.mu.Unlock()
		rs.Release()
		return nil, errShuttingDown
	}
	if cur := h.sessions[id]; cur != nil {
		h.mu.Unlock()
		rs.Release() // attached concurrently: keep the first
		return cur, nil
	}
	h.sessions[id] = s
	h.mu.Unlock()
	h.metrics.sessionsOpen.Inc()
	// Until a client attaches, the TTL runs (a bare send attaches none).
	s.mu.Lock()
	s.idleGen++
	gen := s.idleGen
	s.timer = time.AfterFunc(h.set().sessionTTL, func() { s.expire(gen) })
	s.mu.Unlock()
	return s, nil
}

// clusterError maps cluster errors to client answers.
func clusterError(err error) *apiError {
	switch {
	case errors.Is(err, cluster.ErrSessionNotFound):
		return errSessionNotFound
	case errors.Is(err, cluster.ErrInboxFull):
		return errInboxFull
	case errors.Is(err, cluster.ErrUnavailable), errors.Is(err, cluster.ErrClosed):
		return errClusterUnavailable
	default:
		return errUpstream
	}
}
