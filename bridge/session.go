package bridge

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/bridgeway/bridgeway/bridge/msg"
	"github.com/bridgeway/bridgeway/bridge/msglog"
	"github.com/bridgeway/bridgeway/bridge/upstream"
	"github.com/bridgeway/bridgeway/internal/forwarded"
	"github.com/bridgeway/bridgeway/routing"
)

// Close codes the bridge itself reports.
const (
	closeNormal      = 1000
	closeShutdown    = 1001 // gateway going away
	closeSlowClient  = 1008 // slow_client: disconnect
	closeUpstreamGap = 1012 // raw WebSocket: the upstream lost messages
	closeBadGateway  = 1014
	// closeReconfigured ends the sessions and topics of a route that a
	// reload removed or gave another upstream (route_update.go).
	closeReconfigured = 4012
)

// session is one client conversation in session mode: a log, one upstream
// connection and the client's sends.
type session struct {
	id          string
	h           *RouteHandler
	log         msglog.Store
	conn        upstream.Conn
	credentials // the opening request's Cookie and Authorization
	cancel      context.CancelFunc
	started     time.Time
	// owned sessions belong to one WebSocket connection and end with it.
	owned bool
	// home is where the log and the upstream are: here, or in the
	// cluster (this instance holds the upstream, or another does and conn
	// is nil).
	home sessionHome

	mu         sync.Mutex
	idle       idleTimer // clients, and the TTL after the last one left
	ended      bool
	heldPoll   chan struct{} // closed to end the held long-poll
	transports []string      // in order of first use; a map costs more per session
	reason     string
	// ip is the opening client's address while it counts against
	// max_sessions_per_ip ("" once given back, or when not counted).
	ip string
	// farewell is the close code and reason the upstream gets when the
	// owning WebSocket client closed with one worth passing on.
	farewell *msg.CloseInfo

	sendMu  sync.Mutex
	lastSeq int64 // highest acknowledged send seq; -1 before any

	pumpMu sync.Mutex
	pumps  []*sessionPump // WebSocket clients' pumps, kicked on log changes (deliver_kick.go)

	msgsIn, msgsOut, bytesIn, bytesOut int64 // under mu
}

// newSessionID is 128 bits from the CSPRNG, base64url (22 characters).
func newSessionID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// credentialHash binds a session to the Cookie and Authorization of the
// request that opened it; only the hash is kept.
func credentialHash(r *http.Request) (sum [32]byte, present bool) {
	cookie := strings.Join(r.Header.Values("Cookie"), "; ")
	auth := strings.Join(r.Header.Values("Authorization"), ", ")
	if cookie == "" && auth == "" {
		return sum, false
	}
	return sha256.Sum256([]byte(cookie + "\x00" + auth)), true
}

// credentials is what a session (bridge or SockJS) is bound to: the
// hash of its opening request's Cookie and Authorization.
type credentials struct {
	creds [32]byte // sha256 of the opening request's Cookie and Authorization
	bound bool     // false: the request had neither, and any request may use the session
}

// bindTo binds the session to r's credentials.
func (c *credentials) bindTo(r *http.Request) { c.creds, c.bound = credentialHash(r) }

// hash is the bound hash as a cluster record keeps it: nil when unbound.
func (c *credentials) hash() []byte {
	if !c.bound {
		return nil
	}
	return c.creds[:]
}

// credentialsMatch reports whether r may use the session.
func (c *credentials) credentialsMatch(r *http.Request) bool { return credentialsAdmit(c.hash(), r) }

// credentialsAdmit is the one credential check, for a session bound to
// hash (nil or empty: not bound, any request): r must carry the same
// Cookie and Authorization, compared in constant time.
func credentialsAdmit(hash []byte, r *http.Request) bool {
	if len(hash) == 0 {
		return true
	}
	sum, present := credentialHash(r)
	return present && subtle.ConstantTimeCompare(sum[:], hash) == 1
}

// newSession reserves a place under the route's session cap and makes the
// record of a new session bound to the opening request's credentials; the
// caller gives it a log and an upstream, then turns the reservation into
// the session (addSession) or gives it back (abandonSession).
func (h *RouteHandler) newSession(req *request, transport string, owned bool) (*session, *apiError) {
	// Reserved before the dial, under h.mu: concurrent opens cannot
	// overshoot the cap while their dials are in flight.
	h.mu.Lock()
	if len(h.sessions)+h.opening >= h.set().maxSessions {
		h.mu.Unlock()
		return nil, errTooManySessions
	}
	h.opening++
	h.mu.Unlock()
	ip := clientIP(req.r)
	if !h.bridge.perIP.take(ip) {
		h.mu.Lock()
		h.opening--
		h.mu.Unlock()
		return nil, errSessionsPerIP
	}
	s := &session{
		ip:         ip,
		id:         newSessionID(),
		h:          h,
		started:    time.Now(),
		owned:      owned,
		transports: []string{transport},
		lastSeq:    -1,
		home:       localHome{},
	}
	s.bindTo(req.r)
	return s, nil
}

