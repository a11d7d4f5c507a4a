package hardening

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// answer is a whole HTTP answer read by a test client.
type answer struct {
	status int
	header http.Header
	body   string
}

// errorCode is the "error" of a JSON error body ("" if none).
func (a answer) errorCode() string {
	var e struct {
		Error   string `json:"error"`
		Message string `json:"message"`
	}
	if json.Unmarshal([]byte(a.body), &e) != nil || e.Message == "" {
		return ""
	}
	return e.Error
}

var httpClient = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

func do(t *testing.T, method, url string, hdr http.Header, body string) answer {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	if body != "" && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "text/plain")
	}
	res, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(res.Body, 4<<20))
	return answer{status: res.StatusCode, header: res.Header, body: string(b)}
}

func get(t *testing.T, url string, hdr http.Header) answer { return do(t, "GET", url, hdr, "") }

// pollAnswer is a long-poll/poll JSON answer.
type pollAnswer struct {
	Session  string `json:"session"`
	Cursor   string `json:"cursor"`
	Messages []struct {
		ID    string `json:"id"`
		Event string `json:"event"`
		Data  string `json:"data"`
	} `json:"messages"`
	Gap    *struct{ From, To string } `json:"gap"`
	Closed *struct {
		Code   int    `json:"code"`
		Reason string `json:"reason"`
	} `json:"closed"`
}

func decodePoll(t *testing.T, a answer) pollAnswer {
	t.Helper()
	if a.status != http.StatusOK {
		t.Fatalf("poll answered %d: %s", a.status, a.body)
	}
	var p pollAnswer
	if err := json.Unmarshal([]byte(a.body), &p); err != nil {
		t.Fatalf("poll body %q: %v", a.body, err)
	}
	return p
}

func (p pollAnswer) data() []string {
	var out []string
	for _, m := range p.Messages {
		out = append(out, m.Data)
	}
	return out
}

// sseStream is an open SSE response read event by event.
type sseStream struct {
	res    *http.Response
	br     *bufio.Reader
	cancel context.CancelFunc
}

type sseEvent struct {
	id, event, data string
	lines           []string // raw lines of the event, in order
}

func openSSE(t *testing.T, url string, hdr http.Header) *sseStream {
	t.Helper()
	// The deadline is a hang guard only.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	for k, v := range hdr {
		req.Header[k] = v
	}
	res, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Do(req)
	if err != nil {
		cancel()
		t.Fatalf("sse: %v", err)
	}
	s := &sseStream{res: res, br: bufio.NewReader(res.Body), cancel: cancel}
	t.Cleanup(s.close)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("sse answered %d", res.StatusCode)
	}
	return s
}

func (s *sseStream) close() {
	s.cancel()
	_ = s.res.Body.Close()
}

// next reads one event (comments skipped); io.EOF when the stream ends.
func (s *sseStream) next() (sseEvent, error) {
	var ev sseEvent
	var data []string
	for {
		line, err := s.br.ReadString('\n')
		if err != nil {
			return ev, io.EOF
		}
		line = strings.TrimSuffix(line, "\n")
		if line == "" {
			if len(ev.lines) == 0 {
				continue
			}
			ev.data = strings.Join(data, "\n")
			return ev, nil
		}
		if strings.HasPrefix(line, ":") {
			continue
		}
		ev.lines = append(ev.lines, line)
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "id":
			ev.id = value
		case "event":
			ev.event = value
		case "data":
			data = append(data, value)
		}
	}
}

// nextMessage skips retry/session events and returns the next event with
// data, failing on EOF.
func (s *sseStream) nextEvent(t *testing.T, event string) sseEvent {
	t.Helper()
	for {
		ev, err := s.next()
		if err != nil {
			t.Fatalf("sse ended while waiting for event %q", event)
		}
		if ev.event == event || (event == "message" && ev.event == "" && ev.id != "") {
			return ev
		}
	}
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// doCtx is do for goroutines other than the test's: it returns errors.
func doCtx(ctx context.Context, method, url, body string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "text/plain")
	res, err := httpClient.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode, nil
}
