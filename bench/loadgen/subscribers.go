package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/websocket"
)

// Client transports the generator speaks.
const (
	TransportWebSocket = "websocket"
	TransportSSE       = "sse"
	TransportLongPoll  = "longpoll"
	TransportStream    = "stream"
)

// Dialects: the few wire differences between servers.
const (
	// DialectBridgeway: BASE/ws, BASE/sse, BASE/poll (JSON answers with
	// cursors), BASE/stream (NDJSON), per docs/protocol.md.
	DialectBridgeway = "bridgeway"
	// DialectNchan: one nchan subscriber location for every transport;
	// long-poll answers carry one raw message and resume with
	// If-Modified-Since / If-None-Match from Last-Modified / Etag.
	DialectNchan = "nchan"
	// DialectPlain: the URL as given, "{transport}" replaced by sse or
	// websocket; SSE and WebSocket only (Centrifugo's uni_sse and
	// uni_websocket, Pushpin in front of the bench's GRIP backend, the floor).
	DialectPlain = "plain"
)

// subscriberEnv is what all subscribers of a run share.
type subscriberEnv struct {
	dialect string
	base    string // subscriber base URL (http://...)
	client  *http.Client
	dialer  *websocket.Dialer
	// netDialer makes every subscriber connection (from the run's source address, if any).
	netDialer *net.Dialer
	// wsHello is sent as a text message right after a WebSocket handshake.
	wsHello string
}

// newSubscriberEnv: source, when not nil, is the local address every
// subscriber connects from.
func newSubscriberEnv(dialect, base string, conns int, source net.IP) *subscriberEnv {
	netDialer := newNetDialer(source)
	tr := &http.Transport{
		DialContext:         netDialer.DialContext,
		MaxIdleConns:        0, // no cap: every long-poller keeps its connection
		MaxIdleConnsPerHost: conns + 16,
		IdleConnTimeout:     2 * time.Minute,
		DisableCompression:  true,
		ReadBufferSize:      4096,
		WriteBufferSize:     1024,
		ForceAttemptHTTP2:   false,
	}
	return &subscriberEnv{
		dialect:   dialect,
		base:      strings.TrimRight(base, "/"),
		client:    &http.Client{Transport: tr},
		netDialer: netDialer,
		dialer: &websocket.Dialer{
			NetDialContext:   netDialer.DialContext,
			HandshakeTimeout: 15 * time.Second,
			ReadBufferSize:   1024,
			WriteBufferSize:  256,
		},
	}
}

// raw reports whether push subscribers read their own sockets
// (rawstream.go): plain http:// only; https:// goes through net/http and
// gorilla.
func (e *subscriberEnv) raw() bool { return strings.HasPrefix(e.base, "http://") }

func (e *subscriberEnv) close() {
	e.client.CloseIdleConnections()
}

// urlFor maps a transport to the URL the dialect serves it on.
func (e *subscriberEnv) urlFor(transport string) string {
	u := e.base
	if e.dialect == DialectPlain {
		u = strings.ReplaceAll(u, "{transport}", transport)
	}
	if e.dialect == DialectBridgeway {
		switch transport {
		case TransportWebSocket:
			u += "/ws"
		case TransportSSE:
			u += "/sse"
		case TransportLongPoll:
			u += "/poll"
		case TransportStream:
			u += "/stream"
		}
	}
	if transport == TransportWebSocket {
		u = strings.Replace(strings.Replace(u, "https://", "wss://", 1), "http://", "ws://", 1)
	}
	return u
}

// subscribe runs one subscriber until ctx ends or the server ends it.
// ready is called once, when the subscription is in place or has failed.
func (e *subscriberEnv) subscribe(ctx context.Context, transport string, t *tracker, ready func()) {
	var err error
	switch transport {
	case TransportWebSocket:
		if e.raw() {
			err = e.runRawWebSocket(ctx, t, ready)
		} else {
			err = e.runWebSocket(ctx, t, ready)
		}
	case TransportSSE:
		if e.raw() {
			err = e.runRawSSE(ctx, t, ready)
		} else {
			err = e.runSSE(ctx, t, ready)
		}
	case TransportLongPoll:
		if e.dialect == DialectNchan {
			err = e.runNchanLongPoll(ctx, t, ready)
		} else {
			err = e.runLongPoll(ctx, t, ready)
		}
	case TransportStream:
		err = e.runStream(ctx, t, ready)
	default:
		err = fmt.Errorf("subscribe: unknown transport %q", transport)
	}
	ready() // idempotent; covers failures before the subscription was in place
	if ctx.Err() == nil {
		t.err = err
		if t.connected {
			t.live.dropped.Add(1)
		}
	}
	if !t.connected {
		t.live.failed.Add(1)
	}
}

