package loadgen

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
)

// Results are the JSON lines of several runs, read back for a table.
type Results struct {
	Fanout []*FanoutResult
	Echo   []*EchoResult
}

// ReadResults reads JSON lines (other lines are skipped, so a whole log can
// be fed in).
func ReadResults(r io.Reader) (*Results, error) {
	out := &Results{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(line, "{") {
			continue
		}
		var head struct {
			Mode string `json:"mode"`
		}
		if err := json.Unmarshal([]byte(line), &head); err != nil {
			continue
		}
		switch head.Mode {
		case "fanout":
			var f FanoutResult
			if err := json.Unmarshal([]byte(line), &f); err != nil {
				return nil, fmt.Errorf("results: %w", err)
			}
			out.Fanout = append(out.Fanout, &f)
		case "echo":
			var e EchoResult
			if err := json.Unmarshal([]byte(line), &e); err != nil {
				return nil, fmt.Errorf("results: %w", err)
			}
			out.Echo = append(out.Echo, &e)
		}
	}
	return out, sc.Err()
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// key keeps first-seen order of scenarios and servers.
type orderedKeys struct {
	keys []string
	seen map[string]bool
}

func (o *orderedKeys) add(k string) {
	if o.seen == nil {
		o.seen = map[string]bool{}
	}
	if !o.seen[k] {
		o.seen[k] = true
		o.keys = append(o.keys, k)
	}
}

// fanoutRow is the median over the repetitions of one scenario on one server.
type fanoutRow struct {
	label, server                string
	reps                         int
	idle                         bool // rate 0: memory, then one probe message
	subs, connected              int
	lost, dups, ooo, gaps        uint64
	expected, delivered          uint64
	pubRate, delivSec, pollSec   float64
	cpuUs, p50, p90, p99, maxLat float64
	rssPerConn                   float64
	clientUs                     float64 // the generator's CPU per delivery
	connectSec                   float64
	rssAt                        []RSSSample // medians per reading time (runs with RSSAt)
}

func fanoutRows(rs []*FanoutResult) (rows map[string]*fanoutRow, labels, servers orderedKeys) {
	groups := map[string][]*FanoutResult{}
	for _, r := range rs {
		labels.add(r.Label)
		servers.add(r.Server)
		k := r.Label + "\x00" + r.Server
		groups[k] = append(groups[k], r)
	}
	rows = map[string]*fanoutRow{}
	for k, g := range groups {
		row := &fanoutRow{label: g[0].Label, server: g[0].Server, reps: len(g), idle: g[0].Rate == 0}
		var pub, deliv, poll, cpu, p50, p90, p99, mx, rss, conn, client, connSec []float64
		rssAt := map[float64][]float64{}
		for _, r := range g {
			connSec = append(connSec, r.ConnectSec)
			for _, a := range r.RSSAt {
				rssAt[a.AfterSec] = append(rssAt[a.AfterSec], a.RSSPerConnKiB)
			}
			row.subs = r.Subscribers
			row.lost += r.Lost
			row.dups += r.Duplicated
			row.ooo += r.OutOfOrder
			row.gaps += r.Gaps
			row.expected += r.Expected
			row.delivered += r.Delivered
			conn = append(conn, float64(r.Connected))
			pub = append(pub, r.PublishRate)
			deliv = append(deliv, r.DeliveriesSec)
			poll = append(poll, r.PollCyclesSec)
			cpu = append(cpu, r.CPUPerDeliveryUs)
			if r.Delivered > 0 {
				client = append(client, r.ClientCPUSec*1e6/float64(r.Delivered))
			}
			p50 = append(p50, r.Latency.P50us)
			p90 = append(p90, r.Latency.P90us)
			p99 = append(p99, r.Latency.P99us)
			mx = append(mx, r.Latency.MaxUs)
			rss = append(rss, r.RSSPerConnKiB)
		}
		row.connected = int(median(conn))
		row.pubRate, row.delivSec, row.pollSec = median(pub), median(deliv), median(poll)
		row.cpuUs, row.p50, row.p90, row.p99, row.maxLat = median(cpu), median(p50), median(p90), median(p99), median(mx)
		row.rssPerConn = median(rss)
		row.connectSec = median(connSec)
		for _, a := range g[0].RSSAt {
			row.rssAt = append(row.rssAt, RSSSample{AfterSec: a.AfterSec, RSSPerConnKiB: median(rssAt[a.AfterSec])})
		}
		if len(client) > 0 {
			row.clientUs = median(client)
		}
		rows[k] = row
	}
	return rows, labels, servers
}

// echoRow is the median over the repetitions of one echo scenario on one server.
type echoRow struct {
	label, server         string
	reps, conns           int
	tripsSec, cpuUs       float64
	p50, p99, maxLat, rss float64
	unexpected            uint64
}

func echoRows(rs []*EchoResult) (rows map[string]*echoRow, labels, servers orderedKeys) {
	groups := map[string][]*EchoResult{}
	for _, r := range rs {
		labels.add(r.Label)
		servers.add(r.Server)
		k := r.Label + "\x00" + r.Server
		groups[k] = append(groups[k], r)
	}
	rows = map[string]*echoRow{}
	for k, g := range groups {
		row := &echoRow{label: g[0].Label, server: g[0].Server, reps: len(g), conns: g[0].Conns}
		var trips, cpu, p50, p99, mx, rss []float64
		for _, r := range g {
			trips = append(trips, r.RoundTripsSec)
			cpu = append(cpu, r.CPUPerRoundTripUs)
			p50 = append(p50, r.Latency.P50us)
			p99 = append(p99, r.Latency.P99us)
			mx = append(mx, r.Latency.MaxUs)
			rss = append(rss, r.RSSPerConnKiB)
			row.unexpected += r.Unexpected
		}
		row.tripsSec, row.cpuUs = median(trips), median(cpu)
		row.p50, row.p99, row.maxLat, row.rss = median(p50), median(p99), median(mx), median(rss)
		rows[k] = row
	}
	return rows, labels, servers
}

// WriteMarkdown writes the side-by-side tables (medians of repetitions).
func (res *Results) WriteMarkdown(w io.Writer) {
	if len(res.Fanout) > 0 {
		rows, labels, servers := fanoutRows(res.Fanout)
		fmt.Fprintln(w, "### Fan-out and idle memory")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "Medians over the repetitions; delivered, lost, dup, ooo and gaps are summed over them. Lost = published − received by the end of the drain (a server that falls behind shows it here, with no gap marker). Idle rows publish one probe message after memory was read.")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "| scenario | server | reps | subs (connected) | msg/s sent | delivered / expected | lost | dup | ooo | gaps | deliveries/s | poll cycles/s | CPU µs/delivery | generator CPU µs/delivery | p50 | p99 | max | RSS KiB/conn |")
		fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
		for _, l := range labels.keys {
			for _, s := range servers.keys {
				r := rows[l+"\x00"+s]
				if r == nil {
					continue
				}
				sent, deliv, cpu, client := fmt.Sprintf("%.1f", r.pubRate), fmt.Sprintf("%.0f", r.delivSec), zeroDash(r.cpuUs, "%.2f"), zeroDash(r.clientUs, "%.2f")
				if r.idle { // one probe message: rates and CPU per delivery mean nothing
					sent, deliv, cpu, client = "probe", "–", "–", "–"
				}
				fmt.Fprintf(w, "| %s | %s | %d | %d (%d) | %s | %d / %d | %d | %d | %d | %d | %s | %s | %s | %s | %s | %s | %s | %.2f |\n",
					r.label, r.server, r.reps, r.subs, r.connected, sent, r.delivered, r.expected,
					r.lost, r.dups, r.ooo, r.gaps, deliv, zeroDash(r.pollSec, "%.0f"), cpu, client,
					latText(r.p50), latText(r.p99), latText(r.maxLat), r.rssPerConn)
			}
		}
		fmt.Fprintln(w)
		writeFanoutRatios(w, rows, labels, servers)
		writeRSSAt(w, rows, labels, servers)
	}
	if len(res.Echo) > 0 {
		rows, labels, servers := echoRows(res.Echo)
		fmt.Fprintln(w, "### WebSocket echo (medians)")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "| scenario | server | reps | conns | round trips/s | CPU µs/round trip | p50 | p99 | max | RSS KiB/conn | unexpected frames |")
		fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|---|")
		for _, l := range labels.keys {
			for _, s := range servers.keys {
				r := rows[l+"\x00"+s]
				if r == nil {
					continue
				}
				fmt.Fprintf(w, "| %s | %s | %d | %d | %.0f | %s | %s | %s | %s | %.2f | %d |\n",
					r.label, r.server, r.reps, r.conns, r.tripsSec, zeroDash(r.cpuUs, "%.2f"),
					latText(r.p50), latText(r.p99), latText(r.maxLat), r.rss, r.unexpected)
			}
		}
		fmt.Fprintln(w)
		writeEchoRatios(w, rows, labels, servers)
	}
}

