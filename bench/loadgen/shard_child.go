package loadgen

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"time"
)

// ShardConfig is one shard process of a sharded fan-out run: some of the
// run's subscribers, in their own process (one process may hold only so
// many descriptors), from their own source address (a loopback
// source/destination pair has only so many ephemeral ports).
type ShardConfig struct {
	Run             string // the parent's run id: payloads of other runs are foreign
	Dialect         string
	URL             string // as FanoutConfig.URL; "{run}" is replaced by Run
	WSHello         string
	Subs            []SubGroup
	Publishers      int
	DialConcurrency int
	ConnectTimeout  time.Duration
	Source          net.IP
	Progress        io.Writer
}

// shardCommand is what the parent tells a shard: "drain" (messages
// 1..Last were published: report when they arrived) or "stop".
type shardCommand struct {
	Op        string        `json:"op"`
	Published uint64        `json:"published"`
	Last      uint64        `json:"last"`
	Drain     time.Duration `json:"drain"`
}

// RunShard runs one shard: it connects its subscribers and reports
// {"phase":"connected"} on reports, then follows the parent's commands
// read from control (one JSON line each): after "drain" it reports
// "drained", after "stop" (or the end of control: the parent is gone) it
// stops its subscribers and writes its "final" report.
func RunShard(ctx context.Context, cfg ShardConfig, control io.Reader, reports io.Writer) error {
	fc := FanoutConfig{
		Dialect: cfg.Dialect, URL: cfg.URL, WSHello: cfg.WSHello, Subs: cfg.Subs,
		Publishers: cfg.Publishers, DialConcurrency: cfg.DialConcurrency,
		ConnectTimeout: cfg.ConnectTimeout, Source: cfg.Source, Progress: cfg.Progress,
	}
	fc.defaults()
	if err := fc.validate(); err != nil {
		return err
	}
	if cfg.Run == "" {
		return errors.New("shard: no run id")
	}
	total := 0
	for _, g := range fc.Subs {
		total += g.Count
	}
	if err := ensureFDs(total); err != nil {
		return err
	}
	side := newLocalSide(&fc, cfg.Run, total, progressTo(fc.Progress))
	defer side.stop()
	if _, err := side.connect(ctx); err != nil {
		return err
	}
	out := json.NewEncoder(reports)
	if err := out.Encode(shardReport{Phase: "connected", Connected: side.live.connected.Load(), Failed: side.live.failed.Load()}); err != nil {
		return fmt.Errorf("shard: report: %w", err)
	}
	cpuStart := selfCPU()
	var published uint64
	in := bufio.NewScanner(control)
	for in.Scan() {
		var cmd shardCommand
		if err := json.Unmarshal(in.Bytes(), &cmd); err != nil {
			return fmt.Errorf("shard: command %q: %w", in.Text(), err)
		}
		if cmd.Op == "stop" {
			break
		}
		if cmd.Op != "drain" {
			return fmt.Errorf("shard: unknown command %q", cmd.Op)
		}
		published = cmd.Published
		last, _ := side.waitDelivered(ctx, cmd.Published, cmd.Last, cmd.Drain)
		if err := out.Encode(shardReport{Phase: "drained", LastNanos: last, CPUSec: (selfCPU() - cpuStart).Seconds()}); err != nil {
			return fmt.Errorf("shard: report: %w", err)
		}
	}
	cpu := selfCPU() - cpuStart
	side.stop()
	rep := side.report(published)
	rep.Phase, rep.CPUSec = "final", cpu.Seconds()
	return out.Encode(rep)
}

// progressTo writes timestamped progress lines to w.
func progressTo(w io.Writer) func(format string, a ...any) {
	return func(format string, a ...any) {
		fmt.Fprintf(w, "%s  "+format+"\n", append([]any{time.Now().Format("15:04:05.000")}, a...)...)
	}
}

// SplitSubs divides subscriber groups over n shards: each transport's
// count evenly, the remainder to the first shards.
func SplitSubs(subs []SubGroup, n int) [][]SubGroup {
	out := make([][]SubGroup, n)
	for i := range out {
		for _, g := range subs {
			c := g.Count / n
			if i < g.Count%n {
				c++
			}
			out[i] = append(out[i], SubGroup{Transport: g.Transport, Count: c})
		}
	}
	return out
}
