package bridge

import (
	"cmp"
	"context"
	"errors"
	"time"

	"github.com/bridgeway/bridgeway/bridge/msg"
	"github.com/bridgeway/bridgeway/bridge/wire"
	"github.com/bridgeway/bridgeway/cluster"
)

// SockJS with cluster.redis: any instance serves any request of a
// session, so nothing about a session lives in one instance's memory but
// what its opening instance holds: the bridge session (or subscription)
// and the disconnect timer. The record in Redis (cluster/sockjs.go) names
// the bridge session, its credentials, the position delivered so far and
// its close; a lock there lets one receiving request in at a time. Each
// receiving request resumes the bridge session's log at that position
// (attach with a cursor) and writes back where it stopped.

// redisSockJS is the SockJS store with cluster.redis.
type redisSockJS struct{ c *cluster.Client }

// sjShared is a request's hold on the cluster record.
type sjShared struct {
	token   string // a receiving request's receiver lock
	session string // a send's bridge session, from the record lookup read
}

func (h *RouteHandler) sockjsClusterTTL() time.Duration {
	return 2*h.set().heartbeat + h.sockjsDelay() + 10*time.Second
}

// record reads session sid's record for this request: not found
// (or other credentials: a guessed id gets nothing) is errSessionNotFound.
func (r redisSockJS) record(h *RouteHandler, req *request, sid string) (cluster.SockJSRecord, *apiError) {
	rec, err := r.c.SockJSGet(req.r.Context(), h.route.Path, sid)
	if err != nil {
		return rec, clusterError(err)
	}
	if !credentialsAdmit(rec.Creds, req.r) {
		return rec, errSessionNotFound
	}
	return rec, nil
}

// receiver: the returned session is this request's alone (until its
// release).
func (r redisSockJS) receiver(h *RouteHandler, req *request, sid, label string) (*sjSession, bool, *apiError) {
	cl, ctx := r.c, req.r.Context()
	rec, aerr := r.record(h, req, sid)
	if aerr == errSessionNotFound {
		if _, err := cl.SockJSGet(ctx, h.route.Path, sid); errors.Is(err, cluster.ErrSessionNotFound) {
			if aerr = r.open(h, req, sid, label); aerr == nil {
				rec, aerr = r.record(h, req, sid)
			}
		}
	}
	if aerr != nil {
		return nil, false, aerr
	}
	token := newSessionID()
	ok, err := cl.SockJSLock(ctx, h.route.Path, sid, token, h.sockjsClusterTTL())
	if err != nil {
		return nil, false, clusterError(err)
	}
	if !ok && rec.CloseCode == 0 {
		return nil, true, nil
	}
	sj := &sjSession{id: sid, ready: closedReady, receiving: true, opened: rec.Opened}
	if ok {
		sj.shared = &sjShared{token: token}
	}
	if rec.CloseCode != 0 {
		sj.closed = &msg.CloseInfo{Code: rec.CloseCode, Reason: rec.CloseReason}
		return sj, false, nil
	}
	a, aerr := h.attach(req, label, wire.Cursor{Epoch: rec.Session, Seq: rec.Pos}.String(), false)
	if aerr == errSessionNotFound {
		// The bridge session ended and is gone: say so as a close.
		sj.closed = &msg.CloseInfo{Code: 3000, Reason: "Go away!"}
		return sj, false, nil
	}
	if aerr != nil {
		_ = cl.SockJSUnlock(context.Background(), h.route.Path, sid, token)
		return nil, false, aerr
	}
	sj.a = a
	return sj, false, nil
}

var closedReady = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// open opens session sid on this instance: the bridge session
// (or subscription) is held here until the session expires, and the
// record tells every instance about it. Losing a race to another
// instance's open gives this one back; the caller reads the winner's.
func (r redisSockJS) open(h *RouteHandler, req *request, sid, label string) *apiError {
	// The route's session cap, per instance as without a cluster: in
	// broadcast mode no bridge session counts the SockJS session. (Opens
	// in flight at once may pass it by as many.)
	st := &h.sockjs
	st.mu.Lock()
	full := h.sockjsFull()
	st.mu.Unlock()
	if full {
		return errTooManySessions
	}
	anchor := &sjSession{id: sid, ready: closedReady}
	anchor.bindTo(req.r)
	if aerr := h.sockjsOpen(req, anchor, label); aerr != nil {
		return aerr
	}
	cl := r.c
	rec := cluster.SockJSRecord{Session: anchor.a.log().Epoch(), Creds: anchor.hash()}
	created, err := cl.SockJSCreate(req.r.Context(), h.route.Path, sid, rec, h.sockjsClusterTTL())
	if err != nil || !created {
		h.sockjsClose(anchor, msg.CloseInfo{Code: closeNormal})
		if err != nil {
			return clusterError(err)
		}
		return nil
	}
	st.mu.Lock()
	if st.byID == nil {
		st.byID = map[string]*sjSession{}
	}
	st.byID[sid] = anchor
	st.mu.Unlock()
	r.watch(h, anchor, h.sockjsDelay())
	return nil
}

