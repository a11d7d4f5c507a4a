package cluster

import (
	"errors"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// tailCount bounds the entries one XREAD returns per stream.
const tailCount = 256

// tailer is the one goroutine per instance that follows every stream this
// instance has open (logs and inboxes) with a single blocking XREAD, instead
// of one blocked connection per waiting client.
type tailer struct {
	c *Client

	mu      sync.Mutex
	watches map[string]*watch // by stream key
	wakeID  string
}

// watch follows one stream from lastID; fn runs on the tailer goroutine
// and must not block.
type watch struct {
	key    string
	lastID string
	fn     func([]redis.XMessage)
}

func newTailer(c *Client) *tailer {
	// "0-0": a wake left from before only costs one early return.
	return &tailer{c: c, watches: map[string]*watch{}, wakeID: "0-0"}
}

// add follows key after lastID ("0-0": from the start) and wakes the
// tailer so the new stream is included at once.
func (t *tailer) add(key, lastID string, fn func([]redis.XMessage)) *watch {
	w := t.register(key, lastID, fn)
	t.wake()
	return w
}

// register follows key without waking the tailer (call wake after).
func (t *tailer) register(key, lastID string, fn func([]redis.XMessage)) *watch {
	w := &watch{key: key, lastID: lastID, fn: fn}
	t.mu.Lock()
	t.watches[key] = w
	t.mu.Unlock()
	return w
}

// remove stops w; a newer watch of the same key is left alone.
func (t *tailer) remove(w *watch) {
	if w == nil {
		return
	}
	t.mu.Lock()
	if t.watches[w.key] == w {
		delete(t.watches, w.key)
	}
	t.mu.Unlock()
}

// wake interrupts the blocked XREAD by adding to this instance's wake
// stream. Best effort: without it the new stream is picked up within
// tailBlock.
func (t *tailer) wake() {
	ctx, cancel := t.c.opContext(nil)
	defer cancel()
	key := t.c.wakeKey()
	pipe := t.c.rdb.Pipeline()
	pipe.XAdd(ctx, &redis.XAddArgs{Stream: key, MaxLen: 1, Values: []string{"w", "1"}})
	pipe.PExpire(ctx, key, tailBlock*4)
	_, _ = pipe.Exec(ctx)
}

func (t *tailer) run() {
	defer t.c.wg.Done()
	lg := t.c.log.Named("tailer")
	failures := 0
	for t.c.ctx.Err() == nil {
		t.mu.Lock()
		streams := make([]string, 0, 2*len(t.watches)+2)
		ids := make([]string, 0, len(t.watches)+1)
		streams = append(streams, t.c.wakeKey())
		ids = append(ids, t.wakeID)
		asked := make(map[string]*watch, len(t.watches))
		for k, w := range t.watches {
			streams = append(streams, k)
			ids = append(ids, w.lastID)
			asked[k] = w
		}
		t.mu.Unlock()
		streams = append(streams, ids...)
		// The blocking read gets its own deadline: the block plus a margin.
		res, err := t.c.rdb.XRead(t.c.ctx, &redis.XReadArgs{
			Streams: streams, Count: tailCount, Block: tailBlock,
		}).Result()
		if errors.Is(err, redis.Nil) {
			failures = 0
			t.c.up()
			continue
		}
		if err != nil {
			if t.c.ctx.Err() != nil {
				return
			}
			failures++
			if failures == 1 {
				lg.Warn("redis read failed; retrying", zap.Error(err))
			}
			_ = t.c.fail(err)
			if !t.c.sleep(min(time.Duration(failures)*100*time.Millisecond, 2*time.Second)) {
				return
			}
			continue
		}
		if failures > 0 {
			lg.Info("redis read recovered")
			failures = 0
		}
		t.c.up()
		t.deliver(res, asked)
	}
}

// deliver hands each stream's entries to the watch they were read for; a
// watch replaced meanwhile (a new incarnation of the log) is not fed what
// was read for its predecessor.
func (t *tailer) deliver(res []redis.XStream, asked map[string]*watch) {
	for _, s := range res {
		if len(s.Messages) == 0 {
			continue
		}
		last := s.Messages[len(s.Messages)-1].ID
		t.mu.Lock()
		if s.Stream == t.c.wakeKey() {
			t.wakeID = last
			t.mu.Unlock()
			continue
		}
		w := t.watches[s.Stream]
		if w != asked[s.Stream] {
			w = nil
		}
		if w != nil {
			w.lastID = last
		}
		t.mu.Unlock()
		if w != nil {
			w.fn(s.Messages)
		}
	}
}
