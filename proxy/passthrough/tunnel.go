package passthrough

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/bridgeway/bridgeway/internal/jsonerr"
	"github.com/bridgeway/bridgeway/internal/rawsock"
)

const (
	// closeGrace is how long the other direction may keep going once one
	// side of a tunnel has ended (enough to finish a closing handshake).
	closeGrace = 5 * time.Second
	// closeWriteTimeout bounds writing an injected close frame.
	closeWriteTimeout = 5 * time.Second
)

// tunnel relays one WebSocket connection frame by frame in both directions.
// serve, running in the handler's goroutine, runs pumpClientToUpstream
// itself and pumpUpstreamToClient in a goroutine it owns, waits for both and
// closes both connections.
type tunnel struct {
	h          *Handler
	client     net.Conn
	upstream   net.Conn
	toClient   *direction
	toUpstream *direction
	done       chan struct{} // closed when both connections are closed

	mu      sync.Mutex // guards graceAt and deadline changes
	graceAt time.Time  // zero until one side ended
	// afterClose: the closing handshake is done; each direction reads and
	// drops what comes until its source closes.
	afterClose atomic.Bool
	// goingAway: goAway is sending the gateway's close to both peers; a
	// close frame from either source is dropped from then on (scan's
	// dropClose).
	goingAway atomic.Bool
	endOnce   sync.Once
	cutOnce   sync.Once
}

// direction is one half of a tunnel: frames read from src are written
// whole to dst, so the gateway can put its own close frame between two.
type direction struct {
	name string
	t    *tunnel
	src  *bufio.Reader   // bytes buffered before the tunnel, then the source itself unless raw is set
	raw  syscall.RawConn // the source socket, read directly (plain TCP); nil: read src
	dst  net.Conn
	mask bool // frames injected towards the upstream must be masked
	// mu is held by whoever reads the source (the pump or the loop) from
	// the start of a frame to its end, and by an injector while its close
	// frame goes out. An injector waiting for a
	// pump stuck mid-frame is freed when Shutdown cuts the tunnel.
	mu sync.Mutex
	// Guarded by mu:
	closeSent bool // the gateway sent its own close to dst: forward nothing more
	broken    bool // dst stopped mid-frame or is shut: inject nothing
	// forwardedClose is set once a peer's close frame went through.
	forwardedClose atomic.Bool
	other          *direction
	// injected is closed once sendClose is done with dst (written or given
	// up); injectOnce guards it.
	injected   chan struct{}
	injectOnce sync.Once

	// Owned by whoever reads the source, the pump or the loop (relay.go,
	// loop.go):
	frames     frameState
	held       bool // the pump holds lock (inside a frame)
	pending    [maxFrameHeader]byte
	pendingLen int // start of a frame header read from raw, waiting for the rest
	bufp       *[]byte
	softUntil  time.Time       // write deadline set on dst by the pump inside the read callback
	sendUntil  time.Time       // write deadline set on dst by the pump for a blocking write (sendDeadline)
	dstRaw     syscall.RawConn // the socket under dst, written without waiting (relay.go)
	dstCounter writeCounter    // told what was written past dst's wrappers; nil for a bare socket
	tryWriteFn func(uintptr) bool
	wbuf       []byte
	wn         int
	werr       error
	rerr       error // how the read callback ended
	stalled    bool
	stall      stallState
	loopTurn   bool      // the source was handed to the loop: wait for it
	loop       loopState // the share in the event loop (loop.go)
}

// errClosingHandshakeDone ends a pump once both peers' close frames went
// through: nothing more may follow, so the tunnel ends at once instead of
// waiting for the client to drop the TCP connection (closingHandshakeDone).
var errClosingHandshakeDone = errors.New("closing handshake done")

// newTunnel joins client and upstream; each reader holds what was read from
// its connection beyond the handshake.
func newTunnel(h *Handler, client net.Conn, clientReader *bufio.Reader, upstream net.Conn, upstreamReader *bufio.Reader) *tunnel {
	t := &tunnel{
		h:        h,
		client:   client,
		upstream: upstream,
		done:     make(chan struct{}),
	}
	t.toClient = &direction{name: "upstream_to_client", t: t, src: upstreamReader, raw: rawSource(upstream),
		dst: client}
	t.toUpstream = &direction{name: "client_to_upstream", t: t, src: clientReader, raw: rawSource(client),
		dst: upstream, mask: true, frames: frameState{fromClient: true}}
	t.toClient.other, t.toUpstream.other = t.toUpstream, t.toClient
	ring := pickRing(h.log)
	var loop *rawsock.EdgePoller
	for _, d := range []*direction{t.toClient, t.toUpstream} {
		d.injected = make(chan struct{})
		d.useRawWrites()
		if !d.useRing(ring) {
			if loop == nil {
				loop = pickLoop()
			}
			d.useLoop(loop)
		}
	}
	return t
}

