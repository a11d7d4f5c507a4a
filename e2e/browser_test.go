package e2e

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/bridgeway/bridgeway/internal/testdeps"
)

// One headless Chromium serves the whole package; each test gets its own tab
// (and browser context, so no cookies or cache leak between tests).
var browser struct {
	once sync.Once
	ctx  context.Context // browser context; tabs derive from it
	stop func()
	err  error
}

// stopBrowser ends the shared browser; TestMain calls it after all tests.
func stopBrowser() {
	if browser.stop != nil {
		browser.stop()
	}
}

func startBrowser(t *testing.T) context.Context {
	t.Helper()
	path := testdeps.LookPath(t, "chromium", "chromium-browser")
	browser.once.Do(func() {
		dir, err := os.MkdirTemp("", "bridgeway-e2e-chromium-")
		if err != nil {
			browser.err = err
			return
		}
		allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), browserOptions(path, dir)...)
		ctx, cancelBrowser := chromedp.NewContext(allocCtx)
		// The first Run starts the browser; its context must not time out.
		if err := chromedp.Do(ctx); err != nil {
			cancelBrowser()
			cancelAlloc()
			os.RemoveAll(dir)
			browser.err = err
			return
		}
		browser.ctx = ctx
		browser.stop = func() {
			cancelBrowser()
			cancelAlloc()
			os.RemoveAll(dir)
		}
	})
	if browser.err != nil {
		t.Fatalf("start chromium: %v", browser.err)
	}
	return browser.ctx
}

// browserOptions are the flags of every test browser, plus extra.
func browserOptions(path, dir string, extra ...chromedp.ExecAllocatorOption) []chromedp.ExecAllocatorOption {
	return append([]chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.UserDataDir(dir),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-background-timer-throttling", true),
		chromedp.Flag("disable-renderer-backgrounding", true),
		chromedp.Flag("disable-backgrounding-occluded-windows", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.WindowSize(1280, 900),
		// httptest's TLS servers use a self-signed certificate.
		chromedp.IgnoreCertErrors,
	}, extra...)
}

// proxiedBrowser starts a browser of its own that sends everything,
// loopback included, through the forward proxy at addr; it ends with the
// test. Its tabs are opened with newTabIn.
func proxiedBrowser(t *testing.T, addr string) context.Context {
	t.Helper()
	path := testdeps.LookPath(t, "chromium", "chromium-browser")
	dir := t.TempDir()
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), browserOptions(path, dir,
		chromedp.ProxyServer("http://"+addr),
		// Chromium bypasses proxies for loopback unless told not to.
		chromedp.Flag("proxy-bypass-list", "<-loopback>"))...)
	ctx, cancelBrowser := chromedp.NewContext(allocCtx)
	if err := chromedp.Do(ctx); err != nil {
		cancelBrowser()
		cancelAlloc()
		t.Fatalf("start chromium: %v", err)
	}
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc()
	})
	return ctx
}

// newTab opens a fresh tab in its own browser context and forwards the page's
// console to the test log. Everything is closed when the test ends.
func newTab(t *testing.T) context.Context {
	t.Helper()
	return newTabIn(t, startBrowser(t))
}

// newTabIn opens a fresh tab of the browser parent.
func newTabIn(t *testing.T, parent context.Context) context.Context {
	t.Helper()
	ctx, cancel := chromedp.NewContext(parent, chromedp.WithNewBrowserContext())
	if err := chromedp.Do(ctx); err != nil {
		cancel()
		t.Fatalf("open tab: %v", err)
	}
	logCtx, stopLog := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for m, err := range chromedp.Console(logCtx) {
			if err != nil {
				return
			}
			t.Logf("browser %s: %s (%s)", m.Type, m.Text, m.URL)
		}
	}()
	t.Cleanup(func() {
		stopLog()
		wg.Wait()
		cancel()
	})
	return ctx
}

// deadline bounds one browser step so that a broken test fails instead of
// hanging; it is never an assertion about speed.
const deadline = 60 * time.Second

// run runs actions with the step deadline.
func run(t *testing.T, tab context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, deadline)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("browser: %v", err)
	}
}

// eval evaluates a JavaScript expression and decodes its JSON value.
func eval[T any](t *testing.T, tab context.Context, expr string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, deadline)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("eval %.80q: %v", expr, err)
	}
	return v
}

// waitFor polls a JavaScript predicate until it is truthy; on the deadline it
// fails the test with the page's state (describe is evaluated for the message).
func waitFor(t *testing.T, tab context.Context, predicate, describe string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, deadline)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[bool]("!!("+predicate+")",
		chromedp.WithPollingInterval(20*time.Millisecond), chromedp.WithPollingTimeout(deadline-time.Second)))
	if err != nil {
		state := "?"
		if describe != "" {
			sctx, scancel := context.WithTimeout(tab, 5*time.Second)
			if s, e := chromedp.Run(sctx, chromedp.Evaluate[string]("JSON.stringify("+describe+")")); e == nil {
				state = s
			}
			scancel()
		}
		t.Fatalf("waiting for %s: %v; state: %.2000s", predicate, err, state)
	}
}

// waitUntil polls a Go condition (state outside the browser) until the step
// deadline.
func waitUntil(t *testing.T, cond func() bool, what string) {
	t.Helper()
	end := time.Now().Add(deadline)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("waiting for %s: gave up after %v", what, deadline)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// pageAt opens a fresh tab on url (the test page, usually).
func pageAt(t *testing.T, url string) context.Context {
	t.Helper()
	tab := newTab(t)
	run(t, tab, chromedp.Navigate(url))
	return tab
}
