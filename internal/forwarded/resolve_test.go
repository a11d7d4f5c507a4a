package forwarded

import (
	"crypto/tls"
	"net/http"
	"net/netip"
	"testing"
)

func TestResolve(t *testing.T) {
	p := &Policy{Trust: NewTrust([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128"), netip.MustParsePrefix("fe80::/10")})}
	cases := []struct {
		name, peer string
		hdr        map[string][]string
		tls        bool
		ip, scheme string
		host       string
	}{
		{"untrusted peer", "192.0.2.1:1", map[string][]string{"X-Forwarded-For": {"1.1.1.1"}, "X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"a.test"}}, false, "192.0.2.1", "http", "gw.test"},
		{"trusted, one hop", "10.0.0.1:1", map[string][]string{"X-Forwarded-For": {"1.1.1.1"}}, false, "1.1.1.1", "http", "gw.test"},
		{"spoofed left hop", "10.0.0.1:1", map[string][]string{"X-Forwarded-For": {"6.6.6.6, 1.1.1.1"}}, false, "1.1.1.1", "http", "gw.test"},
		{"two header lines", "10.0.0.1:1", map[string][]string{"X-Forwarded-For": {"6.6.6.6", "1.1.1.1, 10.2.2.2"}}, false, "1.1.1.1", "http", "gw.test"},
		{"all trusted", "10.0.0.1:1", map[string][]string{"X-Forwarded-For": {"10.9.9.9, 10.2.2.2"}}, false, "10.9.9.9", "http", "gw.test"},
		{"garbage hop", "10.0.0.1:1", map[string][]string{"X-Forwarded-For": {"1.1.1.1, nonsense, 10.2.2.2"}}, false, "10.2.2.2", "http", "gw.test"},
		{"hop with port", "10.0.0.1:1", map[string][]string{"X-Forwarded-For": {"[2001:db8::5]:80"}}, false, "2001:db8::5", "http", "gw.test"},
		{"forwarded", "[::1]:1", map[string][]string{"Forwarded": {`for=6.6.6.6, for="[2001:db8::1]:4711";proto=https;host="app.test:8443"`}}, false, "2001:db8::1", "https", "app.test:8443"},
		{"zoned link-local peer", "[fe80::1%eth0]:1", map[string][]string{"X-Forwarded-For": {"1.1.1.1"}}, false, "1.1.1.1", "http", "gw.test"},
		{"xff wins over forwarded", "10.0.0.1:1", map[string][]string{"Forwarded": {"for=6.6.6.6"}, "X-Forwarded-For": {"1.1.1.1"}}, false, "1.1.1.1", "http", "gw.test"},
		{"proto and host", "10.0.0.1:1", map[string][]string{"X-Forwarded-Proto": {"http, HTTPS"}, "X-Forwarded-Host": {"app.test"}}, false, "10.0.0.1", "https", "app.test"},
		{"bad forwarded host", "10.0.0.1:1", map[string][]string{"X-Forwarded-Host": {"evil.test/x@y"}, "X-Forwarded-Proto": {"ftp"}}, true, "10.0.0.1", "https", "gw.test"},
	}
	for _, c := range cases {
		r, _ := http.NewRequest("GET", "http://gw.test/", nil)
		r.RemoteAddr = c.peer
		for k, v := range c.hdr {
			r.Header[k] = v
		}
		if c.tls {
			r.TLS = &tls.ConnectionState{}
		}
		got := p.Resolve(r)
		if got.IP != c.ip || got.Scheme != c.scheme || got.Host != c.host {
			t.Errorf("%s: %+v, want %s %s %s", c.name, got, c.ip, c.scheme, c.host)
		}
	}
}

func TestSameOrigin(t *testing.T) {
	hosts := NewHosts([]string{"app.test", "*.apps.test"})
	cases := []struct {
		info   Info
		origin string
		want   bool
	}{
		{Info{Scheme: "http", Host: "gw.test:8080"}, "http://gw.test:8080", true},
		{Info{Scheme: "http", Host: "GW.test:8080"}, "http://gw.test:8080", true},
		{Info{Scheme: "https", Host: "gw.test:8080"}, "http://gw.test:8080", false},
		{Info{Scheme: "https", Host: "gw.test"}, "https://gw.test:443", true},
		{Info{Scheme: "http", Host: "gw.test"}, "http://gw.test:8080", false},
		{Info{Scheme: "http", Host: "[::1]:80"}, "http://[::1]", true},
		{Info{Scheme: "http", Host: "evil.test", Hosts: hosts}, "http://evil.test", false},
		{Info{Scheme: "https", Host: "127.0.0.1:8080", Hosts: hosts}, "https://app.test", true},
		{Info{Scheme: "https", Host: "127.0.0.1:8080", Hosts: hosts}, "https://app.test:8443", false},
		{Info{Scheme: "https", Host: "x.apps.test:8443", Hosts: hosts}, "https://x.apps.test:8443", true},
		{Info{Scheme: "https", Host: "x.apps.test:8443", Hosts: hosts}, "https://y.apps.test:8443", false},
		{Info{Scheme: "https", Host: "a.b.apps.test", Hosts: hosts}, "https://a.b.apps.test", false},
		{Info{Scheme: "http", Host: "gw.test"}, "null", false},
		{Info{Scheme: "http", Host: "gw.test"}, "http://user@gw.test", false},
	}
	for _, c := range cases {
		if got := c.info.SameOrigin(c.origin); got != c.want {
			t.Errorf("%+v SameOrigin(%q) = %v, want %v", c.info, c.origin, got, c.want)
		}
	}
}