func (d *direction) acquire() { d.mu.Lock() }
func (d *direction) release() { d.mu.Unlock() }

// serve writes the 101 to the client and relays frames until both
// directions have ended. It runs in the handler's goroutine.
func (t *tunnel) serve(response []byte) {
	defer close(t.done)
	started := time.Now()

	// Hold the client direction while the 101 goes out, so a concurrent
	// Shutdown cannot put a close frame in front of it.
	t.toClient.acquire()
	if !t.h.register(t) {
		t.toClient.release()
		_, _ = t.client.Write(shuttingDownResponse)
		t.closeBoth()
		return
	}
	defer t.h.unregister(t)
	_ = t.client.SetWriteDeadline(time.Now().Add(t.h.timeout))
	_, err := t.client.Write(response)
	_ = t.client.SetWriteDeadline(time.Time{})
	t.toClient.release()
	if err != nil {
		t.closeBoth()
		return
	}
	t.h.log.Debug("websocket tunnel open", zap.String("upstream", t.h.upstream.host))

	// One copier runs here, the other in its own goroutine.
	var pumps sync.WaitGroup
	pumps.Go(t.pumpUpstreamToClient)
	t.pumpClientToUpstream()
	pumps.Wait()
	t.closeBoth()
	t.h.log.Debug("websocket tunnel closed", zap.Duration("duration", time.Since(started)))
}

// shuttingDownResponse answers an upgrade that raced with Shutdown after
// the client connection was already taken over.
var shuttingDownResponse = jsonerr.Response(503, "shutting_down", "the gateway is shutting down", "")

func (t *tunnel) pumpUpstreamToClient() { t.pump(t.toClient) }
func (t *tunnel) pumpClientToUpstream() { t.pump(t.toUpstream) }

// pump copies d until its source ends, then propagates the end to d's
// destination and gives the other direction closeGrace to finish.
func (t *tunnel) pump(d *direction) {
	err := d.copyFrames()
	if err == nil && t.goingAway.Load() {
		// The source's close was dropped while goAway's close to dst may
		// not be out yet: shutting dst's write side now would stop it.
		if hook := testHookPumpAwaitsInjected.Load(); hook != nil {
			(*hook)(d)
		}
		<-d.injected
	}
	if errors.Is(err, errClosingHandshakeDone) {
		t.closingHandshakeDone(d)
		return
	}
	if isTimeout(err) && d.broken && !t.graceStarted() {
		// send_timeout: the destination took nothing for that long. Cut
		// the tunnel: the other side is closed too, not left streaming. The
		// destination is reset, as nginx's reset_timedout_connection does:
		// closed normally, its socket would keep its full send queue (up to
		// megabytes) for as long as the peer keeps its window shut.
		t.h.log.Info("websocket tunnel peer not reading: cut", zap.String("direction", d.name),
			zap.Duration("send_timeout", t.h.sendTimeout))
		resetOnClose(d.dst)
		t.closeBoth()
		return
	}
	lost := errors.Is(err, errFrame)
	if lost {
		// A header that cannot be parsed: where the source's frames end is
		// lost, so its close answer cannot be found in what follows.
		t.failConnection(d, err)
	}
	t.startGrace()
	d.acquire()
	d.broken = true
	d.release()
	closeWrite(d.dst)
	if lost {
		// The source got our close; read (and drop) until it closes, so it
		// gets a FIN rather than a reset, within the grace.
		_, _ = io.Copy(io.Discard, d.srcConn())
	}
}

// closingHandshakeDone ends the tunnel once both close frames went through
// (d's was the second). Both peers get a FIN; what they still send is read
// and dropped until they close (each direction drops once afterClose is
// set), within the grace; serve then closes both. Closing a socket with
// unread bytes sends a reset, which can destroy the close frame just
// forwarded before the peer reads it.
func (t *tunnel) closingHandshakeDone(d *direction) {
	t.afterClose.Store(true)
	t.startGrace()
	closeWrite(t.client)
	closeWrite(t.upstream)
	_, _ = io.Copy(io.Discard, d.srcConn())
}

// failConnection answers a source that broke the protocol (RFC 6455 7.1.7):
// close 1002 to both peers, each at a frame boundary. From then on each
// direction drops what it reads until that peer's close answer, which ends
// it, so the tunnel closes as soon as both answered (the grace bounds it).
func (t *tunnel) failConnection(d *direction, err error) {
	t.h.log.Info("websocket tunnel protocol error", zap.String("direction", d.name), zap.Error(err))
	reason := reasonBadUpstream
	if d.frames.fromClient {
		reason = reasonBadClient
	}
	t.startGrace()
	ctx, cancel := context.WithTimeout(context.Background(), closeWriteTimeout)
	defer cancel()
	// The source first: once the peer has our close, its answer may come
	// back at once, and the source must not get it after ours. (Nothing of
	// the source's reaches the peer meanwhile: this is the pump that would
	// forward it.)
	t.sendClose(ctx, d.other, closeProtocolErr, reason) // the source itself
	t.sendClose(ctx, d, closeProtocolErr, reason)       // the source's peer
}

