package hardening

import (
	"crypto/tls"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// hostClient does not follow redirects and trusts the test certificate.
var hostClient = &http.Client{
	Timeout:       30 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	Transport:     &http.Transport{DisableKeepAlives: true, TLSClientConfig: &tls.Config{InsecureSkipVerify: true}},
}

// doHost sends a GET to url with the Host header host ("" keeps the URL's).
func doHost(t *testing.T, url, host string, hdr http.Header) answer {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	res, err := hostClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s (Host %s): %v", url, host, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return answer{status: res.StatusCode, header: res.Header, body: string(b)}
}

func originHdr(o string) http.Header { return http.Header{"Origin": {o}} }

// expectSameOrigin: 200 and no CORS headers (the page is the gateway's own).
func expectSameOrigin(t *testing.T, what string, a answer) {
	t.Helper()
	if a.status != 200 || a.header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("%s: %d ACAO %q %s, want 200 without CORS", what, a.status, a.header.Get("Access-Control-Allow-Origin"), a.body)
	}
}

// TestSameOriginComparesSchemeHostPort: the same-origin rule compares
// scheme, host and port with how the client reached the gateway, and with
// hosts set (or with TLS, the certificate's names) the Origin's host must
// be one of the gateway's names: http://GW on the TLS listener, https://GW
// on the plain one, and DNS rebinding (a foreign name pointed at the
// gateway, Host and Origin alike) are all refused.
func TestSameOriginComparesSchemeHostPort(t *testing.T) {
	app := newWSApp(t)
	route := "routes:\n  - path: /chat\n    upstream: {url: \"" + app.wsURL("/echo") + "\"}\n"
	certFile, keyFile := selfSignedFiles(t)
	g := startGateway(t, "tls: {listen: 127.0.0.1:0, cert_file: "+certFile+", key_file: "+keyFile+", redirect_http: false}\n"+route)
	tlsAddr := g.srv.TLSAddr()
	poll := "/chat/poll?wait=0"

	expectSameOrigin(t, "https page on the TLS listener", doHost(t, "https://"+tlsAddr+poll, "", originHdr("https://"+tlsAddr)))
	expectError(t, "http page on the TLS listener", doHost(t, "https://"+tlsAddr+poll, "", originHdr("http://"+tlsAddr)), 403, "origin_not_allowed")
	expectSameOrigin(t, "http page on the plain listener", doHost(t, g.URL+poll, "", originHdr(g.URL)))
	expectError(t, "https page on the plain listener", doHost(t, g.URL+poll, "", originHdr("https://"+g.addr)), 403, "origin_not_allowed")
	// With TLS and no hosts, the gateway's names are the certificate's
	// (127.0.0.1 here): a rebound name is not the gateway.
	_, tlsPort, _ := strings.Cut(tlsAddr, ":")
	expectError(t, "rebound name on the TLS listener",
		doHost(t, "https://"+tlsAddr+poll, "evil.test:"+tlsPort, originHdr("https://evil.test:"+tlsPort)), 403, "origin_not_allowed")

	// Plain listener with hosts: only those names are same-origin.
	p := startGateway(t, "hosts: [gw.test, \"*.apps.test\"]\n"+route)
	_, port, _ := strings.Cut(p.addr, ":")
	url := p.URL + poll
	expectSameOrigin(t, "listed name", doHost(t, url, "gw.test:"+port, originHdr("http://gw.test:"+port)))
	expectSameOrigin(t, "wildcard name", doHost(t, url, "a.apps.test:"+port, originHdr("http://a.apps.test:"+port)))
	expectError(t, "DNS rebinding", doHost(t, url, "evil.test:"+port, originHdr("http://evil.test:"+port)), 403, "origin_not_allowed")
	expectError(t, "address not in hosts", doHost(t, url, p.addr, originHdr(p.URL)), 403, "origin_not_allowed")
	expectError(t, "other port", doHost(t, url, "gw.test:"+port, originHdr("http://gw.test:1")), 403, "origin_not_allowed")
	expectError(t, "rebinding by Referer (JSONP)", doHost(t, url+"&callback=cb", "evil.test:"+port,
		http.Header{"Referer": {"http://evil.test:" + port + "/page"}}), 403, "origin_not_allowed")
	eventually(t, "one upstream connection per allowed poll", func() bool { return app.accepted.Load() == 4 })
}

// TestHTTPSRedirectUsesConfiguredHosts: the plain listener's redirect to
// HTTPS keeps the client's Host only when it is one of the gateway's names
// (hosts, or without it the certificate's); any other Host is sent to the
// first name, so a forged Host never chooses where clients go. Hosts with
// only wildcard names answer 421 unknown_host.
func TestHTTPSRedirectUsesConfiguredHosts(t *testing.T) {
	app := newHTTPApp(t)
	certFile, keyFile := selfSignedFiles(t)
	tlsYAML := "tls: {listen: 127.0.0.1:0, cert_file: " + certFile + ", key_file: " + keyFile + "}\n"
	for _, c := range []struct {
		hosts, host, want string
	}{
		{"", "evil.test", "https://127.0.0.1:PORT/app/x?y=1"},
		{"", "127.0.0.1", "https://127.0.0.1:PORT/app/x?y=1"},
		{"hosts: [gw.test, \"*.apps.test\"]\n", "gw.test", "https://gw.test:PORT/app/x?y=1"},
		{"hosts: [gw.test, \"*.apps.test\"]\n", "a.apps.test:8080", "https://a.apps.test:PORT/app/x?y=1"},
		{"hosts: [gw.test, \"*.apps.test\"]\n", "evil.test", "https://gw.test:PORT/app/x?y=1"},
	} {
		g := startGateway(t, c.hosts+tlsYAML+passthroughYAML(app.srv.URL))
		_, tlsPort, _ := strings.Cut(g.srv.TLSAddr(), ":")
		a := doHost(t, g.URL+"/app/x?y=1", c.host, nil)
		if want := strings.Replace(c.want, "PORT", tlsPort, 1); a.status != 308 || a.header.Get("Location") != want {
			t.Errorf("%sHost %s: %d %q, want 308 %q", c.hosts, c.host, a.status, a.header.Get("Location"), want)
		}
		_ = g.stop()
	}
	g := startGateway(t, "hosts: [\"*.apps.test\"]\n"+tlsYAML+passthroughYAML(app.srv.URL))
	expectError(t, "only wildcard hosts", doHost(t, g.URL+"/app/x", "evil.test", nil), 421, "unknown_host")
}
