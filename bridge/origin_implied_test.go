package bridge

import (
	"net/http"
	"testing"
)

// TestImpliedOrigin covers requests without an Origin header: a <script>
// tag (JSONP) from another site sends none, but its Referer and
// Sec-Fetch-Site give it away.
func TestImpliedOrigin(t *testing.T) {
	sameOnly := newOriginPolicy(nil, nil)
	allowList := newOriginPolicy([]string{"https://app.example"}, nil)
	anyOrigin := newOriginPolicy([]string{"*"}, nil)
	cases := []struct {
		name    string
		policy  originPolicy
		headers map[string]string
		want    originVerdict
	}{
		{"no browser headers (curl)", sameOnly, nil, originSame},
		{"same-origin referer", sameOnly, map[string]string{"Referer": "http://gw.example/page"}, originSame},
		{"foreign referer", sameOnly, map[string]string{"Referer": "https://evil.example/x", "Sec-Fetch-Site": "cross-site"}, originRefused},
		{"foreign referer, old browser", sameOnly, map[string]string{"Referer": "https://evil.example/x"}, originRefused},
		{"cross-site without referer", sameOnly, map[string]string{"Sec-Fetch-Site": "cross-site"}, originRefused},
		{"same-site without referer", sameOnly, map[string]string{"Sec-Fetch-Site": "same-site"}, originRefused},
		{"same-origin fetch metadata", sameOnly, map[string]string{"Sec-Fetch-Site": "same-origin"}, originSame},
		{"allowed referer", allowList, map[string]string{"Referer": "https://app.example/p", "Sec-Fetch-Site": "cross-site"}, originSame},
		{"other referer on allow list", allowList, map[string]string{"Referer": "https://evil.example/p"}, originRefused},
		{"any origin", anyOrigin, map[string]string{"Referer": "https://evil.example/p", "Sec-Fetch-Site": "cross-site"}, originAnyone},
		{"any origin, hidden referrer", anyOrigin, map[string]string{"Sec-Fetch-Site": "cross-site"}, originAnyone},
	}
	for _, c := range cases {
		r, _ := http.NewRequest("GET", "http://gw.example/chat/poll?callback=f", nil)
		for k, v := range c.headers {
			r.Header.Set(k, v)
		}
		if got := c.policy.check(r); got != c.want {
			t.Errorf("%s: verdict %d, want %d", c.name, got, c.want)
		}
	}
}
