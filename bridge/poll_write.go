package bridge

import (
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/bridgeway/bridgeway/bridge/msglog"
	"github.com/bridgeway/bridgeway/config"
)

// Response header values of poll answers, built once: assigning them to the
// header map skips the key canonicalisation and the one-element slice that
// Header.Set makes per call. net/http copies the map before writing it, so
// the shared slices are never modified.
var (
	contentTypeJSON       = []string{"application/json"}
	contentTypeJavaScript = []string{"application/javascript"}
	noSniff               = []string{"nosniff"}
	cacheNoStore          = []string{"no-store"}
)

// setPollHeaders sets the headers of every poll answer but its length:
// the handler's path and the parked one (poll_park.go) send the same.
func setPollHeaders(h http.Header, transport string) {
	if transport == config.TransportJSONP {
		h["Content-Type"] = contentTypeJavaScript
	} else {
		h["Content-Type"] = contentTypeJSON
	}
	h["X-Content-Type-Options"] = noSniff
	h["Cache-Control"] = cacheNoStore
}

// maxPooledPollBuffer bounds the answer buffers kept for reuse; a larger
// answer (up to config.MaxPollBytes) gets a buffer of its own.
const maxPooledPollBuffer = 64 << 10

var pollBuffers sync.Pool

// getPollBuffer returns an empty buffer with room for size bytes.
func getPollBuffer(size int) *[]byte {
	if size <= maxPooledPollBuffer {
		if p, ok := pollBuffers.Get().(*[]byte); ok {
			if cap(*p) >= size {
				return p
			}
			pollBuffers.Put(p)
		}
		size = max(size, 1024)
	}
	b := make([]byte, 0, size)
	return &b
}

// putPollBuffer keeps a buffer for the next answer once it is written
// (ResponseWriter.Write does not retain its argument).
func putPollBuffer(p *[]byte) {
	if cap(*p) > maxPooledPollBuffer {
		return
	}
	*p = (*p)[:0]
	pollBuffers.Put(p)
}

// pollAnswerSize is a close upper estimate of an answer's length, so the
// body is built without growing.
func pollAnswerSize(a *attachment, callback string, ans *pollAnswer) int {
	n := 64 + len(callback) + 2*(maxEpochCursor)
	if id := a.sessionID(); id != "" {
		n += 64 + 2*len(id)
	}
	for _, e := range ans.entries {
		n += len(e.Encoded(msglog.FormatJSON, encodeJSON)) + 1
	}
	if g := ans.gap; g != nil {
		n += 32 + len(g.From) + len(g.To)
	}
	if c := ans.closed; c != nil {
		n += 48 + 6*len(c.Reason)
	}
	return n
}

// maxEpochCursor is the longest cursor ("<epoch>-<seq>") a log makes.
const maxEpochCursor = 64 + 1 + 20

// contentLengths caches the Content-Length header values of small answers
// (most polls), made on first use.
var contentLengths [4096]atomic.Pointer[[]string]

// contentLength is the header value for an answer of n bytes.
func contentLength(n int) []string {
	if n >= len(contentLengths) {
		return []string{strconv.Itoa(n)}
	}
	if p := contentLengths[n].Load(); p != nil {
		return *p
	}
	v := []string{strconv.Itoa(n)}
	contentLengths[n].Store(&v)
	return v
}
