package loadgen

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

// TestRawParsersAcrossReadBoundaries feeds the same SSE-in-chunked stream
// and WebSocket frame stream cut at every position: the push subscribers'
// in-place parsers must count the same messages however reads split them.
func TestRawParsersAcrossReadBoundaries(t *testing.T) {
	const run = "r1"
	p1 := string(appendPayload(nil, run, 1, time.Now().UnixNano(), 128))
	p2 := string(appendPayload(nil, run, 2, time.Now().UnixNano(), 128))
	events := "retry: 2000\n\n:\n" + "id: a-1\ndata: " + p1 + "\n\n" + "id: a-2\r\ndata: " + p2 + "\r\n\r\n" +
		"event: gap\ndata: {}\n\n"
	var chunked strings.Builder
	for i := 0; i < len(events); i += 50 {
		part := events[i:min(i+50, len(events))]
		fmt.Fprintf(&chunked, "%x;ext=1\r\n%s\r\n", len(part), part)
	}
	chunked.WriteString("0\r\n\r\n")
	sse := chunked.String()

	frames := wsFrame(true, 0x9, "hb") + // a ping: answered into discardConn
		wsFrame(true, 0x1, p1) +
		wsFrame(false, 0x1, p2[:60]) + wsFrame(true, 0x0, p2[60:]) // fragmented

	for cut := 0; cut <= len(sse); cut++ {
		tr := newTracker(run, &histogram{}, &liveCounts{}, 1)
		p := &sseParser{t: tr}
		var dc dechunker
		for _, part := range []string{sse[:cut], sse[cut:]} {
			if err := dc.feed([]byte(part), p.feed); err != nil {
				t.Fatalf("cut %d: %v", cut, err)
			}
		}
		tr.flushLive()
		if tr.unique != 2 || tr.gaps != 1 || tr.foreign != 0 || !dc.done || p.err != nil {
			t.Fatalf("sse cut %d: unique %d gaps %d foreign %d done %v err %v", cut, tr.unique, tr.gaps, tr.foreign, dc.done, p.err)
		}
		if tr.live.unique.Load() != 2 {
			t.Fatalf("sse cut %d: live count %d", cut, tr.live.unique.Load())
		}
	}
	for cut := 0; cut <= len(frames); cut++ {
		tr := newTracker(run, &histogram{}, &liveCounts{}, 1)
		r := &wsReader{t: tr, conn: discardConn{}, buf: make([]byte, 1024)}
		for _, part := range []string{frames[:cut], frames[cut:]} {
			r.end += copy(r.buf[r.end:], part)
			if err := r.parse(); err != nil {
				t.Fatalf("ws cut %d: %v", cut, err)
			}
		}
		if tr.unique != 2 || tr.foreign != 0 || r.end != 0 {
			t.Fatalf("ws cut %d: unique %d foreign %d left %d", cut, tr.unique, tr.foreign, r.end)
		}
	}
}

// wsFrame is one unmasked server frame.
func wsFrame(fin bool, op byte, payload string) string {
	b := []byte{op}
	if fin {
		b[0] |= 0x80
	}
	if len(payload) < 126 {
		b = append(b, byte(len(payload)))
	} else {
		b = append(b, 126, byte(len(payload)>>8), byte(len(payload)))
	}
	return string(b) + payload
}

// discardConn takes the pong writes.
type discardConn struct{ net.Conn }

func (discardConn) Write(b []byte) (int, error)      { return len(b), nil }
func (discardConn) SetWriteDeadline(time.Time) error { return nil }
