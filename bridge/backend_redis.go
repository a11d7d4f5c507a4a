package bridge

import (
	"context"
	"errors"
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/bridgeway/bridgeway/bridge/msg"
	"github.com/bridgeway/bridgeway/bridge/upstream"
	"github.com/bridgeway/bridgeway/cluster"
	"github.com/bridgeway/bridgeway/config"
)

var (
	errClusterUnavailable = errorf(http.StatusServiceUnavailable, "cluster_unavailable", "the cluster state (Redis) is unreachable; retry shortly")
	errInboxFull          = errorf(http.StatusTooManyRequests, "send_queue_full", "too many messages are waiting for the upstream; retry shortly")
)

// topicLogGrace keeps a topic's keys this long after idle_close, so a
// subscriber that comes back soon resumes the same incarnation.
const topicLogGrace = 30 * time.Second

// redisBackend shares logs through Redis (config cluster.redis): a
// topic's log is a Redis Stream that every instance mirrors, one instance
// holds its upstream; a session is held by the instance that opened it and
// served by any.
type redisBackend struct{ c *cluster.Client }

// openTopic joins the cluster-wide topic: its log is in Redis, and one
// instance of the cluster (maybe this one) holds the upstream.
func (r redisBackend) openTopic(t *topic, req *request) {
	h := t.h
	ctx, cancel := context.WithCancel(context.Background())
	t.cancel = cancel
	opts := h.upstreamOptions(req, true)
	name := cluster.TopicName(h.route.Path, t.key)
	set := h.set()
	tp, err := r.c.JoinTopic(req.r.Context(), name, cluster.TopicOptions{
		Log: cluster.LogOptions{
			Capacity: set.buffer,
			MaxBytes: set.logBytes,
			TTL:      set.idleClose + topicLogGrace,
			OnEvict:  func(n int) { h.metrics.drops.Add(float64(n)) },
		},
		SkipRepeat: h.route.Upstream.Kind == config.KindPoll,
		Hold: func(ctx context.Context, sink msg.Sink, lastEventID string) msg.CloseInfo {
			// This instance's holder appends only after the topic is
			// ready here: its first message then comes after readyAt.
			select {
			case <-t.ready:
			case <-ctx.Done():
				return msg.CloseInfo{}
			}
			o := opts
			o.Header = opts.Header.Clone()
			if lastEventID != "" {
				o.Header.Set("Last-Event-ID", lastEventID)
			}
			conn, err := upstream.Dial(ctx, o)
			if err != nil {
				h.metrics.dialFailures.Inc()
				h.log.Warn("topic upstream dial failed", zap.Error(err))
				return msg.CloseInfo{Code: closeBadGateway, Reason: "upstream dial failed"}
			}
			defer conn.Close()
			if h.set().clientSend {
				// client_send: sends from every instance reach this holder,
				// its inbox kept open (again) for as long as it holds.
				stop := r.c.KeepTopicInbox(ctx, name, conn.Send)
				defer stop()
			}
			return conn.Run(ctx, sink)
		},
	})
	if err != nil {
		h.log.Warn("joining cluster topic failed", zap.Error(err))
		if errors.Is(err, cluster.ErrUnavailable) {
			t.abandon(errClusterUnavailable, cancel)
		} else {
			t.abandon(errUpstream, cancel)
		}
		return
	}
	t.shared = tp
	t.log = tp.Log()
	h.metrics.topicsOpen.Inc()
	t.markReady()
	go func() {
		defer h.runs.Done()
		select {
		case <-tp.Log().Done():
			// The upstream ended for good (on whichever instance held it):
			// the next subscriber opens a fresh incarnation.
			t.end("upstream ended")
		case <-ctx.Done():
		}
	}()
}

func (r redisBackend) sockjs() sockjsStore { return redisSockJS{c: r.c} }

