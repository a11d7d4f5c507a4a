package config

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/bridgeway/bridgeway/routing"
)

// reservedPrefix is served by the gateway itself (client.js).
const reservedPrefix = "/_bridgeway"

var placeholderRE = regexp.MustCompile(`\{[^{}/]*\}`)

func (v *validator) route(prefix string, r *Route) {
	params := v.routePath(prefix, r.Path)
	u := &r.Upstream
	scheme := v.upstreamURL(prefix+".upstream.url", u.URL, params, r.Path)
	kindOK := v.upstreamKind(prefix+".upstream", u, scheme)
	passThrough := u.Kind == KindHTTP

	if v.oneOf(prefix+".mode", r.Mode, ModeSession, ModeBroadcast) && r.Mode == ModeBroadcast && passThrough {
		v.errorf(prefix+".mode", "mode broadcast cannot be used with upstream kind http (a pass-through proxy has no shared upstream)")
	}
	if passThrough {
		if len(r.Transports) > 0 {
			v.errorf(prefix+".transports", "transports are not used by upstream kind http (a pass-through proxy serves requests as they come)")
		}
	} else {
		v.transports(prefix+".transports", r.Transports)
	}
	if r.ClientSend && r.Mode == ModeSession {
		v.errorf(prefix+".client_send", "client_send is only used by mode broadcast (in session mode clients always send)")
	}
	if r.Buffer < 1 || r.Buffer > maxBuffer {
		v.errorf(prefix+".buffer", "must be between 1 and %d, got %d", maxBuffer, r.Buffer)
	}
	if r.Heartbeat <= 0 {
		v.errorf(prefix+".heartbeat", "must be greater than 0")
	}
	if r.PollTimeout <= 0 {
		v.errorf(prefix+".poll_timeout", "must be greater than 0")
	}
	v.zeroTimers(prefix, r)
	if r.PollMaxBytes < 1 || r.PollMaxBytes > MaxPollBytes {
		v.errorf(prefix+".poll_max_bytes", "must be between 1 and %d bytes, got %d", MaxPollBytes, r.PollMaxBytes)
	}
	v.oneOf(prefix+".slow_client", r.SlowClient, SlowDropOldest, SlowDisconnect)
	if r.SSEPadding > MaxSSEPadding {
		v.errorf(prefix+".sse_padding", "must be at most %d bytes, got %d", MaxSSEPadding, r.SSEPadding)
	}
	v.origins(prefix+".origins", r.Origins, r.Mode)
	if r.SockJS != nil {
		v.sockjs(prefix+".sockjs", r)
	}
	if kindOK {
		v.upstreamOptions(prefix+".upstream", u, r.Mode)
	}
}

// routePath checks the path and returns its placeholder names.
func (v *validator) routePath(prefix, path string) []string {
	key := prefix + ".path"
	if path == "" {
		v.errorf(key, "required: the prefix clients use, such as /chat")
		return nil
	}
	p, err := routing.Compile(path)
	if err != nil {
		v.errorf(key, "bad path %q: %v", path, err)
		return nil
	}
	if path == reservedPrefix || strings.HasPrefix(path, reservedPrefix+"/") {
		v.errorf(key, "path %q is reserved for the gateway's own files", path)
	}
	if strings.ContainsAny(path, "?#% ") {
		v.errorf(key, "bad path %q: must not contain '?', '#', '%%' or spaces", path)
	}
	return p.Params()
}

// upstreamURL checks the URL and returns its lower-case scheme ("" if bad).
func (v *validator) upstreamURL(key, raw string, params []string, routePath string) string {
	if raw == "" {
		v.errorf(key, "required: the upstream URL, such as ws://127.0.0.1:9001/chat")
		return ""
	}
	if !strings.Contains(raw, "://") {
		v.errorf(key, "URL %q has no scheme: missing ws:// or http:// (for example ws://%s)", raw, strings.TrimPrefix(raw, "//"))
		return ""
	}
	// Placeholders are filled per request; parse with them replaced.
	for _, ph := range placeholderRE.FindAllString(raw, -1) {
		name := ph[1 : len(ph)-1]
		if !slices.Contains(params, name) {
			v.errorf(key, "placeholder %s is not defined by path %q", ph, routePath)
		}
	}
	u, err := url.Parse(placeholderRE.ReplaceAllString(raw, "x"))
	if err != nil {
		v.errorf(key, "bad URL %q: %v", raw, unwrapURLError(err))
		return ""
	}
	scheme := strings.ToLower(u.Scheme)
	switch scheme {
	case "ws", "wss", "http", "https":
	case "":
		v.errorf(key, "URL %q has no scheme (want ws, wss, http or https)", raw)
		return ""
	default:
		v.errorf(key, "unsupported scheme %q (want ws, wss, http or https)", u.Scheme)
		return ""
	}
	if u.Host == "" {
		v.errorf(key, "URL %q has no host", raw)
		return ""
	}
	if u.User != nil {
		v.errorf(key, "credentials in the URL are not allowed (use upstream.headers)")
	}
	if u.Fragment != "" {
		v.errorf(key, "URL %q must not have a #fragment", raw)
	}
	// No client input may pick the upstream host.
	if host, _, _ := strings.Cut(strings.SplitN(raw, "://", 2)[1], "/"); strings.ContainsAny(host, "{}") {
		v.errorf(key, "placeholders are not allowed in the upstream host (clients must not pick the host)")
	}
	return scheme
}

func unwrapURLError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}

var allKinds = []string{KindWebSocket, KindSSE, KindLongPoll, KindPoll, KindHTTP}

