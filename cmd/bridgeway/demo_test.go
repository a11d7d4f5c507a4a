package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bridgeway/bridgeway/proxy"
)

// TestDemo runs `bridgeway demo` in-process: the page is served at /, its
// route list at /_demo/routes.json, each feed delivers over the bridge, and
// SIGTERM stops everything (goleak in TestMain checks nothing is left).
func TestDemo(t *testing.T) {
	signals := make(chan os.Signal, 1)
	started := make(chan *proxy.Server, 1)
	exit := make(chan int, 1)
	go func() {
		exit <- runDemo("127.0.0.1:0", io.Discard, io.Discard, signals, func(s *proxy.Server) { started <- s })
	}()
	var srv *proxy.Server
	select {
	case srv = <-started:
	case code := <-exit:
		t.Fatalf("demo exited early with %d", code)
	case <-time.After(testTimeout):
		t.Fatal("demo did not start")
	}
	base := "http://" + srv.Addr()
	client := &http.Client{Timeout: testTimeout}

	page := get(t, client, base+"/")
	if !strings.Contains(page, "/_bridgeway/client.js") {
		t.Errorf("demo page does not load the client library:\n%.300s", page)
	}
	var routes struct {
		Routes []struct{ Path string } `json:"routes"`
	}
	if err := json.Unmarshal([]byte(get(t, client, base+"/_demo/routes.json")), &routes); err != nil || len(routes.Routes) != len(demoRoutes) {
		t.Fatalf("routes.json: %v %+v", err, routes)
	}
	if js := get(t, client, base+"/_bridgeway/client.js"); !strings.Contains(js, "bridgeway") {
		t.Errorf("client.js not served")
	}

	// Every feed delivers real upstream data over SSE through the gateway.
	for _, path := range []string{"/chat", "/room", "/feed", "/clock", "/clock-wait"} {
		if data := firstSSEData(t, client, base+path+"/sse"); data == "" {
			t.Errorf("%s: no data", path)
		}
	}

	signals <- syscall.SIGTERM
	select {
	case code := <-exit:
		if code != 0 {
			t.Fatalf("exit code %d", code)
		}
	case <-time.After(testTimeout):
		t.Fatal("demo did not stop on SIGTERM")
	}
}

func get(t *testing.T, c *http.Client, url string) string {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	return string(b)
}

// firstSSEData returns the data of the first upstream message (not the
// session event) on an SSE stream.
func firstSSEData(t *testing.T, c *http.Client, url string) string {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		t.Fatalf("%s: content type %q", url, ct)
	}
	sc := bufio.NewScanner(resp.Body)
	event := ""
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			event = line[len("event: "):]
		case strings.HasPrefix(line, "data: ") && event == "":
			return line[len("data: "):]
		case line == "":
			event = ""
		}
	}
	return ""
}
