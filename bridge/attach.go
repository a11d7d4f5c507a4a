package bridge

import (
	"github.com/bridgeway/bridgeway/bridge/msglog"
	"github.com/bridgeway/bridgeway/bridge/wire"
)

// attachment is one client connection's hold on a session or topic, and
// its reader of the log.
type attachment struct {
	sess    *session // session mode
	top     *topic   // broadcast mode
	rd      *msglog.Reader
	fresh   bool // the session was opened by this request
	start   bool // a broadcast subscriber that came without a cursor (startCursor)
	tm      *transportMetrics
	counted bool
}

// sessionID is "" in broadcast mode.
func (a *attachment) sessionID() string {
	if a.sess == nil {
		return ""
	}
	return a.sess.id
}

func (a *attachment) log() msglog.Store { return a.rd.Log() }

// countOut records delivered messages.
func (a *attachment) countOut(msgs, bytes int) {
	if msgs == 0 {
		return
	}
	a.tm.messagesOut.Add(float64(msgs))
	a.tm.bytesOut.Add(float64(bytes))
	if a.sess != nil {
		a.sess.countOut(msgs, bytes)
	}
}

// attach resolves what a reading transport serves (docs/protocol.md 2):
//   - session mode: a cursor names its session (its epoch is the session
//     id) and the position; ?session= alone reads from the oldest retained
//     message; neither opens a new session (owned: ends with this
//     connection).
//   - broadcast mode: the topic of the path's placeholders; a cursor of an
//     older incarnation yields a gap; no cursor starts at the latest message
//     (snapshot) or at the end.
func (h *RouteHandler) attach(req *request, transport, cursor string, owned bool) (*attachment, *apiError) {
	var c wire.Cursor
	hasCursor := cursor != ""
	if hasCursor {
		var err error
		if c, err = wire.ParseCursor(cursor); err != nil {
			return nil, errBadCursor
		}
	}
	a := &attachment{tm: h.metrics.transports[transport]}
	if h.set().broadcast {
		t, waited, aerr := h.subscribe(req)
		if aerr != nil {
			return nil, aerr
		}
		a.top = t
		if hasCursor {
			catchUp(req, t.log, c)
			rd, err := msglog.ResumeReader(t.log, c)
			if err != nil {
				t.detach()
				return nil, errBadCursor
			}
			a.rd = rd
		} else {
			a.rd, a.start = msglog.NewReader(t.log, t.startAt(waited, h.set().snapshot)), true
		}
		return a, nil
	}

	sid := queryGet(req.r.URL.RawQuery, "session")
	var s *session
	switch {
	case hasCursor:
		if sid != "" && sid != c.Epoch {
			return nil, errBadCursor
		}
		var aerr *apiError
		if s, aerr = h.lookupSession(req, c.Epoch); aerr != nil {
			return nil, aerr
		}
		catchUp(req, s.log, c)
		rd, err := msglog.ResumeReader(s.log, c)
		if err != nil {
			return nil, errBadCursor
		}
		s.log.Ack(c.Seq) // the client has everything up to its cursor
		a.rd = rd
	case sid != "":
		var aerr *apiError
		if s, aerr = h.lookupSession(req, sid); aerr != nil {
			return nil, aerr
		}
		first, _ := s.log.Bounds()
		a.rd = msglog.NewReader(s.log, first-1)
	default:
		var aerr *apiError
		if s, aerr = h.openSession(req, transport, owned); aerr != nil {
			return nil, aerr
		}
		a.fresh = true
		a.rd = msglog.NewReader(s.log, 0)
	}
	if !s.attach(transport) {
		return nil, errSessionNotFound
	}
	a.sess = s
	return a, nil
}

// startCursor is where a broadcast subscriber that came without a cursor
// starts reading, "" for any other attachment. Its push stream says so
// first (docs/protocol.md 2): a client cut before its first message then
// resumes from there instead of coming back as a new subscriber at the
// topic's end, which would lose what was published in between.
func (a *attachment) startCursor() string {
	if !a.start {
		return ""
	}
	return a.rd.Cursor()
}

// connected counts the client in the clients_connected gauge once its
// transport is set up (stream started, poll held, socket upgraded).
func (a *attachment) connected() {
	if !a.counted {
		a.counted = true
		a.tm.clients.Inc()
	}
}

// done releases the attachment.
func (a *attachment) done() {
	if a.counted {
		a.tm.clients.Dec()
	}
	// Not a stored method value: that would be an allocation per poll.
	if a.sess != nil {
		a.sess.detach()
	} else {
		a.top.detach()
	}
}

// slowDisconnect ends what a too-slow reader was attached to: the whole
// session (no-loss is broken), or just this subscriber of a topic.
func (a *attachment) slowDisconnect() {
	a.tm.slowClients.Inc()
	if a.sess != nil {
		a.sess.end(closeSlowClient, "slow client")
	}
}

// atClosedEnd reports whether the log has ended and the reader has read all
// of it.
func (a *attachment) atClosedEnd() bool {
	closed, _ := a.log().Closed()
	_, last := a.log().Bounds()
	return closed && a.rd.Pos() >= last
}

// catchUp lets a mirrored log fetch entries a cursor from another
// instance already names but this instance's mirror has not received yet.
func catchUp(req *request, l msglog.Store, c wire.Cursor) {
	if c.Epoch == l.Epoch() {
		_ = l.CatchUp(req.r.Context(), c.Seq)
	}
}
