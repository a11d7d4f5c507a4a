package passthrough

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/http"

	"go.uber.org/zap"

	"github.com/bridgeway/bridgeway/internal/jsonerr"
)

// Upstream error kinds reported to Options.OnUpstreamError.
const (
	KindDial     = "dial"     // connect refused, unreachable, DNS, connect timeout
	KindTimeout  = "timeout"  // no response headers (or handshake answer) within Upstream.Timeout
	KindTLS      = "tls"      // TLS handshake with the upstream failed
	KindUpgrade  = "upgrade"  // the upstream refused or forged a WebSocket upgrade
	KindResponse = "response" // connection reset, malformed response, other transport errors
)

// StatusClientClosed is nginx's "client closed request": the client went
// away before it was served (here: before the upstream answered), which is
// not an upstream failure. The gateway logs it for requests it drops too.
const StatusClientClosed = 499

// classify maps an upstream transport error to a kind and a client status.
func classify(err error) (kind string, status int) {
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Op == "dial" {
		if opErr.Timeout() {
			return KindDial, http.StatusGatewayTimeout
		}
		return KindDial, http.StatusBadGateway
	}
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		return KindTimeout, http.StatusGatewayTimeout
	}
	var (
		recordErr tls.RecordHeaderError
		verifyErr *tls.CertificateVerificationError
		unknownCA x509.UnknownAuthorityError
		hostErr   x509.HostnameError
		alertErr  tls.AlertError
	)
	if errors.As(err, &recordErr) || errors.As(err, &verifyErr) || errors.As(err, &unknownCA) ||
		errors.As(err, &hostErr) || errors.As(err, &alertErr) {
		return KindTLS, http.StatusBadGateway
	}
	return KindResponse, http.StatusBadGateway
}

// upstreamFailed reports, logs and answers an upstream failure that happened
// before any response byte reached the client.
func (h *Handler) upstreamFailed(w http.ResponseWriter, r *http.Request, err error) {
	if bodyCut(r) {
		// The client's fault, not the upstream's: the body stopped
		// arriving (net/http has cancelled the request's context too).
		w.Header().Set("Connection", "close")
		jsonerr.Write(w, http.StatusRequestTimeout, "body_timeout",
			"the request body stopped arriving for longer than body_timeout")
		return
	}
	if r.Context().Err() != nil {
		// The client left; nothing to answer and nothing to blame upstream for.
		w.WriteHeader(StatusClientClosed)
		return
	}
	if bodyBroken(r) {
		// Bad chunking or a body cut short: the client's fault too, so no
		// upstream error is counted or logged (clients could raise alerts).
		w.Header().Set("Connection", "close")
		jsonerr.Write(w, http.StatusBadRequest, "bad_request", "the request body is malformed or was cut short")
		return
	}
	kind, status := classify(err)
	h.reportUpstreamError(kind)
	if ce := h.log.Check(zap.WarnLevel, "upstream request failed"); ce != nil {
		ce.Write(zap.String("upstream", h.upstream.host), zap.String("kind", kind), zap.Error(err))
	}
	if status == http.StatusGatewayTimeout {
		jsonerr.Write(w, status, "gateway_timeout", "the upstream did not answer in time")
		return
	}
	jsonerr.Write(w, status, "bad_gateway", "the upstream could not be reached or gave no valid answer")
}

func (h *Handler) reportUpstreamError(kind string) {
	if h.onUpstreamError != nil {
		h.onUpstreamError(kind)
	}
}
