package bridge_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/bridgeway/bridgeway/config"
)

// TestPollAnswerLimits: a poll may ask for a smaller answer with
// ?max_messages= and ?max_bytes= (the encoded message objects), on
// long-poll, short polling and JSONP; a first message larger than the limit
// goes alone; larger values are cut to the server's maxima; bad values get
// 400 bad_limit; the route's poll_max_bytes is the default.
func TestPollAnswerLimits(t *testing.T) {
	up := newUpstream(t)
	route := sessionRoute(up)
	route.PollMaxBytes = 200 // about two message objects
	g := newGateway(t, route, config.Limits{})
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	first, _ := g.poll(t, ctx, "", nil)
	g.send(t, first.Session, "flood 10")
	from := "&cursor=" + first.Cursor
	waitFor(t, "ten messages", func() bool {
		a, _ := g.poll(t, ctx, "?wait=0&max_messages=1000&max_bytes=1048576"+from, nil)
		return len(a.Messages) == 10
	})
	count := func(query string) int {
		t.Helper()
		a, resp := g.poll(t, ctx, query+from, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: status %d", query, resp.StatusCode)
		}
		checkSeq(t, messageData(a), len(a.Messages), query)
		return len(a.Messages)
	}
	one, _ := json.Marshal(message{ID: first.Session + "-1", Event: "message", Data: "m0"})
	size := len(one) + 1 // and its comma
	for _, tc := range []struct {
		query string
		want  int
	}{
		{"?wait=0", 2}, // poll_max_bytes: 200
		{"?wait=0&max_messages=3&max_bytes=100000", 3},
		{"?max_messages=3&max_bytes=100000", 3}, // long-poll
		{fmt.Sprintf("?wait=0&max_bytes=%d", 3*size), 3},
		{fmt.Sprintf("?wait=0&max_bytes=%d", 3*size-1), 2},
		{"?wait=0&max_bytes=1", 1}, // a message larger than the limit goes alone
		{"?wait=0&max_messages=5000&max_bytes=99999999999999999999", 10},
	} {
		if got := count(tc.query); got != tc.want {
			t.Errorf("%s: %d messages, want %d", tc.query, got, tc.want)
		}
	}
	resp := g.get(t, ctx, "/chat/poll?callback=cb&max_messages=2"+from, nil)
	body := readAll(t, resp)
	resp.Body.Close()
	if strings.Count(body, `"event":"message"`) != 2 || !strings.HasPrefix(body, "/**/cb(") {
		t.Errorf("jsonp with max_messages=2: %s", body)
	}
	for _, bad := range []string{"max_bytes=0", "max_bytes=-1", "max_bytes=x", "max_messages=0", "max_messages=1.5"} {
		expectError(t, g.get(t, ctx, "/chat/poll?wait=0&"+bad+from, nil), http.StatusBadRequest, "bad_limit")
	}
}

func messageData(a pollAnswer) []string {
	var out []string
	for _, m := range a.Messages {
		out = append(out, m.Data)
	}
	return out
}