func (e *subscriberEnv) runWebSocket(ctx context.Context, t *tracker, ready func()) error {
	conn, resp, err := e.dialer.DialContext(ctx, e.urlFor(TransportWebSocket), nil)
	if err != nil {
		if resp != nil {
			return fmt.Errorf("websocket: dial: %w (status %d)", err, resp.StatusCode)
		}
		return fmt.Errorf("websocket: dial: %w", err)
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	defer conn.Close()
	if e.wsHello != "" {
		if err := conn.WriteMessage(websocket.TextMessage, []byte(e.wsHello)); err != nil {
			return fmt.Errorf("websocket: hello: %w", err)
		}
	}
	t.markConnected()
	ready()
	buf := make([]byte, 0, 512)
	for {
		_, r, err := conn.NextReader()
		if err != nil {
			return fmt.Errorf("websocket: read: %w", err)
		}
		if buf, err = readAllInto(buf[:0], r); err != nil {
			return fmt.Errorf("websocket: read: %w", err)
		}
		t.deliver(buf, time.Now())
	}
}

// readAllInto reads r to EOF into buf, reusing its capacity.
func readAllInto(buf []byte, r io.Reader) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

func (e *subscriberEnv) get(ctx context.Context, u string, accept string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := e.client.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		resp.Body.Close()
		return nil, fmt.Errorf("status %d: %s", resp.StatusCode, bytes.TrimSpace(body))
	}
	return resp, nil
}

func (e *subscriberEnv) runSSE(ctx context.Context, t *tracker, ready func()) error {
	resp, err := e.get(ctx, e.urlFor(TransportSSE), "text/event-stream")
	if err != nil {
		return fmt.Errorf("sse: %w", err)
	}
	defer resp.Body.Close()
	t.markConnected()
	ready()
	br := bufio.NewReaderSize(resp.Body, 2048)
	var data, event []byte
	hasData := false
	for {
		line, err := readLine(br)
		if err != nil {
			return fmt.Errorf("sse: read: %w", err)
		}
		switch {
		case len(line) == 0: // end of event
			if hasData {
				switch string(event) {
				case "", "message":
					t.deliver(data, time.Now())
				case "gap":
					t.gaps++
				case "close":
					return fmt.Errorf("sse: server closed the stream: %s", data)
				}
			}
			data, event, hasData = data[:0], event[:0], false
		case line[0] == ':': // comment / heartbeat
		case bytes.HasPrefix(line, []byte("data:")):
			if hasData {
				data = append(data, '\n')
			}
			data = append(data, trimField(line[5:])...)
			hasData = true
		case bytes.HasPrefix(line, []byte("event:")):
			event = append(event[:0], trimField(line[6:])...)
		}
	}
}

func trimField(v []byte) []byte {
	if len(v) > 0 && v[0] == ' ' {
		return v[1:]
	}
	return v
}

// readLine returns one line without its CR/LF; it may alias br's buffer.
func readLine(br *bufio.Reader) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		long := append([]byte(nil), line...)
		for err == bufio.ErrBufferFull {
			line, err = br.ReadSlice('\n')
			long = append(long, line...)
		}
		line = long
	}
	if err != nil {
		return nil, err
	}
	line = bytes.TrimSuffix(line, []byte("\n"))
	return bytes.TrimSuffix(line, []byte("\r")), nil
}

// wireMessage is a message as bridgeway's NDJSON stream (and, through
// json.Unmarshal, its long-poll) carries it. A gap message has a gap
// object and no event.
type wireMessage struct {
	ID     string          `json:"id"`
	Event  string          `json:"event"`
	Data   string          `json:"data"`
	Binary bool            `json:"binary"`
	Gap    json.RawMessage `json:"gap"`
}

