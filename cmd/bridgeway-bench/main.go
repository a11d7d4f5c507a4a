// Command bridgeway-bench is bridgeway's load generator.
//
//	bridgeway-bench fanout -url URL -subs sse=5000,websocket=5000 (-publish URL | -upstream-listen ADDR) ...
//	bridgeway-bench fanout ... -shards 4 -sources 127.0.0.2,127.0.0.3   (subscribers in 4 child processes)
//	bridgeway-bench echo -url ws://... -conns 100 -duration 10s
//	bridgeway-bench echo-server -listen 127.0.0.1:18092
//	bridgeway-bench grip-backend -listen 127.0.0.1:18093   (Pushpin's origin)
//	bridgeway-bench table results.jsonl...
//
// fanout and echo print a human table, then the same result as one JSON
// line (also appended to -json FILE) for scripts. bench/compare.sh runs
// them side by side against nginx+nchan.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/bridgeway/bridgeway/bench/loadgen"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "bridgeway-bench:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	cmd := "fanout"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	switch cmd {
	case "fanout":
		return runFanout(ctx, args, stdout, stderr)
	case "fanout-shard":
		return runFanoutShard(ctx, args, os.Stdin, stdout, stderr)
	case "echo":
		return runEcho(ctx, args, stdout, stderr)
	case "echo-server":
		return runEchoServer(ctx, args, stderr)
	case "grip-backend":
		return runGripBackend(ctx, args, stderr)
	case "table":
		return runTable(args, stdout)
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, "usage: bridgeway-bench fanout|echo|echo-server|grip-backend|table [flags]; -h after a command lists its flags")
		return nil
	}
	return fmt.Errorf("unknown command %q (fanout, echo, echo-server, grip-backend, table)", cmd)
}

// pidList is a repeatable flag of comma-separated pids; "@FILE" reads a pid file.
type pidList []int

func (p *pidList) String() string { return fmt.Sprint(*p) }

func (p *pidList) Set(v string) error {
	for _, f := range fields(v) {
		if name, ok := strings.CutPrefix(f, "@"); ok {
			b, err := os.ReadFile(name)
			if err != nil {
				return fmt.Errorf("pid file: %w", err)
			}
			f = strings.TrimSpace(string(b))
		}
		pid, err := strconv.Atoi(f)
		if err != nil || pid <= 0 {
			return fmt.Errorf("bad pid %q", f)
		}
		*p = append(*p, pid)
	}
	return nil
}

