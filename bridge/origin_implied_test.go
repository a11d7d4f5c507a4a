package bridge

import (
	"net/http"
	"testing"
)

// TestImpliedOrigin covers requests without an Origin header: a <script>
// tag (JSONP) from another site sends none, but its Referer and
// Sec-Fetch-Site give it away.
func TestImpliedOrigin(t *testing.T) {
	sameOnly := newOriginPolicy(nil)
	allowList := newOriginPolicy([]string{"https://app.example"})
	anyOrigin := newOriginPolicy([]string{"*"})
	cases := []struct {
		name    string
		policy  originPolicy
		headers map[string]string
		want    bool
	}{
		{"no browser headers (curl)", sameOnly, nil, true},
		{"same-origin referer", sameOnly, map[string]string{"Referer": "http://gw.example/page"}, true},
		{"foreign referer", sameOnly, map[string]string{"Referer": "https://evil.example/x", "Sec-Fetch-Site": "cross-site"}, false},
		{"foreign referer, old browser", sameOnly, map[string]string{"Referer": "https://evil.example/x"}, false},
		{"cross-site without referer", sameOnly, map[string]string{"Sec-Fetch-Site": "cross-site"}, false},
		{"same-site without referer", sameOnly, map[string]string{"Sec-Fetch-Site": "same-site"}, false},
		{"same-origin fetch metadata", sameOnly, map[string]string{"Sec-Fetch-Site": "same-origin"}, true},
		{"allowed referer", allowList, map[string]string{"Referer": "https://app.example/p", "Sec-Fetch-Site": "cross-site"}, true},
		{"other referer on allow list", allowList, map[string]string{"Referer": "https://evil.example/p"}, false},
		{"any origin", anyOrigin, map[string]string{"Referer": "https://evil.example/p", "Sec-Fetch-Site": "cross-site"}, true},
	}
	for _, c := range cases {
		r, _ := http.NewRequest("GET", "http://gw.example/chat/poll?callback=f", nil)
		for k, v := range c.headers {
			r.Header.Set(k, v)
		}
		allowed, cross := c.policy.check(r)
		if allowed != c.want || cross {
			t.Errorf("%s: allowed=%v cross=%v, want allowed=%v cross=false", c.name, allowed, cross, c.want)
		}
	}
}