// isSubject tells bridgeway's rows (every name starting with "bridgeway",
// e.g. two builds side by side) from the peers'.
func isSubject(server string) bool { return strings.HasPrefix(server, "bridgeway") }

// pairs lists (subject, peer) server pairs for one scenario: every bridgeway
// row against every peer row, nginx's first, then in the order runs came.
func pairs(servers orderedKeys, has func(string) bool) [][2]string {
	var subjects, nginx, peers []string
	for _, s := range servers.keys {
		switch {
		case !has(s):
		case isSubject(s):
			subjects = append(subjects, s)
		case strings.Contains(s, "nginx"):
			nginx = append(nginx, s)
		default:
			peers = append(peers, s)
		}
	}
	var out [][2]string
	peers = append(nginx, peers...)
	for _, sub := range subjects {
		for _, p := range peers {
			out = append(out, [2]string{sub, p})
		}
	}
	return out
}

// writeFanoutRatios compares bridgeway with every peer of each scenario.
func writeFanoutRatios(w io.Writer, rows map[string]*fanoutRow, labels, servers orderedKeys) {
	header := false
	for _, l := range labels.keys {
		for _, pr := range pairs(servers, func(s string) bool { return rows[l+"\x00"+s] != nil }) {
			r, base := rows[l+"\x00"+pr[0]], rows[l+"\x00"+pr[1]]
			if !header {
				fmt.Fprintln(w, "| scenario | ratio | CPU/delivery | p99 latency | deliveries/s | poll cycles/s | RSS/conn |")
				fmt.Fprintln(w, "|---|---|---|---|---|---|---|")
				header = true
			}
			if r.idle {
				fmt.Fprintf(w, "| %s | %s ÷ %s | – | – | – | – | %s |\n", l, r.server, base.server,
					ratio(r.rssPerConn, base.rssPerConn))
				continue
			}
			fmt.Fprintf(w, "| %s | %s ÷ %s | %s | %s | %s | %s | %s |\n", l, r.server, base.server,
				ratio(r.cpuUs, base.cpuUs), ratio(r.p99, base.p99), ratio(r.delivSec, base.delivSec),
				ratio(r.pollSec, base.pollSec), ratio(r.rssPerConn, base.rssPerConn))
		}
	}
	if header {
		fmt.Fprintln(w)
	}
}

