package bridge

import (
	"time"

	"github.com/bridgeway/bridgeway/bridge/msg"
)

// localSockJS keeps a route's SockJS sessions in its table (h.sockjs):
// every request of a session comes to this process.
type localSockJS struct{}

// receiver: a known id with other credentials gets 404, as an unknown
// session would on a send.
func (localSockJS) receiver(h *RouteHandler, req *request, sid, label string) (sj *sjSession, busy bool, aerr *apiError) {
	st := &h.sockjs
	st.mu.Lock()
	if sj = st.byID[sid]; sj != nil {
		st.mu.Unlock()
		if !sj.credentialsMatch(req.r) {
			return nil, false, errSessionNotFound
		}
		sj.mu.Lock()
		defer sj.mu.Unlock()
		if sj.receiving && sj.closed == nil {
			return nil, true, nil
		}
		sj.receiving = true
		sj.stopTimer()
		return sj, false, nil
	}
	if h.sockjsFull() {
		st.mu.Unlock()
		return nil, false, errTooManySessions
	}
	sj = &sjSession{id: sid, ready: make(chan struct{}), receiving: true}
	sj.bindTo(req.r)
	if st.byID == nil {
		st.byID = map[string]*sjSession{}
	}
	st.byID[sid] = sj
	st.mu.Unlock()

	aerr = h.sockjsOpen(req, sj, label)
	if aerr != nil {
		st.mu.Lock()
		delete(st.byID, sid)
		st.mu.Unlock()
		close(sj.ready)
		return nil, false, aerr
	}
	close(sj.ready)
	return sj, false, nil
}

// release: the session is forgotten disconnect_delay after its last
// receiving request, at once when the route is closing (closeAll may have
// passed it over while it was receiving; nothing is armed after Close).
func (localSockJS) release(h *RouteHandler, sj *sjSession, ending *msg.CloseInfo) {
	if ending != nil {
		h.sockjsClose(sj, *ending)
	}
	if h.ending.Load() {
		h.sockjsForget(sj)
		return
	}
	sj.mu.Lock()
	defer sj.mu.Unlock()
	sj.receiving = false
	sj.stopTimer()
	gen := sj.gen
	sj.timer = time.AfterFunc(h.sockjsDelay(), func() { h.sockjsExpire(sj, gen) })
}

func (localSockJS) lookup(h *RouteHandler, req *request, sid string) (*sjSession, *apiError) {
	sj := h.sockjsLookup(req, sid)
	if sj == nil || sj.closeInfo() != nil {
		return nil, errSessionNotFound
	}
	return sj, nil
}

func (localSockJS) send(h *RouteHandler, req *request, _ string, sj *sjSession, msgs []msg.Message, bytes int) *apiError {
	aerr := h.sockjsForward(req, sj.a, msgs)
	if aerr == nil && sj.a.sess != nil {
		sj.a.sess.countIn(len(msgs), bytes)
	}
	return aerr
}

func (localSockJS) afterFlush(*RouteHandler, *sjSession) func() { return nil }

// closeAll stops every disconnect timer and forgets every session: a
// closed route keeps nothing armed (the timers would otherwise end
// sessions and give back per-IP slots up to disconnect_delay later).
func (localSockJS) closeAll(h *RouteHandler) {
	for _, sj := range h.sockjsAll() {
		sj.mu.Lock()
		receiving := sj.receiving
		sj.stopTimer()
		sj.mu.Unlock()
		if !receiving { // a receiving request forgets it at its release
			h.sockjsForget(sj)
		}
	}
}

func (h *RouteHandler) sockjsExpire(sj *sjSession, gen int) {
	sj.mu.Lock()
	stale := gen != sj.gen || sj.receiving
	sj.mu.Unlock()
	if stale {
		return
	}
	h.sockjsForget(sj)
}
