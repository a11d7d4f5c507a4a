package cluster

import (
	"bytes"
	"context"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/bridgeway/bridgeway/bridge/msg"
	"github.com/bridgeway/bridgeway/bridge/msglog"
)

// defaultTopicLeaseTTL bounds how long a topic has no upstream after its
// holder died: about ttl + ttl/3.
const defaultTopicLeaseTTL = 5 * time.Second

// TopicOptions configure one instance's part in a broadcast topic.
type TopicOptions struct {
	// Log configures the shared log (Fresh is implied: a topic that ended
	// starts a new incarnation).
	Log LogOptions
	// LeaseTTL of the upstream lease. Default 5s.
	LeaseTTL time.Duration
	// Hold runs while this instance holds the topic's upstream: connect,
	// resuming after lastEventID when the upstream can ("" when none was
	// seen), and append to sink until ctx ends. Returning before ctx ends
	// means the upstream ended for good: the log is closed cluster-wide with
	// the returned info.
	Hold func(ctx context.Context, sink msg.Sink, lastEventID string) msg.CloseInfo
	// SkipRepeat drops a new holder's first message when it equals the
	// log's latest one: a poller samples state, so its first answer after
	// a takeover is usually what the old holder already appended.
	SkipRepeat bool
}

// Topic is one instance's part in a cluster-wide broadcast topic: the
// mirrored log its subscribers read, and a campaign for the upstream.
type Topic struct {
	c       *Client
	name    string
	log     *StreamLog
	cancel  context.CancelFunc
	done    chan struct{}
	holding atomic.Bool
	leave   sync.Once
}

// JoinTopic opens the topic's log and campaigns for its upstream. Every
// instance with subscribers joins; exactly one holds the upstream at a
// time. Call Leave when the instance's last subscriber is gone.
func (c *Client) JoinTopic(ctx context.Context, name string, opts TopicOptions) (*Topic, error) {
	opts.Log.Fresh = true
	if opts.LeaseTTL <= 0 {
		opts.LeaseTTL = defaultTopicLeaseTTL
	}
	l, err := c.OpenLog(ctx, name, opts.Log)
	if err != nil {
		return nil, err
	}
	cctx, cancel := context.WithCancel(c.ctx)
	t := &Topic{c: c, name: name, log: l, cancel: cancel, done: make(chan struct{})}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		defer close(t.done)
		_ = c.Campaign(cctx, name, opts.LeaseTTL, func(hctx context.Context, _ *Lease) {
			t.hold(hctx, opts, cancel)
		})
	}()
	return t, nil
}

func (t *Topic) hold(ctx context.Context, opts TopicOptions, stopCampaign context.CancelFunc) {
	if closed, _ := t.log.Closed(); closed {
		stopCampaign() // the topic ended while we waited for the lease
		return
	}
	t.holding.Store(true)
	defer t.holding.Store(false)
	lastID, err := t.log.FetchUpstreamID(ctx)
	if err != nil {
		lastID = t.log.UpstreamID()
	}
	t.c.log.Debug("holding topic upstream", zap.String("topic", t.name))
	var sink msg.Sink = t.log
	if opts.SkipRepeat {
		sink = &skipRepeat{StreamLog: t.log, latest: t.latestData()}
	}
	info := opts.Hold(ctx, sink, lastID)
	// Store what this holder queued before the lease goes to another.
	t.log.Flush()
	if ctx.Err() == nil {
		t.log.Close(info)
		stopCampaign()
	}
}

// latestData is the payload of the log's newest message, nil when none.
func (t *Topic) latestData() []byte {
	pos := t.log.LatestMessage()
	b := t.log.Read(pos, nil, 1)
	if len(b.Entries) == 1 && b.Entries[0].Kind == msglog.KindMessage {
		return b.Entries[0].Msg.Data
	}
	return nil
}

// Name is the topic's log name (TopicName).
func (t *Topic) Name() string { return t.name }

// Log is the topic's log on this instance (read it with msglog.Reader).
func (t *Topic) Log() *StreamLog { return t.log }

// Holding reports whether this instance holds the upstream now.
func (t *Topic) Holding() bool { return t.holding.Load() }

// Leave stops campaigning (releasing the lease if held, so an instance that
// still has subscribers takes over) and releases the log. It does not close
// the log: with no instance left, its keys expire. Idempotent.
func (t *Topic) Leave() {
	t.leave.Do(func() {
		t.cancel()
		<-t.done
		t.log.Release()
	})
}

// skipRepeat drops the first message if it repeats the latest one.
type skipRepeat struct {
	*StreamLog
	latest  []byte
	checked bool
}

func (s *skipRepeat) Append(m msg.Message) {
	if !s.checked {
		s.checked = true
		if s.latest != nil && bytes.Equal(m.Data, s.latest) {
			return
		}
	}
	s.StreamLog.Append(m)
}
