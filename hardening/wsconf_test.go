package hardening

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A WebSocket conformance suite modelled on the Autobahn TestSuite's
// fuzzingclient (sections 1-7, 9 at small sizes, 10; wsconf_cases_test.go).
// Every case sends raw client frames to each WebSocket path the gateway
// serves itself (session route, broadcast route with client_send,
// pass-through tunnel; plain and TLS) and to a gorilla/websocket echo server
// directly (the reference, which passes Autobahn), records what comes back
// (data messages, pongs, the close frame, anything after it, the TCP end)
// and fails on each difference RFC 6455 forbids (wsconfCompare).

// wsconfGuard bounds each wait; no case asserts on how long anything took.
const wsconfGuard = 10 * time.Second

// wsconfMargin is kept before go test's -timeout for the gateway's
// shutdown and the report.
const wsconfMargin = 5 * time.Second

// wsconfDeadline is when a wait started now gives up: wsconfGuard ahead,
// or earlier when go test's -timeout comes first. Each case ending within
// its guard does not bound the suite: cases that each wait a few seconds
// (a peer that never got a FIN, ended by the tunnel's grace) add up, and
// go test would panic in whatever read was running.
func wsconfDeadline(t *testing.T) time.Time {
	d := time.Now().Add(wsconfGuard)
	if end, ok := t.Deadline(); ok && end.Add(-wsconfMargin).Before(d) {
		return end.Add(-wsconfMargin)
	}
	return d
}

// wsconfOutOfTime stops the suite at a named case once the waits cannot
// get their guard any more.
func wsconfOutOfTime(t *testing.T, after string, ran, of int) {
	t.Helper()
	if end, ok := t.Deadline(); ok && time.Now().After(end.Add(-wsconfMargin)) {
		t.Fatalf("out of time after case %s (%d of %d cases ran): the cases are waiting for something", after, ran, of)
	}
}

// wsconfCase is one case: frames written one per write. A case whose
// frames hold no close frame is ended by the client with close 1000 once
// it got what the reference answered (or a close frame).
type wsconfCase struct {
	id     string // Autobahn's numbering where the case follows one
	frames [][]byte
	closes bool // the frames hold a close frame
	// codes lists further close codes allowed beside the reference's, with
	// the reason (RFC 6455 leaves the choice to the endpoint).
	codes []int
}

// wsconfOutcome is what one endpoint did in one case.
type wsconfOutcome struct {
	messages   []string // data messages, reassembled (an intermediary may refragment)
	pongs      []string
	closeCode  int    // 0: none; 1005: an empty close payload
	afterClose int    // frames received after the close frame
	violation  string // a server frame breaking RFC 6455 (masked, RSV bits, bad fragmentation)
	end        string // "FIN", "RST" or "open" (still open at the guard)
}

func (o wsconfOutcome) String() string {
	return fmt.Sprintf("messages %d pongs %d close %d after-close %d end %s %s",
		len(o.messages), len(o.pongs), o.closeCode, o.afterClose, o.end, o.violation)
}

// wsconfRun plays one case against one target. want (nil for the
// reference) says how many messages and pongs to wait for before the
// client closes.
func wsconfRun(t *testing.T, target wsconfTarget, caseNo int, tc wsconfCase, want *wsconfOutcome) wsconfOutcome {
	c, br := target.open(t, caseNo)
	_ = c.SetDeadline(wsconfDeadline(t))
	var out wsconfOutcome
	sentClose := tc.closes
	for _, f := range tc.frames {
		if _, err := c.Write(f); err != nil {
			break // the server may have failed the connection already
		}
	}
	closeNow := func() {
		if !sentClose {
			sentClose = true
			_, _ = c.Write(clientBytes(0x88, []byte{0x03, 0xe8}))
		}
	}
	if want == nil || len(want.messages) == 0 && len(want.pongs) == 0 {
		closeNow()
	}
	var msg []byte
	var msgOp byte
	inMsg := false
	for {
		f, err := readServerFrame(br)
		if err != nil {
			out.end = tcpEnd(err)
			return out
		}
		if out.closeCode != 0 {
			out.afterClose++
			continue
		}
		if f.b1&0x80 != 0 || f.b0&0x70 != 0 {
			out.violation = fmt.Sprintf("frame header %#x %#x", f.b0, f.b1)
		}
		switch op := f.opcode(); op {
		case 0x8:
			out.closeCode = 1005
			if len(f.payload) >= 2 {
				out.closeCode = int(binary.BigEndian.Uint16(f.payload))
			}
			if !sentClose {
				sentClose = true
				_, _ = c.Write(clientBytes(0x88, f.payload[:min(2, len(f.payload))]))
			}
		case 0x9:
			_, _ = c.Write(clientBytes(0x8a, f.payload))
		case 0xa:
			out.pongs = append(out.pongs, string(f.payload))
		case 0x1, 0x2, 0x0:
			if (op == 0) != inMsg {
				out.violation = "bad fragmentation from the server"
			}
			if op != 0 {
				msg, msgOp = nil, op
			}
			msg = append(msg, f.payload...)
			inMsg = !f.fin()
			if f.fin() {
				out.messages = append(out.messages, fmt.Sprintf("%d:%s", msgOp, msg))
			}
		default:
			out.violation = fmt.Sprintf("opcode %d from the server", op)
		}
		if want != nil && len(out.messages) >= len(want.messages) && len(out.pongs) >= len(want.pongs) {
			closeNow()
		}
	}
}

