package loadgen

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
)

// WriteHuman prints a fan-out result as a small table.
func (r *FanoutResult) WriteHuman(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "fan-out %s  server=%s dialect=%s run=%s\n", r.Label, r.Server, r.Dialect, r.Run)
	fmt.Fprintf(tw, "subscribers\t%d (connected %d, failed %d, dropped %d)\n", r.Subscribers, r.Connected, r.Failed, r.Dropped)
	if r.Rate == 0 {
		fmt.Fprintf(tw, "published\t%d probe message after memory was read (%d errors), %d bytes\n", r.Published, r.PublishErrors, r.Size)
	} else {
		fmt.Fprintf(tw, "published\t%d at %.1f/s (asked %.1f/s, %d publishers, %d errors), %d bytes\n",
			r.Published, r.PublishRate, r.Rate, r.Publishers, r.PublishErrors, r.Size)
	}
	fmt.Fprintf(tw, "deliveries\t%d of %d expected, lost %d, duplicated %d, out of order %d, gaps %d, foreign %d\n",
		r.Delivered, r.Expected, r.Lost, r.Duplicated, r.OutOfOrder, r.Gaps, r.Foreign)
	fmt.Fprintf(tw, "rate\t%.0f deliveries/s", r.DeliveriesSec)
	if r.PollCycles > 0 {
		fmt.Fprintf(tw, ", %.0f poll cycles/s", r.PollCyclesSec)
	}
	fmt.Fprintln(tw)
	fmt.Fprintf(tw, "latency\t%s\n", latencyText(r.Latency))
	for _, t := range r.PerTransport {
		fmt.Fprintf(tw, "  %s\t%d subs, delivered %d, lost %d, dup %d, ooo %d, gaps %d; %s\n",
			t.Transport, t.Connected, t.Delivered, t.Lost, t.Duplicated, t.OutOfOrder, t.Gaps, latencyText(t.Latency))
	}
	if r.ServerProcs > 0 {
		fmt.Fprintf(tw, "server cpu\t%.2f s over %.1f s = %.2f µs per delivery (%d processes); generator %.2f s\n",
			r.ServerCPUSec, r.WindowSec, r.CPUPerDeliveryUs, r.ServerProcs, r.ClientCPUSec)
		fmt.Fprintf(tw, "server rss\tidle %d KiB, connected %d KiB, end %d KiB = %.2f KiB per connection\n",
			r.RSSIdleKiB, r.RSSConnectedKiB, r.RSSEndKiB, r.RSSPerConnKiB)
	}
	if r.ServerWrites > 0 {
		fmt.Fprintf(tw, "server writes\t%d write calls = %.2f deliveries per call\n", r.ServerWrites, r.DeliveriesPerWrite)
	}
	if r.FrontCPUSec > 0 {
		fmt.Fprintf(tw, "front cpu\t%.2f s = %.2f µs per delivery (not in the server's)\n", r.FrontCPUSec, r.FrontCPUPerDeliveryUs)
	}
	for _, e := range r.Errors {
		fmt.Fprintf(tw, "error\t%s\n", e)
	}
	tw.Flush()
}

// WriteHuman prints an echo result as a small table.
func (r *EchoResult) WriteHuman(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "echo %s  server=%s run=%s\n", r.Label, r.Server, r.Run)
	fmt.Fprintf(tw, "connections\t%d (connected %d, failed %d)\n", r.Conns, r.Connected, r.Failed)
	fmt.Fprintf(tw, "round trips\t%d in %.1f s = %.0f/s (%d unexpected frames), %d bytes\n",
		r.RoundTrips, r.WindowSec, r.RoundTripsSec, r.Unexpected, r.Size)
	fmt.Fprintf(tw, "latency\t%s\n", latencyText(r.Latency))
	if r.ServerProcs > 0 {
		fmt.Fprintf(tw, "server cpu\t%.2f s = %.2f µs per round trip (%d processes); generator %.2f s\n",
			r.ServerCPUSec, r.CPUPerRoundTripUs, r.ServerProcs, r.ClientCPUSec)
		fmt.Fprintf(tw, "server rss\tidle %d KiB, connected %d KiB = %.2f KiB per connection\n",
			r.RSSIdleKiB, r.RSSConnectedKiB, r.RSSPerConnKiB)
	}
	for _, e := range r.Errors {
		fmt.Fprintf(tw, "error\t%s\n", e)
	}
	tw.Flush()
}

func latencyText(l Latency) string {
	if l.Count == 0 {
		return "no samples"
	}
	return fmt.Sprintf("p50 %s  p90 %s  p99 %s  max %s  (%d samples)",
		usText(l.P50us), usText(l.P90us), usText(l.P99us), usText(l.MaxUs), l.Count)
}

func usText(us float64) string {
	switch {
	case us >= 1e6:
		return fmt.Sprintf("%.2fs", us/1e6)
	case us >= 1e3:
		return fmt.Sprintf("%.2fms", us/1e3)
	default:
		return fmt.Sprintf("%.0fµs", us)
	}
}

// WriteJSONLine writes v as one JSON line.
func WriteJSONLine(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}
