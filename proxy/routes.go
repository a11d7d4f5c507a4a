package proxy

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"sync"

	"go.uber.org/zap"

	"github.com/bridgeway/bridgeway/config"
	"github.com/bridgeway/bridgeway/proxy/passthrough"
	"github.com/bridgeway/bridgeway/routing"
)

// routeEntry is one configured route and the handler serving it.
type routeEntry struct {
	cfg     config.Route
	kind    string // kindHTTP for pass-through, kindBridged otherwise
	handler http.Handler
	// close ends the handler: Shutdown (1001 on tunnels) for pass-through,
	// Close (sessions and topics) for bridged routes. Called once.
	close func(ctx context.Context) error
}

// routeSet is an immutable table of routes; a reload builds a new one and
// swaps it in atomically.
type routeSet struct {
	table   routing.Table[*routeEntry]
	entries []*routeEntry
}

// buildRoutes makes the route set for cfg. Entries of old whose config is
// unchanged are reused (their open tunnels and sessions keep going); the
// rest are built fresh. It returns the new set and the entries of old that
// it did not reuse. On error every freshly built handler is closed again.
func (s *Server) buildRoutes(ctx context.Context, routes []config.Route, old *routeSet) (*routeSet, []*routeEntry, error) {
	reusable := map[string]*routeEntry{}
	if old != nil {
		for _, e := range old.entries {
			reusable[e.cfg.Path] = e
		}
	}
	set := &routeSet{}
	var fresh []*routeEntry
	reused := map[*routeEntry]bool{}
	for _, rc := range routes {
		pattern, err := routing.Compile(rc.Path)
		if err != nil {
			closeEntries(ctx, fresh, s.log)
			return nil, nil, fmt.Errorf("route %s: %w", rc.Path, err)
		}
		if e, ok := reusable[rc.Path]; ok && reflect.DeepEqual(e.cfg, rc) {
			set.table.Add(pattern, e)
			set.entries = append(set.entries, e)
			reused[e] = true
			continue
		}
		e, err := s.newRouteEntry(rc)
		if err != nil {
			closeEntries(ctx, fresh, s.log)
			return nil, nil, fmt.Errorf("route %s: %w", rc.Path, err)
		}
		fresh = append(fresh, e)
		set.table.Add(pattern, e)
		set.entries = append(set.entries, e)
	}
	set.table.Build()
	var retired []*routeEntry
	if old != nil {
		for _, e := range old.entries {
			if !reused[e] {
				retired = append(retired, e)
			}
		}
	}
	return set, retired, nil
}

func (s *Server) newRouteEntry(rc config.Route) (*routeEntry, error) {
	if rc.PassThrough() {
		route := rc.Path
		h, err := passthrough.New(passthrough.Options{
			Route:       rc,
			Logger:      s.log,
			BodyTimeout: s.cfg.Limits.BodyTimeout.D(),
			SendTimeout: s.cfg.Limits.SendTimeout.D(),
			OnUpstreamError: func(kind string) {
				s.metrics.upstreamErrors.WithLabelValues(route, kind).Inc()
			},
		})
		if err != nil {
			return nil, fmt.Errorf("pass-through: %w", err)
		}
		return &routeEntry{cfg: rc, kind: kindHTTP, handler: h, close: h.Shutdown}, nil
	}
	if s.deps.Bridge == nil {
		return nil, errors.New("bridged route but no bridge factory configured")
	}
	h, err := s.deps.Bridge(rc)
	if err != nil {
		return nil, fmt.Errorf("bridge: %w", err)
	}
	return &routeEntry{cfg: rc, kind: kindBridged, handler: h, close: h.Close}, nil
}

// closeEntries closes handlers concurrently and waits until all returned or
// ctx ended (each close is expected to respect ctx).
func closeEntries(ctx context.Context, entries []*routeEntry, log *zap.Logger) {
	var wg sync.WaitGroup
	for _, e := range entries {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := e.close(ctx); err != nil {
				log.Warn("route close", zap.String("route", e.cfg.Path), zap.Error(err))
			}
		}()
	}
	wg.Wait()
}