// closeTopic closes the topic for this instance's readers only (other
// instances may still serve it) and hands the upstream over.
func (redisBackend) closeTopic(t *topic, info msg.CloseInfo) {
	t.shared.Log().CloseLocal(info)
	t.cancel()
	t.shared.Leave()
}

// sendTopic queues client messages for whichever instance holds the
// topic's upstream (client_send in cluster mode).
func (r redisBackend) sendTopic(ctx context.Context, t *topic, out outgoing) error {
	err := r.c.SendTopic(ctx, t.shared.Name(), out.list())
	if errors.Is(err, cluster.ErrSessionNotFound) {
		return upstream.ErrNotConnected // no holder right now: retry shortly
	}
	return err
}

// openSession opens a session in cluster mode: this instance holds
// the upstream; the log and the sends go through Redis so that any
// instance can serve the session's polls, streams and sends.
func (r redisBackend) openSession(h *RouteHandler, req *request, transport string) (*session, *apiError) {
	var shared *cluster.OwnedSession
	var runCtx context.Context
	s, aerr := h.startSession(req, transport, false, func(s *session) (context.Context, func(), *apiError) {
		var creds []byte
		if s.bound {
			creds = s.creds[:]
		}
		set := h.set()
		var err error
		shared, err = r.c.OpenSession(req.r.Context(), s.id, cluster.SessionOptions{
			Capacity:    set.buffer,
			MaxBytes:    set.logBytes,
			TTL:         set.sessionTTL,
			Credentials: creds,
			Deliver:     s.conn.Send,
			OnEvict:     func(n int) { h.metrics.drops.Add(float64(n)) },
		})
		if err != nil {
			h.log.Warn("cluster session open failed", zap.Error(err))
			return nil, nil, clusterError(err)
		}
		s.home, s.log = ownedHome{c: r.c, o: shared}, shared.Log()
		var cancel context.CancelFunc
		runCtx, cancel = context.WithCancel(context.Background())
		s.cancel = cancel
		return runCtx, func() {
			cancel()
			shared.End(msg.CloseInfo{Code: closeShutdown, Reason: "shutdown"})
		}, nil
	})
	if aerr != nil {
		return nil, aerr
	}
	go func() { // ends with the session (end cancels runCtx)
		select {
		case <-shared.Lost():
			s.end(cluster.CloseStateLost, "session ownership lost")
		case <-runCtx.Done():
		}
	}()
	return s, nil
}

// findSession serves, on this instance, a session another instance
// owns. It is kept like a local one (session_ttl after its last client).
func (r redisBackend) findSession(h *RouteHandler, req *request, id string) (*session, *apiError) {
	set := h.set()
	rs, err := r.c.AttachSessionWith(req.r.Context(), id, cluster.LogOptions{
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
		home:    remoteHome{c: r.c, rs: rs},
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
	s.armTTL()
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

// ownedHome is a session this instance holds the upstream of, its log in
// Redis; remoteHome one another instance holds. Sends from either go
// through the session's inbox in Redis: one order, seq checked
// cluster-wide.
type ownedHome struct {
	c *cluster.Client
	o *cluster.OwnedSession
}

type remoteHome struct {
	c  *cluster.Client
	rs *cluster.RemoteSession
}

func (o ownedHome) end(_ *session, info msg.CloseInfo) { o.o.End(info) } // for every instance

// end stops this instance only: the session goes on on its owner.
func (r remoteHome) end(_ *session, info msg.CloseInfo) {
	r.rs.Log().CloseLocal(info)
	r.rs.Release()
}

func (o ownedHome) send(ctx context.Context, s *session, seq int64, out outgoing) error {
	_, err := o.c.Send(ctx, s.id, seq, out.list())
	return err
}

func (r remoteHome) send(ctx context.Context, s *session, seq int64, out outgoing) error {
	return ownedHome{c: r.c}.send(ctx, s, seq, out)
}

func (ownedHome) local() bool   { return false }
func (remoteHome) local() bool  { return false }
func (ownedHome) queued() bool  { return true }
func (remoteHome) queued() bool { return true }
