package upstream

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// maxRedirects bounds the same-origin redirects one upstream request follows.
const maxRedirects = 5

// errRedirectRefused is a redirect the gateway does not follow: to another
// origin, or one too many. It is a permanent upstream error.
var errRedirectRefused = errors.New("upstream: redirect refused")

// checkRedirect follows only same-origin redirects (scheme, host and port
// of the request that started the chain), at most maxRedirects. The route's
// headers (API keys) must never reach another host, and no Referer is sent
// at all: it would carry the upstream URL, query and all.
func checkRedirect(req *http.Request, via []*http.Request) error {
	req.Header.Del("Referer")
	if len(via) > maxRedirects {
		return fmt.Errorf("%w: more than %d redirects", errRedirectRefused, maxRedirects)
	}
	if !sameOrigin(req.URL, via[0].URL) {
		// No URL in the message: it may reach clients as a close reason.
		return fmt.Errorf("%w: to another origin", errRedirectRefused)
	}
	return nil
}

func sameOrigin(a, b *url.URL) bool {
	return strings.EqualFold(a.Scheme, b.Scheme) &&
		strings.EqualFold(a.Hostname(), b.Hostname()) &&
		effectivePort(a) == effectivePort(b)
}

func effectivePort(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	if strings.EqualFold(u.Scheme, "https") {
		return "443"
	}
	return "80"
}