// watch checks, after wait, whether the session anchored here
// expired: no receiver anywhere for disconnect_delay, or closed. Nothing is
// armed once the route is closing: closeAll ends the anchors then, and
// waits for a check already running (anchor.checks).
func (r redisSockJS) watch(h *RouteHandler, anchor *sjSession, wait time.Duration) {
	anchor.mu.Lock()
	defer anchor.mu.Unlock()
	if h.ending.Load() {
		return
	}
	anchor.checks.Add(1)
	anchor.timer = time.AfterFunc(wait, func() {
		defer anchor.checks.Done()
		r.check(h, anchor)
	})
}

func (r redisSockJS) check(h *RouteHandler, anchor *sjSession) {
	cl, ctx, delay := r.c, context.Background(), h.sockjsDelay()
	rec, err := cl.SockJSGet(ctx, h.route.Path, anchor.id)
	receiving, lerr := cl.SockJSReceiving(ctx, h.route.Path, anchor.id)
	switch {
	case h.ending.Load():
	case errors.Is(err, cluster.ErrUnavailable) || errors.Is(lerr, cluster.ErrUnavailable):
		r.watch(h, anchor, delay) // a Redis outage is not the client's absence
		return
	case err == nil && rec.CloseCode == 0 && receiving:
		r.watch(h, anchor, delay)
		return
	case err == nil && rec.CloseCode == 0 && time.Since(rec.Seen) < delay:
		r.watch(h, anchor, delay-time.Since(rec.Seen))
		return
	}
	_ = cl.SockJSDelete(ctx, h.route.Path, anchor.id)
	h.sockjsForget(anchor)
}

// afterFlush keeps a long receiving request's lock (and the record)
// alive: renewed after a flush once a third of its TTL has passed, so a
// stream costs a Redis call per third of a TTL, not per frame.
func (r redisSockJS) afterFlush(h *RouteHandler, sj *sjSession) func() {
	if sj.shared == nil {
		return nil
	}
	ttl := h.sockjsClusterTTL()
	last := time.Now()
	return func() {
		if time.Since(last) < ttl/3 {
			return
		}
		last = time.Now()
		_, _ = r.c.SockJSLock(context.Background(), h.route.Path, sj.id, sj.shared.token, ttl)
	}
}

// release: the position the request delivered up to (or the session's
// close) goes to the record, the lock is given back.
func (r redisSockJS) release(h *RouteHandler, sj *sjSession, ending *msg.CloseInfo) {
	cl, ctx, route := r.c, context.Background(), h.route.Path
	if ending != nil {
		_ = cl.SockJSClose(ctx, route, sj.id, ending.Code, ending.Reason)
	}
	if sj.a != nil {
		sj.mu.Lock()
		opened := sj.opened
		sj.mu.Unlock()
		_ = cl.SockJSProgress(ctx, route, sj.id, sj.a.rd.Pos(), opened, h.sockjsClusterTTL())
		sj.a.done()
	}
	if sj.shared != nil {
		_ = cl.SockJSUnlock(ctx, route, sj.id, sj.shared.token)
	}
}

// lookup reads the record once for the send: what send needs of it (the
// bridge session) travels in the returned sjSession.
func (r redisSockJS) lookup(h *RouteHandler, req *request, sid string) (*sjSession, *apiError) {
	rec, aerr := r.record(h, req, sid)
	if aerr != nil || rec.CloseCode != 0 {
		return nil, cmp.Or(aerr, errSessionNotFound)
	}
	return &sjSession{id: sid, shared: &sjShared{session: rec.Session}}, nil
}

// send forwards a send to the session's upstream, wherever it is held.
func (r redisSockJS) send(h *RouteHandler, req *request, _ string, sj *sjSession, msgs []msg.Message, _ int) *apiError {
	if h.set().broadcast {
		t, _, aerr := h.subscribe(req)
		if aerr != nil {
			return aerr
		}
		defer t.detach()
		return h.sockjsForward(req, &attachment{top: t}, msgs)
	}
	s, aerr := h.lookupSession(req, sj.shared.session)
	if aerr != nil {
		return errSessionNotFound
	}
	return h.sockjsForward(req, &attachment{sess: s}, msgs)
}

// closeAll ends the sessions anchored here now, as their checks would
// once they saw the route closing: the timer is stopped (or its running
// check waited for), the record deleted, which other instances need, and
// the bridge session let go. Nothing of the route runs after Close.
func (r redisSockJS) closeAll(h *RouteHandler) {
	for _, anchor := range h.sockjsAll() {
		anchor.mu.Lock()
		if anchor.timer != nil && anchor.timer.Stop() {
			anchor.checks.Done() // its check will never run
		}
		anchor.timer = nil
		anchor.mu.Unlock()
		anchor.checks.Wait()
		_ = r.c.SockJSDelete(context.Background(), h.route.Path, anchor.id)
		h.sockjsForget(anchor)
	}
}
