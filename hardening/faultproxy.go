// Package hardening holds black-box tests of the whole assembled gateway
// against hostile input, faults and overload (issue 8), and the small
// helpers they need. docs/security.md lists every row and its test.
package hardening

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Faults are what a FaultProxy does to the bytes it relays. The zero value
// relays everything unchanged. They can be changed while connections are
// open (SetFaults); each relay reads them before every chunk.
type Faults struct {
	// Latency is added before every relayed chunk, in both directions.
	Latency time.Duration
	// BytesPerSecond caps each direction of each connection (0: no cap).
	BytesPerSecond int
	// ResetAfter resets both sides (RST, no FIN) once this many bytes went
	// from the target to the client on one connection (0: never).
	ResetAfter int64
	// Blackhole swallows everything in both directions and never closes:
	// a peer that vanished without a FIN. New connections are accepted
	// and blackholed too, so a reconnect hangs until its own timeout.
	Blackhole bool
}

// FaultProxy is a TCP relay that injects Faults between a client (here:
// the gateway) and a target (an upstream). Close stops every goroutine.
type FaultProxy struct {
	ln     net.Listener
	target string

	mu     sync.Mutex
	faults Faults
	links  map[*link]struct{}
	closed bool

	wg       sync.WaitGroup
	accepted atomic.Int64
}

// link is one relayed connection pair.
type link struct {
	client, target net.Conn
	down           atomic.Int64 // bytes target → client
}

// NewFaultProxy listens on 127.0.0.1:0 and relays to target (host:port).
func NewFaultProxy(target string) (*FaultProxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &FaultProxy{ln: ln, target: target, links: map[*link]struct{}{}}
	p.wg.Add(1)
	go p.acceptLoop()
	return p, nil
}

// Addr is the proxy's host:port.
func (p *FaultProxy) Addr() string { return p.ln.Addr().String() }

// Accepted counts the connections accepted so far.
func (p *FaultProxy) Accepted() int64 { return p.accepted.Load() }

// SetFaults changes the faults for open and future connections.
func (p *FaultProxy) SetFaults(f Faults) {
	p.mu.Lock()
	p.faults = f
	p.mu.Unlock()
}

func (p *FaultProxy) current() Faults {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.faults
}

// ResetAll resets every open connection on both sides (RST).
func (p *FaultProxy) ResetAll() {
	p.mu.Lock()
	links := make([]*link, 0, len(p.links))
	for l := range p.links {
		links = append(links, l)
	}
	p.mu.Unlock()
	for _, l := range links {
		l.reset()
	}
}

// Close stops accepting, closes every connection and waits for the relays.
func (p *FaultProxy) Close() error {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	err := p.ln.Close()
	p.ResetAll()
	p.wg.Wait()
	return err
}

func (p *FaultProxy) acceptLoop() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.accepted.Add(1)
		p.wg.Add(1)
		go p.serve(c)
	}
}

func (p *FaultProxy) serve(client net.Conn) {
	defer p.wg.Done()
	target, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		resetConn(client)
		return
	}
	l := &link{client: client, target: target}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		l.reset()
		return
	}
	p.links[l] = struct{}{}
	p.mu.Unlock()

	var relays sync.WaitGroup
	relays.Add(2)
	go func() { defer relays.Done(); p.relay(l, client, target, false) }()
	go func() { defer relays.Done(); p.relay(l, target, client, true) }()
	relays.Wait()
	l.reset()
	p.mu.Lock()
	delete(p.links, l)
	p.mu.Unlock()
}

// relay copies src to dst applying the current faults. down is the
// target → client direction (the one ResetAfter counts).
func (p *FaultProxy) relay(l *link, src, dst net.Conn, down bool) {
	buf := make([]byte, 16<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			f := p.current()
			if f.Blackhole {
				continue // swallowed; keep reading so the sender never blocks
			}
			if f.Latency > 0 {
				time.Sleep(f.Latency)
			}
			if werr := p.write(l, dst, buf[:n], f, down); werr != nil {
				l.reset()
				return
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				// Pass the half-close on, like a real TCP path.
				if cw, ok := dst.(interface{ CloseWrite() error }); ok {
					_ = cw.CloseWrite()
					return
				}
			}
			l.reset()
			return
		}
	}
}

func (p *FaultProxy) write(l *link, dst net.Conn, b []byte, f Faults, down bool) error {
	for len(b) > 0 {
		chunk := b
		if f.BytesPerSecond > 0 {
			// Write in slices of ~1/20 s worth of bytes.
			step := max(1, f.BytesPerSecond/20)
			if len(chunk) > step {
				chunk = chunk[:step]
			}
			time.Sleep(time.Duration(len(chunk)) * time.Second / time.Duration(f.BytesPerSecond))
		}
		if down && f.ResetAfter > 0 {
			left := f.ResetAfter - l.down.Load()
			if left <= 0 {
				return errors.New("faultproxy: reset after byte budget")
			}
			if int64(len(chunk)) > left {
				chunk = chunk[:left]
			}
		}
		if _, err := dst.Write(chunk); err != nil {
			return err
		}
		if down {
			l.down.Add(int64(len(chunk)))
		}
		b = b[len(chunk):]
		if down && f.ResetAfter > 0 && l.down.Load() >= f.ResetAfter {
			return errors.New("faultproxy: reset after byte budget")
		}
	}
	return nil
}

func (l *link) reset() {
	resetConn(l.client)
	resetConn(l.target)
}

// resetConn closes with SO_LINGER 0, so the peer sees RST, not FIN.
func resetConn(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}
