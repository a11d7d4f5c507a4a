package bridge_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"

	"github.com/bridgeway/bridgeway/bridge/internal/ssetest"
	"github.com/bridgeway/bridgeway/config"
)

const (
	resumeMessages = 5000
	resumeCuts     = 20
)

// cutReader ends a response after limit bytes, like a connection dropped at
// an arbitrary byte (mid-event, mid-line).
type cutReader struct {
	r     io.Reader
	limit int
}

func (c *cutReader) Read(p []byte) (int, error) {
	if c.limit <= 0 {
		return 0, io.EOF
	}
	if len(p) > c.limit {
		p = p[:c.limit]
	}
	n, err := c.r.Read(p)
	c.limit -= n
	return n, err
}

func resumeRoute(up *testUpstream) config.Route {
	r := sessionRoute(up)
	r.Buffer = 8192
	return r
}

func TestSSEResumeAfterRandomCuts(t *testing.T) {
	up := newUpstream(t)
	g := newGateway(t, resumeRoute(up), config.Limits{})
	rng := rand.New(rand.NewPCG(1, 2))
	ctx, cancel := context.WithTimeout(context.Background(), 2*deadline)
	defer cancel()

	var got []string
	first := g.openSSE(t, ctx, "/chat/sse", nil)
	session, _ := first.session(t)
	g.send(t, session, "flood 5000")
	for range 1 + rng.IntN(200) {
		got = append(got, first.next(t).Data)
	}
	lastID := first.p.LastEventID()
	first.resp.Body.Close()

	for cut := 1; len(got) < resumeMessages; cut++ {
		hdr := http.Header{"Accept": {"text/event-stream"}}
		path := "/chat/sse"
		if cut%2 == 0 {
			hdr.Set("Last-Event-ID", lastID)
		} else {
			path += "?lastEventId=" + lastID
		}
		resp := g.get(t, ctx, path, hdr)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("resume %d: status %d", cut, resp.StatusCode)
		}
		var body io.Reader = resp.Body
		if cut < resumeCuts {
			body = &cutReader{r: resp.Body, limit: 1 + rng.IntN(8000)}
		}
		p := ssetest.NewParser(body)
		for len(got) < resumeMessages {
			ev, err := p.Next()
			if err != nil {
				break
			}
			switch ev.Type {
			case "session":
			case "message":
				got = append(got, ev.Data)
			default:
				t.Fatalf("unexpected event %+v", ev)
			}
		}
		if id := p.LastEventID(); id != "" {
			lastID = id
		}
		resp.Body.Close()
	}
	checkSeq(t, got, resumeMessages, "SSE with cuts")
}

func TestLongPollResumeAfterLostAnswers(t *testing.T) {
	up := newUpstream(t)
	g := newGateway(t, resumeRoute(up), config.Limits{})
	rng := rand.New(rand.NewPCG(3, 4))
	ctx, cancel := context.WithTimeout(context.Background(), 2*deadline)
	defer cancel()
	first, _ := g.poll(t, ctx, "", nil)
	g.send(t, first.Session, "flood 5000")

	var got []string
	cursor := first.Cursor
	lost := 0
	for len(got) < resumeMessages {
		resp := g.get(t, ctx, "/chat/poll?cursor="+cursor, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("poll: %d", resp.StatusCode)
		}
		if lost < resumeCuts && rng.IntN(2) == 0 {
			// The answer is lost in flight: read part of it, drop the rest.
			_, _ = io.CopyN(io.Discard, resp.Body, int64(rng.IntN(4000)))
			resp.Body.Close()
			lost++
			continue
		}
		var a pollAnswer
		if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if a.Gap != nil || a.Closed != nil {
			t.Fatalf("unexpected %+v", a)
		}
		if lost < resumeCuts && len(a.Messages) > 1 {
			// The client died after handling a random prefix of the answer;
			// it resumes from the last message id it handled.
			k := rng.IntN(len(a.Messages))
			for _, m := range a.Messages[:k] {
				got = append(got, m.Data)
			}
			if k > 0 {
				cursor = a.Messages[k-1].ID
			}
			lost++
			continue
		}
		for _, m := range a.Messages {
			got = append(got, m.Data)
		}
		cursor = a.Cursor
	}
	if lost != resumeCuts {
		t.Fatalf("%d cuts, want %d", lost, resumeCuts)
	}
	checkSeq(t, got, resumeMessages, "long-poll with lost answers")
}

func TestStreamResumeAfterRandomCuts(t *testing.T) {
	up := newUpstream(t)
	g := newGateway(t, resumeRoute(up), config.Limits{})
	rng := rand.New(rand.NewPCG(5, 6))
	ctx, cancel := context.WithTimeout(context.Background(), 2*deadline)
	defer cancel()

	st := g.openStream(t, ctx, "", nil)
	head := st.next(t)
	g.send(t, head.Session, "flood 5000")
	var got []string
	cursor := ""
	for range 1 + rng.IntN(200) {
		l := st.next(t)
		got = append(got, l.Data)
		cursor = l.ID
	}
	st.resp.Body.Close()

	for cut := 1; len(got) < resumeMessages; cut++ {
		resp := g.get(t, ctx, "/chat/stream?cursor="+cursor, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("resume: %d", resp.StatusCode)
		}
		var body io.Reader = resp.Body
		if cut < resumeCuts {
			body = &cutReader{r: resp.Body, limit: 1 + rng.IntN(8000)}
		}
		br := bufio.NewReader(body)
		for len(got) < resumeMessages {
			line, err := br.ReadString('\n')
			if err != nil {
				break // a partial last line is dropped, as a client must
			}
			if strings.TrimSpace(line) == "" {
				continue
			}
			var l streamLine
			if err := json.Unmarshal([]byte(line), &l); err != nil {
				t.Fatalf("line %q: %v", line, err)
			}
			if l.Session != "" {
				continue
			}
			if l.Gap != nil || l.Closed != nil {
				t.Fatalf("unexpected %q", line)
			}
			got = append(got, l.Data)
			cursor = l.ID
		}
		resp.Body.Close()
	}
	checkSeq(t, got, resumeMessages, "NDJSON with cuts")
}
