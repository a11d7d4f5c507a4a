// Package cluster keeps bridgeway's shared state in Redis so several gateway
// instances can serve the same sessions and topics without sticky sessions:
//
//   - StreamLog: the ordered, bounded message log of a session or topic as a
//     Redis Stream, mirrored on each instance by one shared XREAD reader
//     (tailer), so reads are local and every entry is encoded once per
//     instance. It satisfies Log, the method set of bridge/msglog.Log.
//   - Lease: exactly one instance holds a topic's upstream.
//   - Inbox and Send: client sends arriving at any instance reach the
//     instance that owns the session's upstream, in order, once per seq.
//
// Client owns the Redis connection pool, the tailer and the housekeeping
// loop that refreshes TTLs; everything it starts stops with Close.
package cluster

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
	"go.uber.org/zap"
)

// ErrUnavailable wraps every error caused by Redis being unreachable or
// failing, so callers can answer 503 without knowing go-redis.
var ErrUnavailable = errors.New("cluster: redis unavailable")

// ErrClosed is returned after Client.Close.
var ErrClosed = errors.New("cluster: client closed")

// Defaults for Options left at zero.
const (
	defaultPrefix    = "bw"
	defaultOpTimeout = 2 * time.Second
	defaultKeyTTL    = time.Minute
	// downBackoff is how long appends fail fast after Redis failed, so an
	// upstream reader is not held for a dial timeout per message.
	downBackoff = 500 * time.Millisecond
	// tailBlock is the longest one XREAD waits; the tailer is woken sooner
	// when a stream is added.
	tailBlock = 5 * time.Second
)

// Options configure a Client.
type Options struct {
	// URL is the redis:// (or rediss://) URL of cluster.redis. Required.
	URL string
	// InstanceID names this gateway instance in leases and session owners.
	// Default: 16 random bytes, base64url.
	InstanceID string
	// Prefix starts every key. Default "bw".
	Prefix string
	// OpTimeout bounds one round trip. Default 2s.
	OpTimeout time.Duration
	// KeyTTL is the default lifetime of a log's keys after the last append
	// or touch (refreshed every KeyTTL/3 while an instance has it open).
	// Default 1m.
	KeyTTL time.Duration
	// Logger; nil logs nothing.
	Logger *zap.Logger
	// Registry for the bridgeway_redis_* metrics; nil registers nothing.
	Registry prometheus.Registerer
}

// Client is one instance's connection to the cluster state.
type Client struct {
	rdb       *redis.Client
	id        string
	prefix    string
	opTimeout time.Duration
	keyTTL    time.Duration
	log       *zap.Logger
	metrics   *metrics

	ctx    context.Context // cancelled by Close; parent of every loop
	cancel context.CancelFunc
	wg     sync.WaitGroup

	downUntil atomic.Int64 // unix nanos until which Redis counts as down; 0 after a success

	recoverMu sync.Mutex
	recovered chan struct{} // closed and replaced when Redis answers again after failing

	tail *tailer

	mu      sync.Mutex
	logs    map[string]*StreamLog     // open logs by name, one per name
	remotes map[*RemoteSession]string // sessions served here, owned elsewhere: owner key
	closed  bool
}

// New connects lazily (the first command dials) and starts the tailer and
// housekeeping loops.
func New(opts Options) (*Client, error) {
	ro, err := redis.ParseURL(opts.URL)
	if err != nil {
		// Not wrapped: parse errors quote the URL, password included.
		return nil, errors.New("cluster: cluster.redis is not a valid redis:// or rediss:// URL")
	}
	if opts.InstanceID == "" {
		opts.InstanceID = randomID(16)
	}
	if opts.Prefix == "" {
		opts.Prefix = defaultPrefix
	}
	if opts.OpTimeout <= 0 {
		opts.OpTimeout = defaultOpTimeout
	}
	if opts.KeyTTL <= 0 {
		opts.KeyTTL = defaultKeyTTL
	}
	lg := opts.Logger
	if lg == nil {
		lg = zap.NewNop()
	}
	ro.DialTimeout = opts.OpTimeout
	ro.ReadTimeout = opts.OpTimeout
	ro.WriteTimeout = opts.OpTimeout
	ro.ContextTimeoutEnabled = true
	ro.DisableIdentity = true
	ro.MaxRetries = -1 // no retries (0 means 3!): a retried append could store twice
	ro.DialerRetries = 1
	ro.Protocol = 2
	ro.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	rdb := redis.NewClient(ro)
	m := newMetrics(opts.Registry)
	rdb.AddHook(m.hook())
	ctx, cancel := context.WithCancel(context.Background())
	c := &Client{
		rdb:       rdb,
		id:        opts.InstanceID,
		prefix:    opts.Prefix,
		opTimeout: opts.OpTimeout,
		keyTTL:    opts.KeyTTL,
		log:       lg.Named("cluster").With(zap.String("instance", opts.InstanceID)),
		metrics:   m,
		ctx:       ctx,
		cancel:    cancel,
		logs:      map[string]*StreamLog{},
		remotes:   map[*RemoteSession]string{},
		recovered: make(chan struct{}),
	}
	c.tail = newTailer(c)
	c.wg.Add(2)
	go c.tail.run()
	go c.housekeep()
	return c, nil
}

