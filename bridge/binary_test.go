package bridge_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/bridgeway/bridgeway/config"
)

// clientBinary is binary message i sent by a client (not valid UTF-8).
func clientBinary(i int) []byte { return []byte{0xfe, 0x00, byte(i), byte(i >> 8)} }

// received is one message as a transport delivered it.
type received struct {
	binary bool
	data   []byte
}

// binaryBothWays: the client POSTs 1,000 binary messages (echoed back by the
// upstream) and then asks the upstream for 1,000 binary messages of its own;
// next yields what the transport under test delivers.
func binaryBothWays(t *testing.T, g *gateway, session string, next func() received) {
	t.Helper()
	errs := make(chan error, 1)
	go func() {
		send := func(ct string, body []byte) error {
			resp, err := http.Post(g.srv.URL+"/chat/send?session="+session, ct, bytes.NewReader(body))
			if err != nil {
				return err
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusNoContent {
				return fmt.Errorf("send: status %d", resp.StatusCode)
			}
			return nil
		}
		for i := range n1000 {
			if err := send("application/octet-stream", clientBinary(i)); err != nil {
				errs <- err
				return
			}
		}
		errs <- send("text/plain", []byte("bflood 1000"))
	}()
	for i := range n1000 {
		if m := next(); !m.binary || !bytes.Equal(m.data, clientBinary(i)) {
			t.Fatalf("binary echo %d: %+v", i, m)
		}
	}
	for i := range n1000 {
		if m := next(); !m.binary || !bytes.Equal(m.data, binaryPayload(i)) {
			t.Fatalf("upstream binary %d: %+v", i, m)
		}
	}
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
}

// textBothWays is binaryBothWays for text: 1,000 client messages in JSON
// batches (echoed), then 1,000 from the upstream.
func textBothWays(t *testing.T, g *gateway, session string, next func() received) {
	t.Helper()
	errs := make(chan error, 1)
	go func() {
		for batch := range n1000 / 100 {
			var b strings.Builder
			b.WriteString(`{"messages":[`)
			for i := range 100 {
				if i > 0 {
					b.WriteByte(',')
				}
				fmt.Fprintf(&b, `"t%d"`, batch*100+i)
			}
			b.WriteString(`]}`)
			resp, err := http.Post(g.srv.URL+"/chat/send?session="+session, "application/json", strings.NewReader(b.String()))
			if err != nil {
				errs <- err
				return
			}
			resp.Body.Close()
		}
		resp, err := http.Post(g.srv.URL+"/chat/send?session="+session, "text/plain", strings.NewReader("flood 1000"))
		if err == nil {
			resp.Body.Close()
		}
		errs <- err
	}()
	for i := range n1000 {
		if m := next(); m.binary || string(m.data) != fmt.Sprintf("t%d", i) {
			t.Fatalf("text echo %d: %+v", i, m)
		}
	}
	for i := range n1000 {
		if m := next(); m.binary || string(m.data) != wantText(i) {
			t.Fatalf("upstream text %d: %+v", i, m)
		}
	}
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
}

func decode64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatalf("base64 %q: %v", s, err)
	}
	return b
}

func TestTextAndBinaryBothWaysOverHTTPTransports(t *testing.T) {
	up := newUpstream(t)
	g := newGateway(t, sessionRoute(up), config.Limits{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*deadline)
	defer cancel()

	t.Run("sse", func(t *testing.T) {
		s := g.openSSE(t, ctx, "/chat/sse", nil)
		defer s.resp.Body.Close()
		session, _ := s.session(t)
		binaryBothWays(t, g, session, func() received {
			ev := s.next(t)
			return received{binary: ev.Type == "binary", data: decode64(t, ev.Data)}
		})
	})
	t.Run("stream", func(t *testing.T) {
		st := g.openStream(t, ctx, "", nil)
		defer st.resp.Body.Close()
		head := st.next(t)
		binaryBothWays(t, g, head.Session, func() received {
			l := st.next(t)
			return received{binary: l.Binary, data: decode64(t, l.Data)}
		})
	})
	for _, query := range []string{"", "wait=0&", "callback=cb&"} {
		name := map[string]string{"": "longpoll", "wait=0&": "poll", "callback=cb&": "jsonp"}[query]
		t.Run(name, func(t *testing.T) {
			first, _ := g.poll(t, ctx, "", nil)
			cursor := first.Cursor
			var queue []message
			next := func() received {
				for len(queue) == 0 {
					resp := g.get(t, ctx, "/chat/poll?"+query+"cursor="+cursor, nil)
					body := readAll(t, resp)
					resp.Body.Close()
					if query == "callback=cb&" {
						body = strings.TrimSuffix(strings.TrimPrefix(body, "/**/cb("), ");")
					}
					var a pollAnswer
					if err := jsonUnmarshal(body, &a); err != nil {
						t.Fatalf("poll body %q: %v", body, err)
					}
					queue, cursor = a.Messages, a.Cursor
				}
				m := queue[0]
				queue = queue[1:]
				if !m.Binary {
					return received{data: []byte(m.Data)}
				}
				return received{binary: true, data: decode64(t, m.Data)}
			}
			textBothWays(t, g, first.Session, next)
			binaryBothWays(t, g, first.Session, next)
		})
	}
}
