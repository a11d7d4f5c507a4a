package bridge

import (
	"net/http"
	"regexp"
	"time"

	"github.com/bridgeway/bridgeway/bridge/msg"
	"github.com/bridgeway/bridgeway/bridge/msglog"
	"github.com/bridgeway/bridgeway/config"
)

// pollMaxMessages bounds one poll answer's messages (the route's
// poll_max_bytes bounds their size); the client polls again for the rest.
const pollMaxMessages = 1000

var callbackPattern = regexp.MustCompile(`^[A-Za-z_$][A-Za-z0-9_$.]{0,63}$`)

// servePollEndpoint is /poll: long-poll, short poll (wait=0) or JSONP
// (callback=NAME), each a transport of its own in the route's list.
func (h *RouteHandler) servePollEndpoint(req *request) {
	r := req.r
	if r.Method == http.MethodOptions {
		h.set().origins.servePreflight(req.w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		writeError(req.w, errMethod)
		return
	}
	req.poll = parsePollQuery(r.URL.RawQuery)
	// wait=0 is short polling, except on a route that serves long-poll but
	// not short polling: there it is a long-poll answered at once, as the
	// browser library's resume asks (docs/protocol.md section 1).
	ts := h.set().transports
	transport := config.TransportLongPoll
	switch {
	case req.poll.hasCallback:
		transport = config.TransportJSONP
	case req.poll.wait == "0" && (ts[config.TransportPoll] || !ts[config.TransportLongPoll]):
		transport = config.TransportPoll
	}
	h.serveTransport(req, transport, h.servePoll)
}

// servePoll answers one poll (docs/protocol.md 5, long-poll and polling).
func (h *RouteHandler) servePoll(req *request, transport string) {
	q := &req.poll
	callback := q.callback
	if transport == config.TransportJSONP && !callbackPattern.MatchString(callback) {
		writeError(req.w, errBadCallback)
		return
	}
	var aerr *apiError
	if q.lim, aerr = h.pollLimits(q); aerr != nil {
		writeError(req.w, aerr)
		return
	}
	a, aerr := h.attach(req, transport, q.cursor, false)
	if transport == config.TransportJSONP && sessionLost(aerr) {
		writeJSONPLost(req, callback) // a <script> cannot read a 404
		return
	}
	if aerr != nil {
		writeError(req.w, aerr)
		return
	}
	parked := false
	defer func() {
		if !parked {
			a.done()
		}
	}()

	wait := h.set().pollTimeout
	if q.cursor == "" || q.wait == "0" {
		// Opening (or subscribing) answers at once with the cursor to use.
		wait = 0
	}
	var superseded <-chan struct{}
	if a.sess != nil && wait > 0 {
		var release func()
		superseded, release = a.sess.holdPoll()
		defer release()
	}
	a.connected()
	ans := h.collect(a, q.lim)
	if !ans.nonEmpty() && wait > 0 {
		if a.sess == nil && h.park(req, a, transport, callback, wait) {
			parked = true // the parked poll owns a (poll_park.go)
			return
		}
		if !h.holdPoll(req.r.Context().Done(), a, q.lim, wait, superseded, &ans) {
			return
		}
	}
	h.writePoll(req, a, transport, callback, &ans)
}

// holdPoll waits for ans to fill: until the log moves past the cursor,
// wait passes, the poll is superseded or the route shuts down. It reports
// false when the client left (gone) and nothing is to be written.
func (h *RouteHandler) holdPoll(gone <-chan struct{}, a *attachment, lim pollLimits, wait time.Duration, superseded <-chan struct{}, ans *pollAnswer) bool {
	t := getPollTimer(wait)
	defer putPollTimer(t)
	for !ans.nonEmpty() {
		select {
		case <-ans.wait:
			*ans = h.collect(a, lim)
			continue
		case <-t.C:
		case <-superseded:
			*ans = h.collect(a, lim) // the session's end lets go of its held poll too
		case <-gone:
			return false
		case <-h.shuttingDown():
		}
		break
	}
	return true
}

// pollAnswer is what one poll returns.
type pollAnswer struct {
	gap     *msglog.Gap
	entries []*msglog.Entry
	closed  *msg.CloseInfo
	wait    <-chan struct{}
}

func (p *pollAnswer) nonEmpty() bool {
	return p.gap != nil || len(p.entries) > 0 || p.closed != nil
}

// collect reads what follows the cursor: at most one gap (first), then
// messages up to the next gap marker or lim.
func (h *RouteHandler) collect(a *attachment, lim pollLimits) pollAnswer {
	start := a.rd.Pos()
	res := a.rd.Next(lim.messages)
	ans := pollAnswer{wait: res.Wait}
	if g := res.Gap; g != nil {
		if g.Overrun && h.set().slowDisconnect {
			a.slowDisconnect()
			ans.closed = &msg.CloseInfo{Code: closeSlowClient, Reason: "slow client"}
			return ans
		}
		ans.gap = g
	}
	size := 0
	// Filtered in place: res.Entries is the reader's scratch, not read
	// again before this answer is written.
	ans.entries = res.Entries[:0]
	for i, e := range res.Entries {
		if e.Kind == msglog.KindGap {
			if ans.gap != nil || i > 0 {
				break // one gap per answer, before its messages
			}
			ans.gap = &msglog.Gap{From: e.PrevCursor, To: e.Cursor, ToSeq: e.Seq, Reason: e.GapReason}
			continue
		}
		// The encoded size is what a proxy sees (escapes, base64).
		n := len(e.Encoded(msglog.FormatJSON, encodeJSON)) + 1
		if len(ans.entries) > 0 && size+n > lim.bytes {
			break
		}
		size += n
		ans.entries = append(ans.entries, e)
	}
	// Un-read what did not fit; the next poll starts there.
	last := start
	if ans.gap != nil {
		last = ans.gap.ToSeq
	}
	if n := len(ans.entries); n > 0 {
		last = ans.entries[n-1].Seq
	}
	a.rd.Rewind(last)
	if res.Closed && ans.gap == nil && len(ans.entries) == 0 {
		info := res.Info
		ans.closed = &info
	}
	return ans
}

// writePoll writes {"session":ID,"cursor":C,"messages":[...],"gap":{...},
// "closed":{...}}, wrapped as /**/NAME(...); for JSONP.
func (h *RouteHandler) writePoll(req *request, a *attachment, transport, callback string, ans *pollAnswer) {
	buf := getPollBuffer(pollAnswerSize(a, callback, ans))
	defer putPollBuffer(buf)
	b, bytes := appendPollBody((*buf)[:0], a, req.prefix, transport, callback, ans)
	hdr := req.w.Header()
	setPollHeaders(hdr, transport)
	hdr["Content-Length"] = contentLength(len(b))
	req.w.WriteHeader(http.StatusOK)
	if req.r.Method != http.MethodHead {
		_, _ = req.w.Write(b)
	}
	*buf = b
	a.countOut(len(ans.entries), bytes)
}