// addSession turns the session's reservation into an open session; false
// (and the reservation kept for abandonSession) when the route is closing.
// Called with h.mu held.
func (h *RouteHandler) addSession(s *session) bool {
	if h.closing {
		return false
	}
	h.opening--
	h.sessions[s.id] = s
	h.runs.Add(1)
	return true
}

// abandonSession gives back the places of a session whose opening failed.
func (h *RouteHandler) abandonSession(s *session) {
	h.mu.Lock()
	h.opening--
	h.mu.Unlock()
	s.releaseIP()
}

// releaseIP gives the session's place under max_sessions_per_ip back,
// once: when the session ends, or when opening it failed.
func (s *session) releaseIP() {
	s.mu.Lock()
	ip := s.ip
	s.ip = ""
	s.mu.Unlock()
	s.h.bridge.perIP.give(ip)
}

// openSession opens a new session: where the log backend keeps sessions,
// or here for an owned one (it ends with its WebSocket).
func (h *RouteHandler) openSession(req *request, transport string, owned bool) (*session, *apiError) {
	if owned {
		return h.openLocalSession(req, transport, true)
	}
	return h.bridge.logs.openSession(h, req, transport)
}

// openLocalSession opens a session whose log is in this process.
func (h *RouteHandler) openLocalSession(req *request, transport string, owned bool) (*session, *apiError) {
	return h.startSession(req, transport, owned, func(s *session) (context.Context, func(), *apiError) {
		set := h.set()
		s.log = msglog.New(msglog.Options{
			Epoch:    s.id,
			Capacity: set.buffer,
			MaxBytes: set.logBytes,
			AckWait:  slowClientWait,
			OnEvict:  func(n int) { h.metrics.drops.Add(float64(n)) },
		})
		// Run on a context that is never cancelled: end closes the conn,
		// which is what stops Run, so no context (and no child
		// registration) is kept per session.
		s.cancel = func() {}
		return context.Background(), func() {}, nil
	})
}

// startSession opens a session: it reserves the session's places, dials
// its upstream, lets the backend's setup give it a log and a home (setup
// returns the context the upstream is read on and what undoes setup when
// the route turns out to be closing), then starts reading.
func (h *RouteHandler) startSession(req *request, transport string, owned bool,
	setup func(s *session) (runCtx context.Context, undo func(), aerr *apiError)) (*session, *apiError) {
	s, apiErr := h.newSession(req, transport, owned)
	if apiErr != nil {
		return nil, apiErr
	}
	opened := false
	defer func() {
		if !opened {
			h.abandonSession(s)
		}
	}()
	conn, err := upstream.Dial(req.r.Context(), h.upstreamOptions(req, false))
	if err != nil {
		h.metrics.dialFailures.Inc()
		h.log.Warn("upstream dial failed", zap.String("transport", transport), zap.Error(err))
		return nil, errUpstream
	}
	s.conn = conn
	runCtx, undo, aerr := setup(s)
	if aerr != nil {
		_ = conn.Close()
		return nil, aerr
	}
	h.mu.Lock()
	if !h.addSession(s) {
		h.mu.Unlock()
		undo()
		_ = conn.Close()
		return nil, errShuttingDown
	}
	h.mu.Unlock()
	opened = true
	h.metrics.sessionsOpen.Inc()
	h.metrics.sessionsTotal.Inc()
	// A burst of opens (clients reconnecting after a deploy) leaves the
	// handshakes' and dials' garbage behind, as a burst of subscribers
	// does: memory_return.go gives it back once the burst is over.
	joins.joined()
	go s.run(runCtx)
	return s, nil
}

// run reads the upstream into the log until it ends; the session then
// stays (closed) until its clients have read the end or the TTL passes.
func (s *session) run(ctx context.Context) {
	defer s.h.runs.Done()
	info := s.conn.Run(ctx, sessionSink{s})
	s.log.Close(info)
	s.kickPumps(true)
	s.mu.Lock()
	if s.reason == "" {
		s.reason = "upstream closed: " + info.Reason
	}
	s.mu.Unlock()
}

// upstreamOptions builds the dial options: URL with placeholders filled,
// route headers, forwarded client headers and X-Forwarded-*.
func (h *RouteHandler) upstreamOptions(req *request, reconnect bool) upstream.Options {
	hdr := http.Header{}
	for k, v := range h.route.Upstream.Headers {
		hdr.Set(k, v)
	}
	if !reconnect {
		for _, name := range h.route.Upstream.ForwardHeaders {
			for _, v := range req.r.Header.Values(name) {
				hdr.Add(name, v)
			}
		}
		forwarded.Of(req.r).SetHeaders(hdr)
	}
	set := h.set()
	return upstream.Options{
		Route:           set.route,
		URL:             fillURL(h.route.Upstream.URL, req.params),
		Header:          hdr,
		Subprotocols:    h.upstreamSubprotocols(req, reconnect), // subprotocol.go
		Reconnect:       reconnect,
		MaxMessageBytes: set.maxMessageBytes,
		Logger:          h.bridge.log,
		Metrics:         h.bridge.upstream,
	}
}

