package proxy

import (
	"context"
	"crypto/tls"
	"net/http"

	"golang.org/x/net/http2"
)

// rejectHTTP2Resets is the rejected_connections_total reason of an HTTP/2
// connection closed for too many stream resets.
const rejectHTTP2Resets = "http2_max_resets"

// serveHTTP2 makes srv serve h2 with x/net's http2.Server (the same server
// net/http bundles, with its defaults) on a resetLimitConn (h2resets.go).
// ConfigureServer also ties the h2 connections to srv's graceful Shutdown.
func (s *Server) serveHTTP2(srv *http.Server) error {
	h2 := &http2.Server{}
	if err := http2.ConfigureServer(srv, h2); err != nil {
		return err
	}
	maxResets := s.cfg.Limits.HTTP2MaxResets
	rejected := s.metrics.rejected.WithLabelValues(rejectHTTP2Resets)
	srv.TLSNextProto[http2.NextProtoTLS] = func(hs *http.Server, c *tls.Conn, h http.Handler) {
		// net/http passes the connection's base context (ConnContext
		// included) through an unadvertised method of h.
		ctx := context.Background()
		if bc, ok := h.(interface{ BaseContext() context.Context }); ok {
			ctx = bc.BaseContext()
		}
		conn := newResetLimitConn(c, maxResets, rejected.Inc)
		h2.ServeConn(conn, &http2.ServeConnOpts{Context: ctx, BaseConfig: hs, Handler: h})
	}
	return nil
}
