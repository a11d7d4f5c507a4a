// Package wire holds the byte-level formats the bridge shows clients:
// cursors, SSE events and JSON message objects. It is pure and allocation
// conscious: the log caches each message's encodings, so every reader of a
// session or topic shares the same bytes.
package wire

import (
	"errors"
	"strconv"
	"strings"
)

// ErrBadCursor is returned for a cursor that is not "<epoch>-<seq>".
var ErrBadCursor = errors.New("wire: bad cursor")

// maxEpochLen bounds the epoch part; session ids (22 chars) and topic
// epochs (11 chars) fit easily.
const maxEpochLen = 64

// Cursor is a position in one log: every message with a larger Seq comes
// after it. Epoch names the log instance (a session id, or a random value per
// topic incarnation), so a cursor from an older incarnation is recognised.
type Cursor struct {
	Epoch string
	Seq   uint64
}

// String formats the cursor as "<epoch>-<seq>".
func (c Cursor) String() string { return string(AppendCursor(nil, c.Epoch, c.Seq)) }

// AppendCursor appends "<epoch>-<seq>" to dst.
func AppendCursor(dst []byte, epoch string, seq uint64) []byte {
	dst = append(dst, epoch...)
	dst = append(dst, '-')
	return strconv.AppendUint(dst, seq, 10)
}

// ParseCursor reads "<epoch>-<seq>". The epoch is 1–64 characters of
// [A-Za-z0-9_-] (it may itself hold '-': the seq follows the last one); the
// seq is a canonical decimal uint64.
func ParseCursor(s string) (Cursor, error) {
	i := strings.LastIndexByte(s, '-')
	if i <= 0 || i > maxEpochLen {
		return Cursor{}, ErrBadCursor
	}
	epoch, digits := s[:i], s[i+1:]
	if !validEpoch(epoch) || !canonicalDigits(digits) {
		return Cursor{}, ErrBadCursor
	}
	seq, err := strconv.ParseUint(digits, 10, 64)
	if err != nil {
		return Cursor{}, ErrBadCursor
	}
	return Cursor{Epoch: epoch, Seq: seq}, nil
}

func validEpoch(s string) bool {
	if s == "" || len(s) > maxEpochLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c == '-' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// canonicalDigits accepts "0" and decimal numbers without leading zeros, so
// each position has exactly one spelling.
func canonicalDigits(s string) bool {
	if s == "" || len(s) > 20 || (len(s) > 1 && s[0] == '0') {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
