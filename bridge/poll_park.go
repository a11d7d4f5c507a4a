package bridge

import (
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bridgeway/bridgeway/config"
	"github.com/bridgeway/bridgeway/internal/reenter"
)

// A held long-poll on a broadcast route is parked rather than held by its
// handler: the HTTP/1.1 connection is hijacked (net/http's goroutine, its
// background reader and bufio buffers go away), the topic's fan-out
// answers it when the log moves past its cursor, a timer answers it at
// poll_timeout; then the bridge reads a plain next poll itself
// (poll_next.go), or the connection goes back to the http.Server it came
// from (internal/reenter) to read the client's next request. A parked
// poll has no goroutine: the fan-out peeks at every parked socket at each
// heartbeat (without reading) to let go of clients that left.

// States of a parked poll (parkedPoll.state, under mu).
const (
	pollParked = iota // waiting in the fan-out
	pollTaken         // taken by whoever answers or drops it
)

// parkedPoll is one parked long-poll.
type parkedPoll struct {
	h         *RouteHandler
	a         *attachment
	conn      net.Conn // as hijacked: closing it releases the connection's slot
	sock      parkSock // the socket's non-blocking write and peek
	back      func(net.Conn) bool
	transport string
	callback  string
	lim       pollLimits // the poll's answer bounds, as on the handler's path
	head      *pollHead
	pos       uint64      // the reader's position when parked (read by the fan-out)
	close     bool        // the request asked for Connection: close
	timer     *time.Timer // nil when re-parked: its connection's timer (poll_next_timer.go)

	// For reading the next poll here (poll_next.go), when the server
	// offers it: its offer and what the next poll must repeat.
	again *reenter.Again
	fp    uint64
	next  *nextConn // the connection's waiter once the bridge read a poll on it

	// The answer being sent (prepare to sent).
	out               *[]byte
	outMsgs, outBytes int

	// idx is the position in fan.members, -1 when not there (fan.mu).
	idx int
	fan *fanout

	mu    sync.Mutex
	state int
}

// park hijacks the poll's connection and leaves it to the topic's fan-out
// when chooseDelivery says viaPark (a GET with a body stays: what net/http
// has not read of it would be taken for the next request once the
// connection goes back). It reports whether it took the request (the
// attachment is then the parked poll's).
func (h *RouteHandler) park(req *request, a *attachment, transport, callback string, wait time.Duration) bool {
	r := req.r
	f := h.deliveryFactsOf(req, a)
	if chooseDelivery(heldPoll, f) != viaPark {
		return false
	}
	back := reenter.From(r.Context())
	head := pollHeadFor(req.w.Header(), transport)
	reenter.MarkStatus(req.w, http.StatusOK)
	conn, brw, err := http.NewResponseController(req.w).Hijack()
	if err != nil {
		return false
	}
	p := &parkedPoll{h: h, a: a, conn: conn, back: back, transport: transport, callback: callback,
		lim: req.poll.lim, head: head, pos: a.rd.Pos(), close: r.Close, idx: -1}
	p.offerNext(req)
	if brw.Reader.Buffered() > 0 || !p.sock.init(bareConn(conn)) {
		// The client sent more after its request (pipelining), which went
		// with net/http's reader: answer here, then close, since the next
		// request cannot be read any more. (Also a connection that turns
		// out not to be a plain socket.)
		h.answerInPlace(p, wait)
		return true
	}
	p.fan = a.top.fanout()
	h.hold()
	// The timer is set before anyone can take the poll (take locks mu).
	p.mu.Lock()
	p.fan.addPoll(p)
	p.timer = time.AfterFunc(wait, p.timeout)
	p.mu.Unlock()
	return true
}

// answerInPlace holds a poll in its handler as before, on a hijacked
// connection it then answers and closes.
func (h *RouteHandler) answerInPlace(p *parkedPoll, wait time.Duration) {
	p.close = true
	ans := h.collect(p.a, p.lim)
	if h.holdPoll(nil, p.a, p.lim, wait, nil, &ans) {
		b, msgs, bytes := p.build(&ans)
		_ = p.conn.SetWriteDeadline(time.Now().Add(writeWait))
		if _, err := p.conn.Write(*b); err == nil {
			p.a.countOut(msgs, bytes)
		}
		putPollBuffer(b)
	}
	p.release()
	_ = p.conn.Close()
	p.a.done()
}

// take claims a parked poll for answering or dropping; false when someone
// else has.
func (p *parkedPoll) take() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.state != pollParked {
		return false
	}
	p.state = pollTaken
	return true
}

// timeout answers at poll_timeout (from the timer's goroutine).
func (p *parkedPoll) timeout() {
	if !p.take() {
		return
	}
	p.fan.remove(p)
	p.answer()
}

// answer writes the poll's answer (whatever follows the cursor now, maybe
// nothing) without waiting: what the socket does not take at once is
// finished by a goroutine of its own, so the fan-out never waits for one
// client. The caller took the poll. (The fan-out's rounds answer many polls
// with one system call instead: answerBatch.)
func (p *parkedPoll) answer() {
	p.prepare()
	p.sendNow()
}

// sendNow writes the prepared answer without waiting and goes on with it.
func (p *parkedPoll) sendNow() {
	n, err := p.sock.nb.write(*p.out)
	p.sent(n, err)
}

