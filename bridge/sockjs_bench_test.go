package bridge_test

import (
	"strconv"
	"testing"

	"github.com/bridgeway/bridgeway/config"
)

// BenchmarkSockJSStreamingEcho is one message's round trip through a
// SockJS session: xhr_send, the upstream's echo, the frame on an open
// xhr_streaming response (reopened at response_limit, as clients do).
func BenchmarkSockJSStreamingEcho(b *testing.B) {
	up := newUpstream(b)
	r := sockjsRoute("/echo", up.url("/echo"))
	r.SockJS.ResponseLimit = config.DefaultSockJSResponseLimit
	s := newSockJS(b, r, config.Limits{})
	url := s.base + "/000/" + newSID()
	st := openXhrStream(b, url)
	st.expect(b, "o\n")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m := "m" + strconv.Itoa(i)
		resp, _ := do(b, "POST", url+"/xhr_send", `["`+m+`"]`, nil)
		if resp.StatusCode != 204 {
			b.Fatalf("send: %d", resp.StatusCode)
		}
		line, err := st.br.ReadString('\n')
		if err != nil {
			st.resp.Body.Close()
			st = openXhrStream(b, url)
			line, err = st.br.ReadString('\n')
		}
		if err != nil || line != `a["`+m+`"]`+"\n" {
			b.Fatalf("frame %q (%v)", line, err)
		}
	}
}
