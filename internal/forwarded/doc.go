// Package forwarded answers, once per request, who the client is and how it
// addressed the gateway: the TCP peer, or, when the peer is a trusted proxy
// (config trusted_proxies), what that proxy's X-Forwarded-For/-Host/-Proto
// or Forwarded headers say. The proxy resolves it when a request arrives
// and puts it in the request's context; everything that needs the client's
// address (per-IP limits, access logs, the X-Forwarded-* headers sent
// upstream, the same-origin rule) reads it with Of.
package forwarded
