package forwarded

import (
	"net/http"
	"net/netip"
	"strings"
	"testing"
)

// FuzzResolve: whatever forwarding headers a trusted proxy passes on, the
// client address is an IP address (or the peer), the scheme http or https,
// and the host either the request's own or made only of host characters.
func FuzzResolve(f *testing.F) {
	f.Add("203.0.113.7, 10.0.0.1", `for="[2001:db8::1]:4711";proto=https;host=a.test`, "app.test:8443", "https")
	f.Add("garbage, , [::1]:80", `for=unknown;host="x\"y", for=_hidden`, "evil/x@y", "ftp")
	f.Add("", `"for="1.2.3.4;;;`, "", "HTTP")
	p := &Policy{Trust: NewTrust([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")})}
	f.Fuzz(func(t *testing.T, xff, fwd, xfh, xfp string) {
		r, _ := http.NewRequest("GET", "http://gw.test/", nil)
		r.RemoteAddr = "10.0.0.1:1234"
		r.Header["X-Forwarded-For"] = []string{xff}
		r.Header["Forwarded"] = []string{fwd}
		r.Header["X-Forwarded-Host"] = []string{xfh}
		r.Header["X-Forwarded-Proto"] = []string{xfp}
		info := p.Resolve(r)
		if _, err := netip.ParseAddr(info.IP); err != nil {
			t.Fatalf("client address %q is not an address", info.IP)
		}
		if info.Scheme != "http" && info.Scheme != "https" {
			t.Fatalf("scheme %q", info.Scheme)
		}
		if info.Host != "gw.test" && (!validAuthority(info.Host) || strings.ContainsAny(info.Host, "/@?# ")) {
			t.Fatalf("host %q", info.Host)
		}
		_ = info.SameOrigin("https://" + info.Host)
	})
}