// fields splits a comma-separated flag value, dropping blanks.
func fields(v string) []string {
	var out []string
	for _, f := range strings.Split(v, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// stormConcurrency is -storm's handshakes in flight: far more than a
// server accepts at once, so connects queue in its listen backlog as they
// do after a deploy.
const stormConcurrency = 1024

// parseDurations reads "0.5s,10s", in increasing order.
func parseDurations(v string) ([]time.Duration, error) {
	var out []time.Duration
	for _, f := range fields(v) {
		d, err := time.ParseDuration(f)
		if err != nil || d < 0 || (len(out) > 0 && d <= out[len(out)-1]) {
			return nil, fmt.Errorf("want increasing durations, got %q", f)
		}
		out = append(out, d)
	}
	return out, nil
}

// parseSubs reads "sse=5000,websocket=5000".
func parseSubs(v string) ([]loadgen.SubGroup, error) {
	var out []loadgen.SubGroup
	for _, part := range fields(v) {
		name, count, ok := strings.Cut(part, "=")
		n, err := strconv.Atoi(count)
		if !ok || err != nil || n < 0 {
			return nil, fmt.Errorf("-subs: want transport=count, got %q", part)
		}
		out = append(out, loadgen.SubGroup{Transport: name, Count: n})
	}
	if len(out) == 0 {
		return nil, errors.New("-subs: no subscribers")
	}
	return out, nil
}

func appendJSON(path string, v any) error {
	if path == "" {
		return nil
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("json: %w", err)
	}
	defer f.Close()
	return loadgen.WriteJSONLine(f, v)
}

func runFanout(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("fanout", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg loadgen.FanoutConfig
	var pids, front pidList
	subs := fs.String("subs", "sse=100", "subscribers per transport: websocket|sse|longpoll|stream=N, comma-separated")
	fs.StringVar(&cfg.Label, "label", "fanout", "scenario name for reports")
	fs.StringVar(&cfg.Server, "server", "", "name of the server under test, for reports")
	fs.StringVar(&cfg.Dialect, "dialect", loadgen.DialectBridgeway, "wire dialect: bridgeway, nchan or plain (URL as given, {transport} = sse|websocket)")
	fs.StringVar(&cfg.URL, "url", "", "subscriber base URL (bridgeway route, or nchan sub location); {run} becomes the run id")
	fs.StringVar(&cfg.WSHello, "ws-hello", "", "text message each WebSocket subscriber sends after the handshake; {run} becomes the run id")
	fs.StringVar(&cfg.PublishURL, "publish", "", "publish by HTTP POST to this URL (nchan pub location); {run} becomes the run id")
	fs.StringVar(&cfg.PublishFormat, "publish-format", loadgen.PublishBody, "POST body: body (the payload), centrifugo (API publish to channel RUN) or pushpin (GRIP item for channel RUN)")
	fs.StringVar(&cfg.UpstreamListen, "upstream-listen", "", "publish through a built-in upstream listening here (the gateway route points at it)")
	fs.StringVar(&cfg.UpstreamKind, "upstream-kind", loadgen.UpstreamWebSocket, "built-in upstream kind: websocket or sse")
	fs.Float64Var(&cfg.Rate, "rate", 200, "messages per second (0: measure idle memory, then send one probe message)")
	fs.IntVar(&cfg.Count, "count", 0, "publish exactly this many messages at -rate instead of for -duration")
	fs.IntVar(&cfg.Publishers, "publishers", 1, "concurrent publishers sharing -rate (order is checked per publisher)")
	fs.DurationVar(&cfg.Duration, "duration", 10*time.Second, "publishing time")
	fs.IntVar(&cfg.Size, "size", 128, "payload bytes")
	fs.DurationVar(&cfg.Settle, "settle", 2*time.Second, "pause after connecting before memory is read")
	fs.DurationVar(&cfg.Drain, "drain", 5*time.Second, "longest wait for the last deliveries")
	fs.DurationVar(&cfg.ConnectTimeout, "connect-timeout", 60*time.Second, "longest wait for all subscribers to connect")
	fs.IntVar(&cfg.DialConcurrency, "dial-concurrency", 64, "handshakes in flight at once")
	storm := fs.Bool("storm", false, "connect as fast as possible (a reconnect storm): -dial-concurrency "+strconv.Itoa(stormConcurrency))
	fs.DurationVar(&cfg.ConnectOver, "connect-over", 0, "spread the connects evenly over this time (0: as fast as -dial-concurrency allows)")
	rssAt := fs.String("rss-at", "", "read memory at these times after the last connect, comma-separated (e.g. 0.5s,10s) instead of after -settle")
	fs.Var(&pids, "pid", "server pid(s) to measure, comma-separated or @pidfile; descendants included (repeatable)")
	fs.Var(&front, "front-pid", "pid(s) in front of the server (a load balancer): CPU reported apart; repeatable")
	jsonPath := fs.String("json", "", "also append the JSON result line to this file")
	shards := fs.Int("shards", 0, "run the subscribers in this many child processes (each under the open-files limit), results merged; 0: in this process")
	sources := fs.String("sources", "", "local addresses the subscribers connect from, comma-separated, one per shard in turn (e.g. 127.0.0.2,127.0.0.3: loopback has ~28,000 ports per source/destination pair)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	groups, err := parseSubs(*subs)
	if err != nil {
		return err
	}
	srcs, err := parseSources(*sources)
	if err != nil {
		return err
	}
	switch {
	case *shards < 0:
		return errors.New("-shards: want 0 or more")
	case *shards == 0 && len(srcs) > 1:
		return errors.New("-sources: several addresses need -shards")
	case *shards == 0 && len(srcs) == 1:
		cfg.Source = srcs[0]
	}
	var children *shardProcs
	if *shards > 0 {
		stderr = shareable(stderr)
		children = &shardProcs{n: *shards, sources: srcs, subs: loadgen.SplitSubs(groups, *shards), cfg: &cfg, stderr: stderr}
		cfg.Shards = children.start
		defer children.wait()
	}
	if *storm {
		cfg.DialConcurrency = stormConcurrency
	}
	if cfg.RSSAt, err = parseDurations(*rssAt); err != nil {
		return fmt.Errorf("-rss-at: %w", err)
	}
	cfg.Subs, cfg.ServerPIDs, cfg.FrontPIDs, cfg.Progress = groups, pids, front, stderr
	res, err := loadgen.RunFanout(ctx, cfg)
	if err != nil {
		return err
	}
	res.WriteHuman(stdout)
	if err := loadgen.WriteJSONLine(stdout, res); err != nil {
		return err
	}
	return appendJSON(*jsonPath, res)
}

func runEcho(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("echo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg loadgen.EchoConfig
	var pids pidList
	fs.StringVar(&cfg.Label, "label", "echo", "scenario name for reports")
	fs.StringVar(&cfg.Server, "server", "", "name of the server under test, for reports")
	fs.StringVar(&cfg.URL, "url", "", "ws:// URL that echoes (session route, pass-through route, proxy)")
	fs.IntVar(&cfg.Conns, "conns", 100, "WebSocket connections, each with one message in flight")
	fs.DurationVar(&cfg.Duration, "duration", 10*time.Second, "echo time")
	fs.IntVar(&cfg.Size, "size", 128, "payload bytes")
	fs.DurationVar(&cfg.Settle, "settle", time.Second, "pause after connecting before memory is read")
	fs.IntVar(&cfg.DialConcurrency, "dial-concurrency", 64, "handshakes in flight at once")
	fs.Var(&pids, "pid", "server pid(s) to measure, comma-separated or @pidfile; descendants included (repeatable)")
	jsonPath := fs.String("json", "", "also append the JSON result line to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg.ServerPIDs, cfg.Progress = pids, stderr
	res, err := loadgen.RunEcho(ctx, cfg)
	if err != nil {
		return err
	}
	res.WriteHuman(stdout)
	if err := loadgen.WriteJSONLine(stdout, res); err != nil {
		return err
	}
	return appendJSON(*jsonPath, res)
}

func runEchoServer(ctx context.Context, args []string, stderr io.Writer) error {
	return serveUntilDone(ctx, args, stderr, "echo-server", "127.0.0.1:18092", "address of the WebSocket echo upstream",
		func(addr string) (service, error) { return loadgen.StartEchoServer(addr) })
}

func runGripBackend(ctx context.Context, args []string, stderr io.Writer) error {
	return serveUntilDone(ctx, args, stderr, "grip-backend", "127.0.0.1:18093", "address Pushpin's route points at",
		func(addr string) (service, error) { return loadgen.StartGripBackend(addr) })
}

// service is one of the bench's own servers.
type service interface {
	Addr() string
	Close()
}

// serveUntilDone starts a service on -listen and runs it until a signal.
func serveUntilDone(ctx context.Context, args []string, stderr io.Writer, name, addr, usage string, start func(string) (service, error)) error {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", addr, usage)
	if err := fs.Parse(args); err != nil {
		return err
	}
	srv, err := start(*listen)
	if err != nil {
		return err
	}
	fmt.Fprintln(stderr, name, "on", srv.Addr())
	<-ctx.Done()
	srv.Close()
	return nil
}

func runTable(args []string, stdout io.Writer) error {
	all := &loadgen.Results{}
	if len(args) == 0 {
		args = []string{"-"}
	}
	for _, name := range args {
		var r io.Reader = os.Stdin
		if name != "-" {
			f, err := os.Open(name)
			if err != nil {
				return fmt.Errorf("table: %w", err)
			}
			defer f.Close()
			r = f
		}
		res, err := loadgen.ReadResults(r)
		if err != nil {
			return err
		}
		all.Fanout = append(all.Fanout, res.Fanout...)
		all.Echo = append(all.Echo, res.Echo...)
	}
	all.WriteMarkdown(stdout)
	return nil
}
