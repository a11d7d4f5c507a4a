package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/bridgeway/bridgeway/bench/loadgen"
	"github.com/bridgeway/bridgeway/internal/freeport"
	"go.uber.org/goleak"
)

// TestMain: a sharded fanout starts this binary again as "fanout-shard";
// the test binary then runs that command instead of the tests.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "fanout-shard" {
		if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
			os.Stderr.WriteString("fanout-shard: " + err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}

// TestShardedFanoutAcrossProcesses runs `fanout -shards 3 -sources ...`
// against the floor server fed by the generator's own upstream: three
// child processes hold the subscribers, and the merged JSON result counts
// every subscriber and delivery once, nothing lost.
func TestShardedFanoutAcrossProcesses(t *testing.T) {
	var stdout, stderr bytes.Buffer
	// The run binds the upstream port itself: another process can take it
	// after the pick, and then the run starts again on a new port.
	err := freeport.Retry(freeport.Pick, 1, func(ports []int) error {
		upstream := "127.0.0.1:" + strconv.Itoa(ports[0])
		floor, err := loadgen.StartFloor("127.0.0.1:0", "ws://"+upstream+"/feed")
		if err != nil {
			t.Fatal(err)
		}
		defer floor.Close()
		stdout.Reset()
		stderr.Reset()
		err = run([]string{"fanout", "-dialect", "plain", "-url", "http://" + floor.Addr() + "/bcast/{transport}",
			"-upstream-listen", upstream, "-subs", "sse=5,websocket=4", "-rate", "40", "-count", "20",
			"-settle", "100ms", "-drain", "20s", "-shards", "3", "-sources", "127.0.0.2,127.0.0.3,127.0.0.4"}, &stdout, &stderr)
		if err != nil {
			err = fmt.Errorf("%w\n%s", err, stderr.String())
		}
		return freeport.Mark(err)
	})
	if err != nil {
		t.Fatal(err)
	}
	var res loadgen.FanoutResult
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &res); err != nil {
		t.Fatalf("result line: %v\n%s", err, stdout.String())
	}
	if res.Subscribers != 9 || res.Connected != 9 || res.Published != 20 || res.Delivered != 180 ||
		res.Lost != 0 || res.Duplicated != 0 || res.OutOfOrder != 0 || res.Foreign != 0 {
		t.Fatalf("sharded run: %+v\n%s", res, stderr.String())
	}
	if got := strings.Count(stderr.String(), "connecting "); got != 3 {
		t.Fatalf("%d shards reported connecting, want 3:\n%s", got, stderr.String())
	}
}
