package bridge

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"sort"
	"strings"
	"sync"

	"go.uber.org/zap"

	"github.com/bridgeway/bridgeway/bridge/msg"
	"github.com/bridgeway/bridgeway/bridge/msglog"
	"github.com/bridgeway/bridgeway/bridge/upstream"
	"github.com/bridgeway/bridgeway/cluster"
)

// topic is one shared upstream in broadcast mode, fanned out to every
// subscriber through its log. One per route and placeholder values.
type topic struct {
	key   string
	h     *RouteHandler
	log   msglog.Store
	ready chan struct{} // closed when the dial finished (conn or dialErr set)
	conn  upstream.Conn
	err   *apiError
	// readyAt is where the log stood when the topic became ready, before
	// its upstream could append: where a subscriber that waited for the
	// dial starts (startAt).
	readyAt struct{ end, latest uint64 }

	cancel context.CancelFunc
	shared *cluster.Topic // cluster mode: this instance's part in the topic (backend_redis.go)
	// ip is the address that opened the topic, charged for it under
	// max_topics_per_ip until the topic ends.
	ip string

	mu    sync.Mutex
	idle  idleTimer // subscribers, and idle_close after the last one left
	ended bool
	fan   *fanout // hijacked SSE/stream subscribers (deliver_fanout.go)
}

func topicKey(params map[string]string) string {
	if len(params) == 0 {
		return ""
	}
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(params[k])
		b.WriteByte(0)
	}
	return b.String()
}

// newEpoch names one incarnation of a topic in its cursors.
func newEpoch() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// afterTopicReady runs when a subscriber that waited for its topic's dial
// goes on; tests use it to let the upstream speak first.
var afterTopicReady = func(*topic) {}

// subscribe finds or opens the request's topic and counts a subscriber in;
// call unsubscribe when done. waited says the topic was not ready when the
// subscriber came (it opened it, or another subscriber's dial was on).
func (h *RouteHandler) subscribe(req *request) (t *topic, waited bool, aerr *apiError) {
	key := topicKey(req.params)
	for {
		h.mu.Lock()
		if h.closing {
			h.mu.Unlock()
			return nil, false, errShuttingDown
		}
		t = h.topics[key]
		created := false
		if t == nil {
			// Reserved before the dial, under h.mu: concurrent opens of
			// new topics cannot overshoot the caps.
			ip := clientIP(req.r)
			if aerr := h.bridge.topics.take(ip); aerr != nil {
				h.mu.Unlock()
				h.metrics.topicsRefused[aerr].Inc()
				return nil, false, aerr
			}
			t = &topic{key: key, h: h, ip: ip, ready: make(chan struct{})}
			h.topics[key] = t
			h.runs.Add(1)
			created = true
		}
		h.mu.Unlock()
		if created {
			// Gives t its log and upstream, then closes ready.
			h.bridge.logs.openTopic(t, req)
		}
		// Ready already (the usual case) is checked first: Context().Done()
		// makes the request context allocate its channel, on every poll.
		waited = created
		select {
		case <-t.ready:
		default:
			waited = true
			select {
			case <-t.ready:
			case <-req.r.Context().Done():
				return nil, false, errShuttingDown
			}
		}
		if waited {
			afterTopicReady(t)
		}
		if t.err != nil {
			return nil, false, t.err
		}
		if t.attach() {
			return t, waited, nil
		}
		// It ended between lookup and attach: take the next incarnation.
	}
}

// abandon ends a topic whose upstream could not be opened: the
// subscribers waiting on ready get err, and the next subscriber starts a
// new topic. It releases what open took (its context, its run).
func (t *topic) abandon(err *apiError, cancel context.CancelFunc) {
	h := t.h
	t.err = err
	cancel()
	h.mu.Lock()
	if h.topics[t.key] == t {
		delete(h.topics, t.key)
	}
	h.mu.Unlock()
	h.bridge.topics.give(t.ip)
	h.runs.Done()
	close(t.ready)
}

// markReady records where the log stands (readyAt) and lets the waiting
// subscribers in. Call it before the upstream can append.
func (t *topic) markReady() {
	_, t.readyAt.end = t.log.Bounds()
	t.readyAt.latest = t.log.LatestMessage()
	close(t.ready)
}

// startAt is where a subscriber without a cursor starts: at the topic's
// latest message (snapshot) or at its end. One that waited for the dial
// starts where the log stood when the topic became ready: an upstream that
// speaks at once (a greeting) can append before the subscriber reads the
// log, and that message came after the subscriber did.
func (t *topic) startAt(waited, snapshot bool) uint64 {
	switch {
	case waited && snapshot:
		return t.readyAt.latest
	case waited:
		return t.readyAt.end
	case snapshot:
		return t.log.LatestMessage()
	}
	_, last := t.log.Bounds()
	return last
}

func (t *topic) run(ctx context.Context) {
	defer t.h.runs.Done()
	info := t.conn.Run(ctx, t.log)
	t.log.Close(info)
	// An upstream that ended for good (e.g. an SSE upstream answering 204)
	// ends its topic: the next subscriber opens a fresh one.
	t.end("upstream ended")
}

func (t *topic) attach() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ended {
		return false
	}
	t.idle.join()
	return true
}

// detach counts a subscriber out; the last one arms idle_close.
func (t *topic) detach() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.idle.leave() || t.ended {
		return
	}
	t.idle.arm(&t.mu, t.h.set().idleClose, func() { t.end("idle") })
}

// end closes the shared upstream and forgets the topic. Idempotent.
func (t *topic) end(reason string) {
	t.mu.Lock()
	if t.ended {
		t.mu.Unlock()
		return
	}
	t.ended = true
	t.idle.stop()
	t.mu.Unlock()
	<-t.ready // a topic is only ended after its dial finished
	if t.err != nil {
		return
	}
	code := closeNormal
	switch reason {
	case "shutdown":
		code = closeShutdown
	case reasonReconfigured:
		code = closeReconfigured
	}
	h := t.h
	h.bridge.logs.closeTopic(t, msg.CloseInfo{Code: code, Reason: reason})
	h.mu.Lock()
	if h.topics[t.key] == t {
		delete(h.topics, t.key)
	}
	h.mu.Unlock()
	h.bridge.topics.give(t.ip)
	h.metrics.topicsOpen.Dec()
	h.log.Debug("topic closed", zap.String("reason", reason))
}