// srcConn is the connection d reads from.
func (d *direction) srcConn() net.Conn { return d.other.dst }

// copyFrames forwards frames from src to dst until src ends. Once the
// gateway has sent its own close to dst, frames from src are read and
// dropped until src's close frame (the answer to the gateway's close to
// src) arrives.
func (d *direction) copyFrames() error {
	var err error
	if d.raw != nil {
		err = d.copyRaw()
	} else {
		err = d.copyBuffered()
	}
	if d.held { // stopped inside a frame: dst got part of it
		d.broken = true
		d.release()
		d.held = false
	}
	if errors.Is(err, errSourceClosed) {
		return nil
	}
	return err
}

// goAway sends close code (1001 on shutdown) to the client and to the
// upstream, each at a frame boundary (both at once: one direction may be
// stuck mid-frame until the tunnel is cut). The pumps then wait for both
// closing answers. From its start a close frame from either peer is
// dropped, not forwarded: the upstream's answer to its close could
// otherwise reach the client before the gateway's own close (and its
// reason) does.
func (t *tunnel) goAway(ctx context.Context, code uint16, reason string) {
	t.goingAway.Store(true)
	var other sync.WaitGroup
	other.Go(func() { t.sendClose(ctx, t.toUpstream, code, reason) })
	if hook := testHookGoAway.Load(); hook != nil {
		(*hook)(t)
	}
	t.sendClose(ctx, t.toClient, code, reason)
	other.Wait()
}

// Test hooks (nil outside tests): testHookGoAway runs in goAway between
// the upstream's close and the client's; testHookPumpAwaitsInjected when a
// pump waits for goAway's close to its destination.
var (
	testHookGoAway             atomic.Pointer[func(*tunnel)]
	testHookPumpAwaitsInjected atomic.Pointer[func(*direction)]
)

// sendClose injects a close frame into d's destination between two frames.
// It waits for the frame in progress; a pump stuck inside one (its peer
// not reading) is freed when the tunnel is cut.
func (t *tunnel) sendClose(ctx context.Context, d *direction, code uint16, reason string) {
	defer d.injectOnce.Do(func() { close(d.injected) })
	d.evict() // the pump finishes the frame in progress, and the lock is free after it
	d.acquire()
	defer d.release()
	if d.closeSent || d.broken || ctx.Err() != nil {
		return
	}
	select {
	case <-t.done:
		return
	default:
	}
	d.closeSent = true
	deadline := time.Now().Add(closeWriteTimeout)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	t.mu.Lock()
	_ = d.dst.SetWriteDeadline(deadline)
	t.mu.Unlock()
	_, err := d.dst.Write(closeFrame(code, reason, d.mask))
	t.mu.Lock()
	_ = d.dst.SetWriteDeadline(t.graceAt)
	t.mu.Unlock()
	if err != nil {
		d.broken = true
	}
}

// startGrace bounds the rest of the tunnel's life once one side ended.
func (t *tunnel) startGrace() {
	t.endOnce.Do(func() {
		t.toClient.evict() // the pumps keep the deadlines
		t.toUpstream.evict()
		t.mu.Lock()
		defer t.mu.Unlock()
		t.graceAt = time.Now().Add(closeGrace)
		_ = t.client.SetDeadline(t.graceAt)
		_ = t.upstream.SetDeadline(t.graceAt)
	})
}

func (t *tunnel) graceStarted() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return !t.graceAt.IsZero()
}

// cut closes both connections at once (Shutdown past its deadline).
func (t *tunnel) cut() { t.closeBoth() }

func (t *tunnel) closeBoth() {
	t.cutOnce.Do(func() {
		t.toClient.evict() // the pumps see the closed sockets
		t.toUpstream.evict()
		// Expired deadlines first: a pump blocked writing to one connection
		// holds the other one's socket (relay.go), and Close waits for it.
		past := time.Unix(1, 0)
		_ = t.client.SetDeadline(past)
		_ = t.upstream.SetDeadline(past)
		_ = t.client.Close()
		_ = t.upstream.Close()
	})
}

// resetOnClose makes closing conn send a reset and drop what its socket
// still holds to send (SO_LINGER 0), through the gateway's wrappers and TLS.
func resetOnClose(conn net.Conn) {
	if c := tcpConnUnder(conn, false); c != nil {
		_ = c.SetLinger(0)
	}
}

// closeWrite half-closes conn so its peer reads EOF after the last frame.
func closeWrite(conn net.Conn) {
	if cw, ok := conn.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
}
