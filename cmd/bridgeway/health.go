package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"time"
)

func init() { extraCommands["health"] = healthCommand }

// healthTimeout bounds one probe, so a hung gateway fails the check.
const healthTimeout = 5 * time.Second

// healthCommand asks the admin listener's /healthz and exits 0 on 200, 1
// otherwise. It is the container image's HEALTHCHECK, which has no shell
// and no curl.
func healthCommand(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bridgeway health", flag.ContinueOnError)
	fs.SetOutput(stderr)
	url := fs.String("url", "http://127.0.0.1:9090/healthz", "health endpoint to ask")
	if err := fs.Parse(args); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(stderr, "bridgeway health: %v\n", err)
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "bridgeway health: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	client := &http.Client{Timeout: healthTimeout}
	resp, err := client.Get(*url)
	if err != nil {
		fmt.Fprintf(stderr, "bridgeway health: %v\n", err)
		return 1
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(stderr, "bridgeway health: %s answered %d %s\n", *url, resp.StatusCode, body)
		return 1
	}
	fmt.Fprintf(stdout, "%s\n", body)
	return 0
}
