// Package loadgen is bridgeway's load generator: it opens many subscribers
// over one or more client transports, publishes timestamped messages at a set
// rate, and counts what arrives (delivered, lost, duplicated, out of order,
// latency), together with the server's CPU and memory read from /proc.
//
// It speaks two dialects: bridgeway's wire format (docs/protocol.md)
// and nginx+nchan's, so the same load can be run against both.
package loadgen

import (
	"bytes"
	"errors"
	"strconv"
)

// Payloads are plain ASCII so they pass unchanged through every transport
// (SSE data lines, JSON strings, WebSocket text frames, nchan bodies):
//
//	bw1 RUN SEQ SENDNANOS xxxxxxxx...
//
// RUN tells this run's messages from a previous run's (a snapshot or a
// buffered message of a topic that outlived its publisher).
const payloadMagic = "bw1 "

var errNotPayload = errors.New("payload: not a load generator message")

// appendPayload appends a payload of exactly size bytes (or the minimum that
// holds the fields, when size is smaller) to dst.
func appendPayload(dst []byte, run string, seq uint64, sentNanos int64, size int) []byte {
	start := len(dst)
	dst = append(dst, payloadMagic...)
	dst = append(dst, run...)
	dst = append(dst, ' ')
	dst = strconv.AppendUint(dst, seq, 10)
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, sentNanos, 10)
	dst = append(dst, ' ')
	for len(dst)-start < size {
		dst = append(dst, 'x')
	}
	return dst
}

// parsePayload reads run, sequence number and send time from a payload.
// It does not allocate: run aliases p.
func parsePayload(p []byte) (run []byte, seq uint64, sentNanos int64, err error) {
	if !bytes.HasPrefix(p, []byte(payloadMagic)) {
		return nil, 0, 0, errNotPayload
	}
	rest := p[len(payloadMagic):]
	fields := [3][]byte{}
	for i := range fields {
		sp := bytes.IndexByte(rest, ' ')
		if sp <= 0 {
			return nil, 0, 0, errNotPayload
		}
		fields[i], rest = rest[:sp], rest[sp+1:]
	}
	seq, ok := parseUint(fields[1])
	if !ok {
		return nil, 0, 0, errNotPayload
	}
	ts, ok := parseUint(fields[2])
	if !ok {
		return nil, 0, 0, errNotPayload
	}
	return fields[0], seq, int64(ts), nil
}

// parseUint parses a decimal without the string conversion strconv needs.
func parseUint(b []byte) (uint64, bool) {
	if len(b) == 0 || len(b) > 19 {
		return 0, false
	}
	var n uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	return n, true
}
