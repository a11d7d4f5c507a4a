package proxy

import (
	"context"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"

	"github.com/bridgeway/bridgeway/internal/jsonerr"
)

// readyCheckTimeout bounds Deps.ReadyCheck per /readyz request.
const readyCheckTimeout = 2 * time.Second

func (s *Server) newAdminServer() *http.Server {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{
		ErrorLog: zap.NewStdLog(s.log.Named("metrics")),
	}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeStatus(w, http.StatusOK, "ok")
	})
	mux.HandleFunc("GET /readyz", s.serveReady)
	if s.cfg.Admin.Pprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		jsonerr.Write(w, http.StatusNotFound, "not_found", "admin endpoints: /metrics, /healthz, /readyz")
	})
	return &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: s.cfg.Limits.ReadHeaderTimeout.D(),
		MaxHeaderBytes:    int(s.cfg.Limits.MaxHeaderBytes),
		ErrorLog:          zap.NewStdLog(s.log.Named("admin").WithOptions(zap.IncreaseLevel(zap.WarnLevel))),
	}
}

// serveReady is 200 when listeners are up, certificates are ready and the
// optional dependency check passes; 503 before that and while draining.
func (s *Server) serveReady(w http.ResponseWriter, r *http.Request) {
	if reason := s.notReadyReason(r.Context()); reason != "" {
		jsonerr.Write(w, http.StatusServiceUnavailable, "not_ready", reason)
		return
	}
	writeStatus(w, http.StatusOK, "ready")
}

func (s *Server) notReadyReason(ctx context.Context) string {
	switch {
	case s.draining.Load():
		return "draining"
	case !s.listening.Load():
		return "listeners not started"
	case s.certs != nil && !s.certs.Ready():
		return "certificates not ready"
	}
	if s.deps.ReadyCheck != nil {
		ctx, cancel := context.WithTimeout(ctx, readyCheckTimeout)
		defer cancel()
		if err := s.deps.ReadyCheck(ctx); err != nil {
			return "dependency not ready: " + err.Error()
		}
	}
	return ""
}

func writeStatus(w http.ResponseWriter, status int, text string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(`{"status":"` + text + `"}` + "\n"))
}