func writeEchoRatios(w io.Writer, rows map[string]*echoRow, labels, servers orderedKeys) {
	header := false
	for _, l := range labels.keys {
		for _, pr := range pairs(servers, func(s string) bool { return rows[l+"\x00"+s] != nil }) {
			r, base := rows[l+"\x00"+pr[0]], rows[l+"\x00"+pr[1]]
			if !header {
				fmt.Fprintln(w, "| scenario | ratio | round trips/s | CPU/round trip | p99 latency |")
				fmt.Fprintln(w, "|---|---|---|---|---|")
				header = true
			}
			fmt.Fprintf(w, "| %s | %s ÷ %s | %s | %s | %s |\n", l, r.server, base.server,
				ratio(r.tripsSec, base.tripsSec), ratio(r.cpuUs, base.cpuUs), ratio(r.p99, base.p99))
		}
	}
	if header {
		fmt.Fprintln(w)
	}
}

func ratio(a, b float64) string {
	if a == 0 || b == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f×", a/b)
}

func latText(us float64) string {
	if us == 0 {
		return "–"
	}
	return usText(us)
}

func zeroDash(v float64, format string) string {
	if v == 0 {
		return "–"
	}
	return fmt.Sprintf(format, v)
}

// writeRSSAt lists the runs that read memory at fixed times after the last
// connect (storm and spread arrivals), with bridgeway's ratio to each peer.
func writeRSSAt(w io.Writer, rows map[string]*fanoutRow, labels, servers orderedKeys) {
	header := false
	for _, l := range labels.keys {
		has := func(s string) bool { r := rows[l+"\x00"+s]; return r != nil && len(r.rssAt) > 0 }
		for _, s := range servers.keys {
			if !has(s) {
				continue
			}
			r := rows[l+"\x00"+s]
			if !header {
				fmt.Fprintln(w, "#### Idle memory after connecting (KiB RSS per subscriber, read at fixed times after the last connect)")
				fmt.Fprintln(w)
				fmt.Fprintln(w, "| scenario | server | reps | connected | connect time | KiB per subscriber at +time (medians) |")
				fmt.Fprintln(w, "|---|---|---|---|---|---|")
				header = true
			}
			fmt.Fprintf(w, "| %s | %s | %d | %d | %.1f s | %s |\n", l, s, r.reps, r.connected, r.connectSec, rssAtText(r.rssAt, nil))
		}
		for _, pr := range pairs(servers, has) {
			r, base := rows[l+"\x00"+pr[0]], rows[l+"\x00"+pr[1]]
			fmt.Fprintf(w, "| %s | %s ÷ %s | | | | %s |\n", l, pr[0], pr[1], rssAtText(r.rssAt, base.rssAt))
		}
	}
	if header {
		fmt.Fprintln(w)
	}
}

// rssAtText shows "+0.5 s: 5.90, +10 s: 5.80", or ratios to base when given.
func rssAtText(at, base []RSSSample) string {
	var parts []string
	for i, a := range at {
		v := fmt.Sprintf("%.2f", a.RSSPerConnKiB)
		if base != nil {
			v = "–"
			if i < len(base) && base[i].AfterSec == a.AfterSec {
				v = ratio(a.RSSPerConnKiB, base[i].RSSPerConnKiB)
			}
		}
		parts = append(parts, fmt.Sprintf("+%g s: %s", a.AfterSec, v))
	}
	return strings.Join(parts, ", ")
}