// InstanceID names this instance.
func (c *Client) InstanceID() string { return c.id }

// Redis exposes the underlying go-redis client (for tests and tools).
func (c *Client) Redis() *redis.Client { return c.rdb }

// Ready reports whether Redis answers PING (for /readyz).
func (c *Client) Ready(ctx context.Context) error {
	ctx, cancel := c.opContext(ctx)
	defer cancel()
	if err := c.rdb.Ping(ctx).Err(); err != nil {
		return c.fail(err)
	}
	c.up()
	return nil
}

// Close stops every loop and closes the connections. It does not release
// leases or session ownership: like a killed process, it lets them expire
// (release them first for a graceful handover). Open logs stop following
// Redis. Idempotent.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.mu.Unlock()
	c.cancel()
	err := c.rdb.Close() // ends a blocked XREAD at once
	c.wg.Wait()
	return err
}

// opContext bounds one round trip and ties it to the client's life.
func (c *Client) opContext(parent context.Context) (context.Context, context.CancelFunc) {
	if parent == nil {
		parent = c.ctx
	}
	ctx, cancel := context.WithTimeout(parent, c.opTimeout)
	stop := context.AfterFunc(c.ctx, cancel)
	return ctx, func() { stop(); cancel() }
}

// fail classifies err: Redis-side failures are wrapped in ErrUnavailable and
// start the fail-fast window; script-level answers pass through.
func (c *Client) fail(err error) error {
	if err == nil {
		return nil
	}
	if c.ctx.Err() != nil || errors.Is(err, redis.ErrClosed) {
		return ErrClosed
	}
	if errors.Is(err, context.Canceled) {
		return err // the caller gave up (a client left): says nothing of Redis
	}
	c.downUntil.Store(time.Now().Add(downBackoff).UnixNano())
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
}

// down reports whether a recent failure says not to try Redis yet.
func (c *Client) down() bool { return time.Now().UnixNano() < c.downUntil.Load() }

// up clears the fail-fast window after a success; the first success after
// a failure wakes leases so they re-check (re-claim) at once: a Redis that
// restarted empty has lost every lease and session owner.
func (c *Client) up() {
	if c.downUntil.Swap(0) == 0 {
		return
	}
	c.recoverMu.Lock()
	close(c.recovered)
	c.recovered = make(chan struct{})
	c.recoverMu.Unlock()
}

// recoveries returns a channel closed at the next recovery.
func (c *Client) recoveries() <-chan struct{} {
	c.recoverMu.Lock()
	defer c.recoverMu.Unlock()
	return c.recovered
}

// sleep waits d or until Close; false when closed.
func (c *Client) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-c.ctx.Done():
		return false
	}
}

// RedirectRedisLogs sends go-redis's own log lines (pool dial failures) to
// lg at debug level instead of stderr. go-redis has one process-wide
// logger, so cmd/ calls this once; tests pass a no-op logger.
func RedirectRedisLogs(lg *zap.Logger) {
	redis.SetLogger(redisLogger{lg.Named("goredis")})
}

type redisLogger struct{ lg *zap.Logger }

func (r redisLogger) Printf(_ context.Context, format string, v ...any) {
	if ce := r.lg.Check(zap.DebugLevel, "go-redis"); ce != nil {
		ce.Write(zap.String("msg", fmt.Sprintf(format, v...)))
	}
}

func randomID(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
