package hardening

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// TestHTTP2RapidResetBounded: one HTTP/2 connection sends HEADERS then
// RST_STREAM for stream after stream (rapid reset). Past
// limits.http2_max_resets the gateway answers GOAWAY (ENHANCE_YOUR_CALM)
// and closes the connection, counted in rejected_connections_total, so at
// most that many requests can reach the upstream; other clients are served.
func TestHTTP2RapidResetBounded(t *testing.T) {
	const maxResets, streams = 50, 1000
	app := newHTTPApp(t)
	g := tlsGateway(t, "", "limits: {http2_max_resets: 50}\n"+passthroughYAML(app.srv.URL))
	c := dialTLS(t, g, "h2")

	// The whole attack is written by one goroutine while this one reads.
	script := newH2Script()
	for i := range streams {
		id := uint32(2*i + 1)
		script.get(id, "/app/reset")
		_ = script.fw.WriteRSTStream(id, http2.ErrCodeCancel)
	}
	wrote := make(chan struct{})
	go func() {
		defer close(wrote)
		_, _ = c.Write(script.out.Bytes()) // fails once the gateway closed: fine
	}()

	fr := http2.NewFramer(io.Discard, c)
	var goAway *http2.GoAwayFrame
	for goAway == nil {
		f, err := fr.ReadFrame()
		if err != nil {
			var ce http2.ConnectionError
			if errors.As(err, &ce) {
				continue
			}
			break
		}
		goAway, _ = f.(*http2.GoAwayFrame)
	}
	_ = c.Close()
	<-wrote
	if goAway == nil {
		t.Fatalf("no GOAWAY after %d resets", streams)
	}
	if goAway.ErrCode != http2.ErrCodeEnhanceYourCalm {
		t.Errorf("GOAWAY %v, want ENHANCE_YOUR_CALM", goAway.ErrCode)
	}
	t.Logf("%d of %d reset requests reached the upstream", len(app.seen()), streams)
	if n := len(app.seen()); n > maxResets {
		t.Errorf("%d reset requests reached the upstream, want at most %d", n, maxResets)
	}
	eventually(t, "the closed connection to be counted", func() bool {
		return g.metric("bridgeway_proxy_rejected_connections_total", `reason="http2_max_resets"`) == 1
	})
	// Another client is served.
	res, err := tlsClient(true).Get("https://" + g.srv.TLSAddr() + "/app/ok")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 || res.ProtoMajor != 2 {
		t.Errorf("a normal h2 request: %s %d", res.Proto, res.StatusCode)
	}
}

// h2Script builds what a raw HTTP/2 client sends: the preface and an empty
// SETTINGS, then the frames its methods (or fw) add.
type h2Script struct {
	out, block bytes.Buffer
	fw         *http2.Framer
	enc        *hpack.Encoder
}

func newH2Script() *h2Script {
	s := &h2Script{}
	s.out.WriteString(http2.ClientPreface)
	s.fw = http2.NewFramer(&s.out, nil)
	_ = s.fw.WriteSettings()
	s.enc = hpack.NewEncoder(&s.block)
	return s
}

// get adds the HEADERS of a GET for path on stream id, ending the stream.
func (s *h2Script) get(id uint32, path string) {
	s.block.Reset()
	for _, f := range [][2]string{{":method", "GET"}, {":scheme", "https"}, {":authority", "x"}, {":path", path}} {
		_ = s.enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	_ = s.fw.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: s.block.Bytes(), EndStream: true, EndHeaders: true})
}
