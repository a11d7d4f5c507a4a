package proxy

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"go.uber.org/zap"
)

// adminGrace is how long the admin listener may take to finish its own
// (short) requests after the drain.
const adminGrace = time.Second

// Shutdown drains the gateway: /readyz turns 503, the listeners stop
// accepting, pass-through handlers send WebSocket close 1001 on their
// tunnels, bridged route handlers close their sessions, and in-flight
// requests may finish. Whatever is still open at the deadline (the earlier
// of ctx's and shutdown_timeout) is closed by force. It returns an error
// when it had to force anything.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return nil
	}
	s.stopped = true
	timeout := s.cfg.ShutdownTimeout.D()
	s.mu.Unlock()

	s.draining.Store(true)
	// A server that never served (its Start failed) has nothing to drain:
	// its clean-up is not logged as a drain.
	served := s.listening.Load()
	if served {
		s.log.Info("draining", zap.Duration("timeout", timeout))
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	var wg sync.WaitGroup
	var forced error
	var forcedMu sync.Mutex
	note := func(err error) {
		if err != nil {
			forcedMu.Lock()
			forced = errors.Join(forced, err)
			forcedMu.Unlock()
		}
	}
	// Stop accepting and wait for in-flight requests...
	for _, srv := range []*http.Server{s.plainSrv, s.tlsSrv} {
		if srv == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			note(srv.Shutdown(ctx))
		}()
	}
	// ...while route handlers end their tunnels and sessions.
	entries := s.routes.Load().entries
	wg.Add(1)
	go func() {
		defer wg.Done()
		closeEntries(ctx, entries, s.log, false)
	}()
	wg.Wait()

	// Force what is left: idle or stuck HTTP connections, and hijacked
	// connections that http.Server no longer tracks.
	for _, srv := range []*http.Server{s.plainSrv, s.tlsSrv} {
		if srv != nil {
			_ = srv.Close()
		}
	}
	s.limiter.closeAll()
	s.cancelLife()
	s.retiring.Wait()
	s.rejects.wait()

	if s.adminSrv != nil {
		// Admin requests are short: they get what is left of the drain
		// deadline, at most adminGrace, so Shutdown stays within it.
		adminCtx, adminCancel := context.WithTimeout(ctx, adminGrace)
		if err := s.adminSrv.Shutdown(adminCtx); err != nil {
			_ = s.adminSrv.Close()
		}
		adminCancel()
	}
	s.serving.Wait()
	if tl, ok := s.tlsLn.(*tlsListener); ok {
		tl.wait() // its handshakes: the listener was closed with its server
	}
	if s.certs != nil {
		s.certs.Close()
	}
	if forced != nil {
		s.log.Warn("drain deadline reached, remaining connections closed", zap.Error(forced))
		return fmt.Errorf("proxy: shutdown: %w", forced)
	}
	if served {
		s.log.Info("drained")
	}
	return nil
}