func (t *tracker) deliverWire(m *wireMessage, now time.Time) {
	t.deliverEvent([]byte(m.Event), []byte(m.Data), len(m.Gap) > 0 && string(m.Gap) != "null", now)
}

// deliverEvent counts one message of bridgeway's JSON formats: a gap
// message, or a payload when its event is the default.
func (t *tracker) deliverEvent(event, data []byte, gap bool, now time.Time) {
	switch {
	case gap || string(event) == "gap":
		t.gaps++
	case len(event) == 0 || string(event) == "message":
		t.deliver(data, now)
	}
}

// runLongPoll speaks bridgeway's long-poll: the first GET subscribes and
// answers at once; later GETs hand back the cursor.
func (e *subscriberEnv) runLongPoll(ctx context.Context, t *tracker, ready func()) error {
	c, err := newRawClient(e.urlFor(TransportLongPoll), e.netDialer)
	if err != nil {
		return err
	}
	defer c.close()
	headers := []string{"Accept", "application/json"}
	var (
		resp  rawResponse
		ans   polled
		query []byte
	)
	for {
		if err := c.get(ctx, query, headers, &resp); err != nil {
			return fmt.Errorf("longpoll: %w", err)
		}
		if resp.status != 200 {
			return fmt.Errorf("longpoll: %w", resp.statusError())
		}
		if err := ans.decode(resp.body); err != nil {
			return fmt.Errorf("longpoll: decode: %w", err)
		}
		t.markConnected()
		ready()
		t.pollAnswered(len(ans.messages) > 0)
		now := time.Now()
		for i := range ans.messages {
			m := &ans.messages[i]
			t.deliverEvent(m.event, m.data, m.gap, now)
		}
		if ans.gap {
			t.gaps++
		}
		if ans.closed != nil {
			return fmt.Errorf("longpoll: server closed: %s", ans.closed)
		}
		query = appendNextPollQuery(query[:0], &ans)
	}
}

// runNchanLongPoll speaks nchan's long-poll: each answer is one raw
// message; the next request resumes after it by its Last-Modified and Etag.
func (e *subscriberEnv) runNchanLongPoll(ctx context.Context, t *tracker, ready func()) error {
	c, err := newRawClient(e.urlFor(TransportLongPoll), e.netDialer)
	if err != nil {
		return err
	}
	defer c.close()
	var (
		resp    rawResponse
		headers []string
	)
	// nchan registers the subscriber when the first request arrives; the
	// run's settle time covers the gap, and the bench's nchan config
	// delivers from the oldest message of a fresh channel anyway.
	t.markConnected()
	ready()
	for {
		if err := c.get(ctx, nil, headers, &resp); err != nil {
			return fmt.Errorf("longpoll: %w", err)
		}
		t.pollAnswered(resp.status == 200)
		switch resp.status {
		case 200:
			t.deliver(resp.body, time.Now())
			headers = append(headers[:0], "If-Modified-Since", string(resp.lastModified),
				"If-None-Match", string(resp.etag))
		case 304, 408:
			// timed out without a message: ask again from the same place
		default:
			return fmt.Errorf("longpoll: %w", resp.statusError())
		}
	}
}

// runStream speaks bridgeway's NDJSON stream: one message object a line,
// blank lines as heartbeats, a first line {"cursor":C} (where the
// subscriber starts) that carries no message.
func (e *subscriberEnv) runStream(ctx context.Context, t *tracker, ready func()) error {
	resp, err := e.get(ctx, e.urlFor(TransportStream), "application/x-ndjson")
	if err != nil {
		return fmt.Errorf("stream: %w", err)
	}
	defer resp.Body.Close()
	t.markConnected()
	ready()
	br := bufio.NewReaderSize(resp.Body, 2048)
	var m wireMessage
	for {
		line, err := readLine(br)
		if err != nil {
			return fmt.Errorf("stream: read: %w", err)
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 || line[0] != '{' {
			continue // heartbeat or padding
		}
		m = wireMessage{}
		if err := json.Unmarshal(line, &m); err != nil {
			return fmt.Errorf("stream: decode: %w", err)
		}
		if m.ID == "" {
			continue // the start line
		}
		t.deliverWire(&m, time.Now())
	}
}
