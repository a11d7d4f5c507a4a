package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bridgeway/bridgeway/bench/loadgen"
)

// shardProcs starts a sharded fan-out's child processes (this binary's
// fanout-shard command) and waits for them when the run is over.
type shardProcs struct {
	n       int
	sources []net.IP
	subs    [][]loadgen.SubGroup
	cfg     *loadgen.FanoutConfig
	stderr  io.Writer
	cmds    []*exec.Cmd
}

// start is FanoutConfig.Shards: n children, shard i with subs[i] from
// sources[i mod len(sources)].
func (p *shardProcs) start(ctx context.Context, run string) ([]loadgen.ShardLink, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("shards: %w", err)
	}
	var links []loadgen.ShardLink
	for i := 0; i < p.n; i++ {
		args := []string{"fanout-shard", "-run", run, "-dialect", p.cfg.Dialect, "-url", p.cfg.URL,
			"-ws-hello", p.cfg.WSHello, "-subs", formatSubs(p.subs[i]),
			"-publishers", strconv.Itoa(p.cfg.Publishers), "-dial-concurrency", strconv.Itoa(p.cfg.DialConcurrency),
			"-connect-timeout", p.cfg.ConnectTimeout.String()}
		if len(p.sources) > 0 {
			args = append(args, "-source", p.sources[i%len(p.sources)].String())
		}
		cmd := exec.CommandContext(ctx, exe, args...)
		cmd.Stderr = p.stderr
		in, err := cmd.StdinPipe()
		if err != nil {
			return nil, fmt.Errorf("shards: %w", err)
		}
		out, err := cmd.StdoutPipe()
		if err != nil {
			return nil, fmt.Errorf("shards: %w", err)
		}
		if err := cmd.Start(); err != nil {
			return nil, fmt.Errorf("shards: start: %w", err)
		}
		p.cmds = append(p.cmds, cmd)
		links = append(links, loadgen.ShardLink{Control: in, Reports: out})
	}
	return links, nil
}

// shareable returns w ready for the children's progress and this
// process's together: a file is handed to the children as it is; any other
// writer gets a lock, since exec copies each child's output from its own
// goroutine.
func shareable(w io.Writer) io.Writer {
	if _, ok := w.(*os.File); ok {
		return w
	}
	return &lockedWriter{w: w}
}

// lockedWriter serialises writes from several goroutines.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// wait reaps every started child (they end when their control pipe closes).
func (p *shardProcs) wait() {
	for i, c := range p.cmds {
		if err := c.Wait(); err != nil {
			fmt.Fprintf(p.stderr, "shard %d: %v\n", i, err)
		}
	}
}

func formatSubs(groups []loadgen.SubGroup) string {
	var parts []string
	for _, g := range groups {
		parts = append(parts, g.Transport+"="+strconv.Itoa(g.Count))
	}
	return strings.Join(parts, ",")
}

// parseSources reads "127.0.0.2,127.0.0.3".
func parseSources(v string) ([]net.IP, error) {
	var out []net.IP
	for _, f := range fields(v) {
		ip, err := loadgen.ParseSource(f)
		if err != nil {
			return nil, fmt.Errorf("-sources: %w", err)
		}
		out = append(out, ip)
	}
	return out, nil
}

// runFanoutShard is one child of a sharded fan-out: commands on stdin,
// reports on stdout, progress on stderr.
func runFanoutShard(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("fanout-shard", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg loadgen.ShardConfig
	subs := fs.String("subs", "", "this shard's subscribers per transport")
	source := fs.String("source", "", "local address to connect from")
	fs.StringVar(&cfg.Run, "run", "", "the parent run's id")
	fs.StringVar(&cfg.Dialect, "dialect", loadgen.DialectBridgeway, "wire dialect")
	fs.StringVar(&cfg.URL, "url", "", "subscriber base URL")
	fs.StringVar(&cfg.WSHello, "ws-hello", "", "text message each WebSocket subscriber sends after the handshake")
	fs.IntVar(&cfg.Publishers, "publishers", 1, "the parent's concurrent publishers")
	fs.IntVar(&cfg.DialConcurrency, "dial-concurrency", 64, "handshakes in flight at once")
	fs.DurationVar(&cfg.ConnectTimeout, "connect-timeout", time.Minute, "longest wait for all subscribers to connect")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return errors.New("fanout-shard: unexpected arguments")
	}
	groups, err := parseSubs(*subs)
	if err != nil {
		return err
	}
	if cfg.Source, err = loadgen.ParseSource(*source); err != nil {
		return err
	}
	cfg.Subs, cfg.Progress = groups, stderr
	return loadgen.RunShard(ctx, cfg, stdin, stdout)
}
