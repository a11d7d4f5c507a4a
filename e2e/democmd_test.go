package e2e

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestDemoCommand runs the README's first command, `bridgeway demo`, as a
// real process and opens its page: every feed it lists connects over every
// transport and counts messages, a chat line sent via long-poll shows in
// the WebSocket box, and the SockJS feed's box counts messages. The screenshot comes from here (docs/demo.png with
// -update-screenshot). SIGTERM must end the process cleanly.
func TestDemoCommand(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "bridgeway")
	// -race reuses the packages `go test -race` already compiled.
	build := exec.Command("go", "build", "-race", "-o", bin, "../cmd/bridgeway")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "demo", "-listen", "127.0.0.1:0")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	lines := make(chan string, 16)
	go func() { // owned by this test: ends when the process closes stdout
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default: // nobody listens any more; keep draining
			}
		}
		exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("bridgeway demo exited with %v after SIGTERM\n%s", err, logs.String())
			}
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
			t.Errorf("bridgeway demo did not exit within 30s of SIGTERM")
		}
	})

	var base string
	addr := regexp.MustCompile(`open (http://[0-9.:]+)/`)
	select {
	case line := <-lines:
		m := addr.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("unexpected first line %q", line)
		}
		base = m[1]
	case err := <-exited:
		t.Fatalf("bridgeway demo exited: %v\n%s", err, logs.String())
	case <-time.After(deadline):
		t.Fatalf("bridgeway demo printed no address\n%s", logs.String())
	}

	tab := newTab(t)
	run(t, tab, chromedp.EmulateViewport(1280, 400), chromedp.Navigate(base+"/"))
	// The feed list arrives with /_demo/routes.json after the page loaded.
	waitFor(t, tab, `document.querySelector('#feed option[value="all"]') !== null`, `document.getElementById("feed").innerHTML`)
	feeds := eval[[]string](t, tab, `(function () {
	  var sel = document.getElementById("feed");
	  return Array.prototype.map.call(sel.options, function (o) { return o.value; }).filter(function (v) { return v !== "all"; });
	})()`)
	if len(feeds) == 0 {
		t.Fatal("the demo page lists no feeds")
	}
	const boxes = `document.querySelectorAll("#feeds .cell")`
	// Each feed over the six transports; the first feed last, for the screenshot.
	order := append(append([]string{}, feeds[1:]...), feeds[0])
	for _, feed := range order {
		run(t, tab, chromedp.SetValue(chromedp.CSS(`#feed`), feed))
		eval[bool](t, tab, `document.getElementById("feed").onchange(), true`)
		waitFor(t, tab, boxes+`.length === 6 && `+boxes+`[0].getAttribute("data-route") === `+mustJSON(t, feed), boxes+`.length`)
		waitFor(t, tab, `Array.prototype.every.call(`+boxes+`, function (b) {
		  return b.querySelector(".state").textContent === b.getAttribute("data-transport") &&
		    +b.querySelector(".count").textContent >= 2;
		})`, `Array.prototype.map.call(`+boxes+`, function (b) {
		  return [b.getAttribute("data-route"), b.getAttribute("data-transport"), b.querySelector(".state").textContent, b.querySelector(".count").textContent];
		})`)
		t.Logf("%s: every transport connected and counting", feed)
	}
	// The first feed is the chat (send box): a line sent via long-poll
	// reaches the WebSocket box, as the chat app broadcasts to its room.
	if eval[int](t, tab, `document.querySelectorAll("form.send").length`) == 1 {
		run(t, tab,
			chromedp.SetValue(chromedp.CSS(`form.send input`), "hello from long-poll"),
			chromedp.SetValue(chromedp.CSS(`form.send select`), "longpoll"),
			chromedp.Click(chromedp.CSS(`form.send button`)))
		waitFor(t, tab, `document.querySelector('.cell[data-transport="websocket"] ol').textContent.indexOf("hello from long-poll") >= 0`,
			`document.querySelector('.cell[data-transport="websocket"]').textContent`)
	}
	// The SockJS feed, read with SockJS frames over its WebSocket endpoint.
	const sockjsBox = `document.querySelector("#sockjs .cell")`
	waitFor(t, tab, sockjsBox+` !== null && `+sockjsBox+`.querySelector(".state").textContent === "open" && +`+sockjsBox+`.querySelector(".count").textContent >= 2`,
		`document.getElementById("sockjs").textContent`)
	t.Logf("/sockjs/feed: the SockJS box is open and counting")
	// docs/sockjs.md: sockjs-client in a saved HTML file (Origin "null",
	// which the demo route lists), pointed at the demo's route, on the
	// transports sockjs-client allows such a page (no xhr-*) that need no
	// iframe page.
	t.Run("sockjs-client", func(t *testing.T) {
		page := sockjsPageFile(t)
		for _, transport := range []string{"websocket", "eventsource", "jsonp-polling"} {
			sj := newTab(t)
			run(t, sj, chromedp.Navigate(page))
			eval[bool](t, sj, `sjOpen(`+mustJSON(t, base+"/sockjs/feed")+`, {transports: [`+mustJSON(t, transport)+`]})`)
			waitFor(t, sj, `S.msgs.length >= 2 || S.closes.length > 0`, `sjSummary()`)
			if got := eval[string](t, sj, `JSON.stringify([S.transport, S.closes, /^\{"n":\d+,"time":/.test(S.msgs[0])])`); got != `["`+transport+`",[],true]` {
				t.Errorf("sockjs-client on the demo's /sockjs/feed over %s: %s", transport, got)
			}
		}
	})
	waitFor(t, tab, `Array.prototype.every.call(`+boxes+`, function (b) { return +b.querySelector(".count").textContent >= 5; })`, `""`)
	img := capture(t, tab)
	if _, err := png.Decode(bytes.NewReader(img)); err != nil {
		t.Fatalf("screenshot is not a PNG: %v", err)
	}
	out := filepath.Join(t.TempDir(), "demo.png")
	if *updateScreenshot {
		out = filepath.Join("..", "docs", "demo.png")
	}
	if err := os.WriteFile(out, img, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d bytes)", out, len(img))
}

var updateScreenshot = flag.Bool("update-screenshot", false, "write the demo page screenshot to docs/demo.png")

func capture(t *testing.T, tab context.Context) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, deadline)
	defer cancel()
	img, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	return img
}
