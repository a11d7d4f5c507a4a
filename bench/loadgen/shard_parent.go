package loadgen

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// ShardLink is the parent's end of one shard (RunShard): Control carries
// its commands, Reports its report lines. Closing Control ends the shard.
type ShardLink struct {
	Control io.WriteCloser
	Reports io.Reader
}

// shardSide runs a fan-out's subscribers in shard processes.
type shardSide struct {
	links   []ShardLink
	readers []*bufio.Reader
	// cpu is the shards' CPU until they drained (their final reports count
	// the time to the stop too, which includes tearing down).
	cpu float64
}

func newShardSide(links []ShardLink) *shardSide {
	s := &shardSide{links: links}
	for _, l := range links {
		s.readers = append(s.readers, bufio.NewReaderSize(l.Reports, 64<<10))
	}
	return s
}

// read reads shard i's next report and checks its phase.
func (s *shardSide) read(i int, phase string) (shardReport, error) {
	var rep shardReport
	line, err := s.readers[i].ReadBytes('\n')
	if err != nil {
		return rep, fmt.Errorf("shard %d: waiting for %q: %w", i, phase, err)
	}
	if err := json.Unmarshal(line, &rep); err != nil {
		return rep, fmt.Errorf("shard %d: %w", i, err)
	}
	if rep.Phase != phase {
		return rep, fmt.Errorf("shard %d: got %q, want %q", i, rep.Phase, phase)
	}
	return rep, nil
}

func (s *shardSide) send(cmd shardCommand) error {
	b, _ := json.Marshal(cmd)
	b = append(b, '\n')
	for i, l := range s.links {
		if _, err := l.Control.Write(b); err != nil {
			return fmt.Errorf("shard %d: %w", i, err)
		}
	}
	return nil
}

func (s *shardSide) connect(context.Context) (int64, error) {
	var n int64
	for i := range s.links {
		rep, err := s.read(i, "connected")
		if err != nil {
			return n, err
		}
		n += rep.Connected
	}
	return n, nil
}

func (s *shardSide) waitDelivered(_ context.Context, published, last uint64, drain time.Duration) (int64, error) {
	if err := s.send(shardCommand{Op: "drain", Published: published, Last: last, Drain: drain}); err != nil {
		return 0, err
	}
	var latest int64
	for i := range s.links {
		rep, err := s.read(i, "drained")
		if err != nil {
			return latest, err
		}
		latest = max(latest, rep.LastNanos)
		s.cpu += rep.CPUSec
	}
	return latest, nil
}

func (s *shardSide) finish(context.Context, uint64) ([]shardReport, error) {
	defer func() {
		for _, l := range s.links {
			l.Control.Close()
		}
	}()
	if err := s.send(shardCommand{Op: "stop"}); err != nil {
		return nil, err
	}
	var reps []shardReport
	for i := range s.links {
		rep, err := s.read(i, "final")
		if err != nil {
			return reps, err
		}
		reps = append(reps, rep)
	}
	return reps, nil
}
