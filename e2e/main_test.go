// Package e2e drives the real gateway from a real browser: headless
// Chromium (chromedp) loads /_bridgeway/client.js from a gateway built from
// the real bridge and talks, over every transport, to a gorilla WebSocket
// app behind it.
package e2e

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	code := m.Run()
	stopBrowser()
	if code == 0 {
		// goleak after the browser is gone: its CDP reader goroutines end with it.
		if err := goleak.Find(); err != nil {
			os.Stderr.WriteString("goleak: " + err.Error() + "\n")
			code = 1
		}
	}
	os.Exit(code)
}