// tcpEnd names how a connection ended from the error that ended reading.
func tcpEnd(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "FIN"
	case errors.Is(err, syscall.ECONNRESET):
		return "RST"
	case errors.As(err, &ne) && ne.Timeout():
		return "open"
	}
	return "error: " + err.Error()
}

// wsconfCompare reports the differences RFC 6455 forbids between a
// target's outcome and the reference's.
func wsconfCompare(tc wsconfCase, ref, got wsconfOutcome) []string {
	var bad []string
	if got.violation != "" {
		bad = append(bad, "server frame breaks RFC 6455: "+got.violation)
	}
	if got.afterClose > 0 {
		bad = append(bad, fmt.Sprintf("%d frames after the close frame (5.5.1)", got.afterClose))
	}
	if got.closeCode != ref.closeCode && !slices.Contains(tc.codes, got.closeCode) {
		bad = append(bad, fmt.Sprintf("close code %d, reference %d", got.closeCode, ref.closeCode))
	}
	switch {
	case got.end == "open" && ref.end != "open":
		bad = append(bad, "the connection was not closed")
	case got.end == "RST" && ref.end == "FIN":
		// RFC 6455 does not name the TCP end, but a reset can destroy the
		// close frame before the client reads it (7.1.1: the server
		// closes the TCP connection after the closing handshake).
		bad = append(bad, "a reset where the reference ended with a FIN")
	}
	// A failed connection, or one the client closed, may end before echoes
	// or pongs came back through the upstream (nothing may follow the
	// close frame, 5.5.1): what came must be a prefix of the reference's.
	normal := !tc.closes && (ref.closeCode == 1000 || ref.closeCode == 1005 || ref.closeCode >= 3000)
	if normal && !slices.Equal(got.messages, ref.messages) || !normal && !isPrefix(got.messages, ref.messages) {
		bad = append(bad, fmt.Sprintf("messages differ: %d, reference %d", len(got.messages), len(ref.messages)))
	}
	if normal && !slices.Equal(got.pongs, ref.pongs) || !normal && !isPrefix(got.pongs, ref.pongs) {
		bad = append(bad, fmt.Sprintf("pongs %q, reference %q (5.5.3)", got.pongs, ref.pongs))
	}
	return bad
}

func isPrefix(a, b []string) bool { return len(a) <= len(b) && slices.Equal(a, b[:len(a)]) }

// TestWebSocketConformance runs every case on every target and compares
// each with the reference.
func TestWebSocketConformance(t *testing.T) {
	echo := wsconfEcho(t)
	targets := wsconfTargets(t, echo)
	cases := wsconfCases()
	refs := make([]wsconfOutcome, len(cases))
	for i, tc := range cases {
		refs[i] = wsconfRun(t, targets[0], i, tc, nil)
		wsconfOutOfTime(t, "reference "+tc.id, i+1, len(cases))
	}
	for _, target := range targets[1:] {
		t.Run(target.name, func(t *testing.T) {
			for i, tc := range cases {
				got := wsconfRun(t, target, i, tc, &refs[i])
				if bad := wsconfCompare(tc, refs[i], got); len(bad) > 0 {
					t.Errorf("case %s: %s\n\tgot       %v\n\treference %v", tc.id, strings.Join(bad, "; "), got, refs[i])
				} else if testing.Verbose() {
					t.Logf("case %s: %v (reference end %s)", tc.id, got, refs[i].end)
				}
				wsconfOutOfTime(t, tc.id, i+1, len(cases))
			}
		})
	}
}