// upstreamKind checks kind against the URL scheme; it reports whether the
// kind is known, so kind-specific checks make sense.
func (v *validator) upstreamKind(prefix string, u *Upstream, scheme string) bool {
	key := prefix + ".kind"
	if u.Kind == "" {
		if scheme != "" {
			v.errorf(key, "cannot tell the kind from the URL; set kind (%s)", orList(allKinds))
		}
		return false
	}
	if !v.oneOf(key, u.Kind, allKinds...) {
		return false
	}
	if scheme == "" {
		return true
	}
	wsScheme := scheme == "ws" || scheme == "wss"
	switch {
	case u.Kind == KindWebSocket && !wsScheme:
		v.errorf(key, "kind websocket needs a ws:// or wss:// URL, got %s://", scheme)
	case u.Kind != KindWebSocket && wsScheme:
		v.errorf(key, "kind %s needs an http:// or https:// URL, got %s://", u.Kind, scheme)
	}
	return true
}

func (v *validator) upstreamOptions(prefix string, u *Upstream, mode string) {
	if u.Kind == KindPoll {
		if u.Interval <= 0 {
			v.errorf(prefix+".interval", "must be greater than 0")
		}
	} else if u.Interval != 0 {
		v.errorf(prefix+".interval", "interval is only used by kind poll")
	}
	if u.Timeout <= 0 {
		v.errorf(prefix+".timeout", "must be greater than 0")
	}
	rc := u.Reconnect
	if rc.Min <= 0 {
		v.errorf(prefix+".reconnect.min", "must be greater than 0")
	}
	if rc.Max <= 0 {
		v.errorf(prefix+".reconnect.max", "must be greater than 0")
	}
	if rc.Min > 0 && rc.Max > 0 && rc.Min > rc.Max {
		v.errorf(prefix+".reconnect", "min (%s) must not be greater than max (%s)", rc.Min, rc.Max)
	}
	if v.oneOf(prefix+".split", u.Split, SplitNone, SplitJSONArray) && u.Split != SplitNone &&
		u.Kind != KindLongPoll && u.Kind != KindPoll {
		v.errorf(prefix+".split", "split is only used by kinds longpoll and poll")
	}
	canonical := map[string]string{}
	for _, name := range sortedKeys(u.Headers) {
		key := prefix + ".headers." + name
		if !validHeaderName(name) {
			v.errorf(key, "bad header name %q", name)
		}
		if other, dup := canonical[strings.ToLower(name)]; dup {
			v.errorf(key, "header %q given twice (also as %q; header names ignore case)", name, other)
		}
		canonical[strings.ToLower(name)] = name
		if strings.ContainsAny(u.Headers[name], "\r\n\x00") {
			v.errorf(key, "header value must not contain line breaks or NUL")
		}
	}
	for i, name := range u.ForwardHeaders {
		if !validHeaderName(name) {
			v.errorf(fmt.Sprintf("%s.forward_headers[%d]", prefix, i), "bad header name %q", name)
		}
	}
	v.subprotocols(prefix+".subprotocols", u)
	if len(u.ForwardHeaders) > 0 {
		switch {
		case u.Kind == KindHTTP:
			v.errorf(prefix+".forward_headers", "forward_headers is not used by kind http (a pass-through proxy forwards all end-to-end headers)")
		case mode == ModeBroadcast:
			v.errorf(prefix+".forward_headers", "forward_headers is only used in mode session (a shared broadcast upstream must not carry one client's headers)")
		}
	}
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// validHeaderName: an RFC 9110 token.
func validHeaderName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0 {
			continue
		}
		return false
	}
	return true
}

func (v *validator) transports(key string, ts []string) {
	if len(ts) == 0 {
		v.errorf(key, "list at least one transport (%s)", orList(AllTransports))
		return
	}
	seen := map[string]bool{}
	for i, t := range ts {
		item := fmt.Sprintf("%s[%d]", key, i)
		if !v.oneOf(item, t, AllTransports...) {
			continue
		}
		if seen[t] {
			v.errorf(item, "duplicate transport %q", t)
		}
		seen[t] = true
	}
}

// zeroTimers warns about an explicit 0s session_ttl or idle_close on a
// route whose polling clients leave between two requests: the session or
// the topic would end between every two polls.
func (v *validator) zeroTimers(prefix string, r *Route) {
	polled := ""
	for _, t := range r.Transports {
		if t == TransportLongPoll || t == TransportPoll || t == TransportJSONP {
			polled = t
			break
		}
	}
	if polled == "" || r.SockJS != nil {
		return
	}
	if r.Mode == ModeSession && r.SessionTTL != nil && *r.SessionTTL == 0 {
		v.warnf(prefix+".session_ttl", "0s ends a session as soon as its last client leaves, and a %s client leaves between two requests: its next one finds the session gone (give it more than the time between two polls)", polled)
	}
	if r.Mode == ModeBroadcast && r.IdleClose != nil && *r.IdleClose == 0 {
		v.warnf(prefix+".idle_close", "0s closes the upstream as soon as the last subscriber leaves, and a %s client leaves between two requests: a topic with only such clients reconnects its upstream for every poll", polled)
	}
}

func (v *validator) origins(key string, origins []string, mode string) {
	for i, o := range origins {
		if o == "*" {
			if mode == ModeSession {
				v.warnf(fmt.Sprintf("%s[%d]", key, i), "\"*\" lets any site open sessions on this route; they get no cookies or Authorization (list the sites that need them)")
			}
			continue
		}
		if o == "null" {
			continue // sandboxed frames and file: pages; allowed only when listed
		}
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
			(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil || u.Fragment != "" {
			v.errorf(fmt.Sprintf("%s[%d]", key, i), "bad origin %q (want \"*\", \"null\" or scheme://host[:port], such as https://app.example.com)", o)
		}
	}
}