// fillURL puts placeholder values into the upstream URL, escaped for the
// part (path or query) they land in.
func fillURL(raw string, params map[string]string) string {
	if len(params) == 0 {
		return raw
	}
	path, query, hasQuery := strings.Cut(raw, "?")
	pathVals := make(map[string]string, len(params))
	queryVals := make(map[string]string, len(params))
	for k, v := range params {
		pathVals[k] = url.PathEscape(v)
		queryVals[k] = url.QueryEscape(v)
	}
	out := routing.Fill(path, pathVals)
	if hasQuery {
		out += "?" + routing.Fill(query, queryVals)
	}
	return out
}

// lookupSession finds a session and checks the request's credentials.
func (h *RouteHandler) lookupSession(req *request, id string) (*session, *apiError) {
	h.mu.Lock()
	s := h.sessions[id]
	h.mu.Unlock()
	if s == nil {
		var aerr *apiError
		if s, aerr = h.bridge.logs.findSession(h, req, id); aerr != nil {
			return nil, aerr
		}
	}
	if s == nil {
		return nil, errSessionNotFound
	}
	if !s.credentialsMatch(req.r) {
		return nil, errForbiddenCreds
	}
	return s, nil
}

// attach counts a client in; false when the session already ended.
func (s *session) attach(transport string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return false
	}
	s.idle.join()
	if !slices.Contains(s.transports, transport) {
		s.transports = append(s.transports, transport)
	}
	return true
}

// detach counts a client out; the last one arms the TTL (an owned session
// ends at once).
func (s *session) detach() {
	s.mu.Lock()
	if !s.idle.leave() || s.ended {
		s.mu.Unlock()
		return
	}
	if s.owned {
		s.mu.Unlock()
		s.end(closeNormal, "client left")
		return
	}
	s.armTTL()
	s.mu.Unlock()
}

// armTTL ends the session at session_ttl unless a client attaches
// meanwhile (s.mu held).
func (s *session) armTTL() {
	s.idle.arm(&s.mu, s.h.set().sessionTTL, func() {
		s.end(closeNormal, "session ttl expired")
	})
}

// end closes the session's upstream and forgets the session. Idempotent.
func (s *session) end(code int, reason string) {
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		return
	}
	s.ended = true
	if s.reason == "" {
		s.reason = reason
	}
	s.idle.stop()
	// The held long-poll is let go once the log is closed, so it answers
	// with the close instead of an empty answer.
	held := s.heldPoll
	s.heldPoll = nil
	s.mu.Unlock()

	s.home.end(s, msg.CloseInfo{Code: code, Reason: reason})
	if held != nil {
		close(held)
	}
	s.cancel()
	if s.conn != nil {
		s.mu.Lock()
		farewell := s.farewell
		s.mu.Unlock()
		if cw, ok := s.conn.(upstream.CloserWith); ok && farewell != nil {
			_ = cw.CloseWith(*farewell)
		} else {
			_ = s.conn.Close()
		}
	}
	s.releaseIP()
	h := s.h
	h.mu.Lock()
	delete(h.sessions, s.id)
	h.mu.Unlock()
	h.metrics.sessionsOpen.Dec()
	s.logEnd()
}

func (s *session) logEnd() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.h.log.Info("session finished",
		zap.String("session", s.id[:8]), // a prefix: the full id is a bearer secret
		zap.Strings("transports", s.transports),
		zap.Int64("messages_in", s.msgsIn),
		zap.Int64("messages_out", s.msgsOut),
		zap.Int64("bytes_in", s.bytesIn),
		zap.Int64("bytes_out", s.bytesOut),
		zap.Duration("duration", time.Since(s.started)),
		zap.String("reason", s.reason))
}

// countOut and countIn keep the per-session totals for the finish line.
func (s *session) countOut(msgs, bytes int) {
	s.mu.Lock()
	s.msgsOut += int64(msgs)
	s.bytesOut += int64(bytes)
	s.mu.Unlock()
}

func (s *session) countIn(msgs, bytes int) {
	s.mu.Lock()
	s.msgsIn += int64(msgs)
	s.bytesIn += int64(bytes)
	s.mu.Unlock()
}

// holdPoll registers a long-poll as the session's held one, ending any
// previous one at once; release with the returned func.
func (s *session) holdPoll() (superseded <-chan struct{}, release func()) {
	ch := make(chan struct{})
	s.mu.Lock()
	if s.heldPoll != nil {
		close(s.heldPoll)
	}
	if s.ended {
		close(ch)
	} else {
		s.heldPoll = ch
	}
	s.mu.Unlock()
	return ch, func() {
		s.mu.Lock()
		if s.heldPoll == ch {
			s.heldPoll = nil
		}
		s.mu.Unlock()
	}
}

// send forwards client messages to the upstream in order, once per seq.
func (s *session) send(ctx context.Context, seq int64, out outgoing) error {
	return s.home.send(ctx, s, seq, out)
}
