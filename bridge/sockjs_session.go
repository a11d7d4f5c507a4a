package bridge

import (
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/bridgeway/bridgeway/bridge/msg"
	"github.com/bridgeway/bridgeway/bridge/wire"
	"github.com/bridgeway/bridgeway/config"
)

// sockjsSessions is a route's SockJS sessions by the id the client chose.
// The zero value is ready to use.
type sockjsSessions struct {
	mu   sync.Mutex
	byID map[string]*sjSession
}

// sjSession is one SockJS session: an attachment (a bridge session, or a
// subscription to the topic) whose reader is the position delivered so
// far, kept from one receiving request to the next.
type sjSession struct {
	id string
	credentials
	ip    string        // broadcast: charged under max_sessions_per_ip until forgotten
	ready chan struct{} // closed once the opening request attached (or failed)
	a     *attachment   // nil when opening failed
	// shared: a receiving request's hold on the cluster record
	// (backend_sockjs_redis.go); nil without cluster.redis.
	shared *sjShared

	mu        sync.Mutex
	receiving bool // a receiving request is attached (one at a time)
	opened    bool // the "o" frame went out
	closed    *msg.CloseInfo
	gen       int // invalidates an armed disconnect timer
	timer     *time.Timer
	endOnce   sync.Once

	// checks counts a cluster anchor's armed or running expiry check
	// (backend_sockjs_redis.go), so that closing the route can wait for it.
	checks sync.WaitGroup
}

// sockjsRequest is req as the bridge's session machinery sees it: no
// query (nothing in a SockJS URL names a bridgeway session or cursor) and,
// with cookie_needed, no JSESSIONID cookie, which the gateway sets after
// the session was bound to the request's credentials. Without
// cookie_needed a JSESSIONID is the app's own (a Java app's login): it
// binds the session and goes upstream like any other cookie.
func (h *RouteHandler) sockjsRequest(req *request) *request {
	r := req.r.Clone(req.r.Context())
	r.URL.RawQuery = ""
	if vals := r.Header.Values("Cookie"); len(vals) > 0 && h.route.SockJS.CookieNeeded {
		var keep []string
		for _, v := range vals {
			for _, c := range strings.Split(v, ";") {
				if c = strings.TrimSpace(c); c != "" && !strings.HasPrefix(c, "JSESSIONID=") {
					keep = append(keep, c)
				}
			}
		}
		r.Header.Del("Cookie")
		if len(keep) > 0 {
			r.Header.Set("Cookie", strings.Join(keep, "; "))
		}
	}
	cp := *req
	cp.r = r
	return &cp
}

// setJSESSIONID is cookie_needed: the request's JSESSIONID echoed (when it
// is a plain token, as a callback name must be), else "dummy".
func setJSESSIONID(w http.ResponseWriter, r *http.Request) {
	v := "dummy"
	if c, err := r.Cookie("JSESSIONID"); err == nil && wire.ValidSockJSCallback(c.Value) {
		v = c.Value
	}
	w.Header().Add("Set-Cookie", "JSESSIONID="+v+"; Path=/")
}

// sockjsLookup finds an open session for a send; nil (a 404 for the
// client) when there is none, its opening failed, or the request's
// credentials are not the opener's: a guessed id gets nothing.
func (h *RouteHandler) sockjsLookup(req *request, sid string) *sjSession {
	st := &h.sockjs
	st.mu.Lock()
	sj := st.byID[sid]
	st.mu.Unlock()
	if sj == nil || !sj.credentialsMatch(req.r) {
		return nil
	}
	select {
	case <-sj.ready:
	case <-req.r.Context().Done():
		return nil
	}
	if sj.a == nil {
		return nil
	}
	return sj
}

// sockjsFull reports whether the route's session cap (max_connections) is
// reached by the SockJS sessions this instance holds (h.sockjs.mu held).
func (h *RouteHandler) sockjsFull() bool { return len(h.sockjs.byID) >= h.set().maxSessions }

// sockjsAll is every session in the route's table (closing the route
// ends them).
func (h *RouteHandler) sockjsAll() []*sjSession {
	st := &h.sockjs
	st.mu.Lock()
	defer st.mu.Unlock()
	return slices.Collect(maps.Values(st.byID))
}

// sockjsOpen attaches a new SockJS session: a bridge session of its own
// (mode session) or a subscription to the topic (broadcast, charged under
// max_sessions_per_ip here since no bridge session is opened for it).
func (h *RouteHandler) sockjsOpen(req *request, sj *sjSession, label string) *apiError {
	if h.set().broadcast {
		ip := clientIP(req.r)
		if !h.bridge.perIP.take(ip) {
			return errSessionsPerIP
		}
		sj.ip = ip
	}
	a, aerr := h.attach(req, label, "", false)
	if aerr != nil {
		h.bridge.perIP.give(sj.ip)
		return aerr
	}
	a.connected()
	sj.a = a
	return nil
}

// sockjsInterrupted closes a session whose receiving request the client
// abandoned mid-way (the connection broke while it waited or was
// written): what was in flight may be lost.
var sockjsInterrupted = &msg.CloseInfo{Code: 1002, Reason: "Connection interrupted"}

// sockjsRelease ends a receiving request; ending, when set, closes the
// session with it.
func (h *RouteHandler) sockjsRelease(sj *sjSession, ending *msg.CloseInfo) {
	h.bridge.logs.sockjs().release(h, sj, ending)
}

// sockjsDelay is disconnect_delay: how long a session outlives its last
// receiving request.
func (h *RouteHandler) sockjsDelay() time.Duration {
	return h.route.SockJS.DisconnectDelay.Or(config.DefaultSockJSDisconnectDelay)
}

// stopTimer disarms the disconnect timer (an armed one that already
// fired sees a newer gen and does nothing). sj.mu is held.
func (sj *sjSession) stopTimer() {
	sj.gen++
	if sj.timer != nil {
		sj.timer.Stop()
		sj.timer = nil
	}
}

// sockjsForget closes an expired session and takes it out of the route's
// table (last, so that a table without it has nothing left running).
func (h *RouteHandler) sockjsForget(sj *sjSession) {
	h.sockjsClose(sj, msg.CloseInfo{Code: 3000, Reason: "Go away!"})
	st := &h.sockjs
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.byID[sj.id] == sj {
		delete(st.byID, sj.id)
	}
}

// sockjsClose records the session's close frame (the first one stays)
// and lets its upstream go: the bridge session ends, or the subscription.
func (h *RouteHandler) sockjsClose(sj *sjSession, info msg.CloseInfo) {
	sj.setClosed(info)
	sj.endOnce.Do(func() {
		a := sj.a
		a.done()
		if a.sess != nil {
			a.sess.end(closeNormal, "sockjs session closed")
		}
		h.bridge.perIP.give(sj.ip)
	})
}

func (sj *sjSession) setClosed(info msg.CloseInfo) {
	sj.mu.Lock()
	defer sj.mu.Unlock()
	if sj.closed == nil {
		sj.closed = &info
	}
}

func (sj *sjSession) closeInfo() *msg.CloseInfo {
	sj.mu.Lock()
	defer sj.mu.Unlock()
	return sj.closed
}