// prepare builds the poll's answer into p.out, for sent.
func (p *parkedPoll) prepare() {
	p.stopTimer()
	ans := p.h.collect(p.a, p.lim)
	if p.h.ending.Load() {
		p.close = true // as net/http does while the server drains; also when the route is retired
	}
	p.out, p.outMsgs, p.outBytes = p.build(&ans)
}

// sent goes on once the socket took n bytes of p.out without waiting (err:
// the write failed): the rest by a goroutine of its own, then finish.
func (p *parkedPoll) sent(n int, err error) {
	b, msgs, bytes := p.out, p.outMsgs, p.outBytes
	p.out = nil
	switch {
	case err != nil:
		putPollBuffer(b)
		p.finish(false, 0, 0)
	case n < len(*b):
		rest := append([]byte(nil), (*b)[n:]...)
		putPollBuffer(b)
		p.h.runs.Add(1)
		go func() {
			defer p.h.runs.Done()
			_ = p.conn.SetWriteDeadline(time.Now().Add(writeWait))
			_, err := p.conn.Write(rest)
			_ = p.conn.SetWriteDeadline(time.Time{})
			p.finish(err == nil, msgs, bytes)
		}()
	default:
		putPollBuffer(b)
		p.finish(true, msgs, bytes)
	}
}

// build makes the whole HTTP/1.1 response: the head net/http would write
// for writePoll's answer, then its body.
func (p *parkedPoll) build(ans *pollAnswer) (buf *[]byte, msgs, bytes int) {
	body := getPollBuffer(pollAnswerSize(p.a, p.callback, ans))
	b, bytes := appendPollBody((*body)[:0], p.a, "", p.transport, p.callback, ans)
	*body = b
	out := getPollBuffer(len(b) + len(p.head.pre) + len(p.head.post) + 128)
	*out = append(p.head.appendHead((*out)[:0], len(b), p.close), b...)
	putPollBuffer(body)
	return out, len(ans.entries), bytes
}

// finish releases what the parked poll held once its answer is out (or
// failed), and gives the connection back to its server for the client's
// next request, or closes it (Connection: close, a failed write).
func (p *parkedPoll) finish(ok bool, msgs, bytes int) {
	if ok {
		p.a.countOut(msgs, bytes)
	}
	p.a.done()
	switch {
	case p.close || !ok:
		p.release()
		_ = p.conn.Close()
	case p.h.readNext(p): // the next request is read here (poll_next.go)
	default:
		p.release()
		p.back(p.conn) // closes the connection when the server is gone
	}
	p.h.exit()
}

// drop lets go of a poll whose client left (the caller took it).
func (p *parkedPoll) drop() {
	p.stopTimer()
	p.release()
	_ = p.conn.Close()
	p.a.done()
	p.h.exit()
}

// pollHead is the response head of a parked poll's answer, but for
// Content-Length, Connection and Date: the header lines sorted as net/http
// writes them, split where Content-Length goes.
type pollHead struct {
	pre, post []byte
}

var plainPollHeads = map[string]*pollHead{
	config.TransportLongPoll: makePollHead(nil, config.TransportLongPoll),
	config.TransportJSONP:    makePollHead(nil, config.TransportJSONP),
}

// pollHeadFor returns the head for a response whose handler set hdr so far
// (CORS headers, ...), shared when it set nothing.
func pollHeadFor(hdr http.Header, transport string) *pollHead {
	if len(hdr) == 0 {
		return plainPollHeads[transport]
	}
	return makePollHead(hdr, transport)
}

func makePollHead(hdr http.Header, transport string) *pollHead {
	h := hdr.Clone()
	if h == nil {
		h = http.Header{}
	}
	setPollHeaders(h, transport)
	delete(h, "Content-Length")
	pre, post := http.Header{}, http.Header{}
	for k, v := range h {
		if k < "Content-Length" {
			pre[k] = v
		} else {
			post[k] = v
		}
	}
	var ph pollHead
	ph.pre = appendHeader(nil, pre)
	ph.post = appendHeader(nil, post)
	return &ph
}

// appendHeader appends h's lines as net/http writes them (sorted keys).
func appendHeader(b []byte, h http.Header) []byte {
	var w bytesWriter
	w.b = b
	_ = h.Write(&w)
	return w.b
}

type bytesWriter struct{ b []byte }

func (w *bytesWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

// appendHead appends the response head for a body of n bytes: net/http's
// order (sorted header lines, then Connection and Date) and spelling.
func (ph *pollHead) appendHead(b []byte, n int, close bool) []byte {
	b = append(b, "HTTP/1.1 200 OK\r\n"...)
	b = append(b, ph.pre...)
	b = append(b, "Content-Length: "...)
	b = append(b, contentLength(n)[0]...)
	b = append(b, "\r\n"...)
	b = append(b, ph.post...)
	if close {
		b = append(b, "Connection: close\r\n"...)
	}
	b = append(b, "Date: "...)
	b = appendDate(b)
	return append(b, "\r\n\r\n"...)
}

// httpDate caches the Date header value for the current second.
var httpDate atomic.Pointer[struct {
	sec int64
	val []byte
}]

func appendDate(b []byte) []byte {
	now := time.Now()
	d := httpDate.Load()
	if d == nil || d.sec != now.Unix() {
		d = &struct {
			sec int64
			val []byte
		}{now.Unix(), now.UTC().AppendFormat(nil, http.TimeFormat)}
		httpDate.Store(d)
	}
	return append(b, d.val...)
}
