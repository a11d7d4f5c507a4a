package loadgen

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/bridgeway/bridgeway/internal/proctree"
)

// clockTicks is USER_HZ, the unit of utime/stime in /proc/PID/stat. It is
// 100 on every Linux architecture Go supports.
const clockTicks = 100

// procSample is the server's CPU time and resident memory at one moment,
// summed over the given processes and all their descendants (nginx's
// workers are children of its master).
type procSample struct {
	CPU    time.Duration
	RSSKiB uint64
	Procs  int
	// Writes counts write(2)-family calls (syscw in /proc/PID/io; 0 where
	// unreadable): per delivery it shows how many deliveries one socket
	// write carried (a fan-out behind its messages writes several at once).
	Writes uint64
}

// rssPerConnKiB is the memory s holds above idle, per connection (conns > 0).
func (s procSample) rssPerConnKiB(idle procSample, conns int64) float64 {
	return float64(int64(s.RSSKiB)-int64(idle.RSSKiB)) / float64(conns)
}

// sampleProcs reads /proc for roots and their descendants.
func sampleProcs(roots []int) (procSample, error) {
	var s procSample
	if len(roots) == 0 {
		return s, nil
	}
	pids, err := proctree.WithDescendants(roots...)
	if err != nil {
		return s, err
	}
	for _, pid := range pids {
		st, err := readStat(pid)
		if err != nil {
			continue // exited between listing and reading
		}
		rss, err := readRSS(pid)
		if err != nil {
			continue
		}
		s.CPU += time.Duration(st.utime+st.stime) * time.Second / clockTicks
		s.RSSKiB += rss
		s.Writes += readWrites(pid)
		s.Procs++
	}
	if s.Procs == 0 {
		return s, fmt.Errorf("procstat: none of the pids %v is running", roots)
	}
	return s, nil
}

type statFields struct {
	utime, stime uint64
}

func readStat(pid int) (statFields, error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return statFields{}, err
	}
	return parseStat(b)
}

// parseStat reads /proc/PID/stat; the command name may hold spaces and
// parentheses, so fields are counted after the last ')'.
func parseStat(b []byte) (statFields, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return statFields{}, fmt.Errorf("procstat: malformed stat")
	}
	f := bytes.Fields(b[i+1:])
	// f[0]=state f[1]=ppid ... f[11]=utime f[12]=stime
	if len(f) < 13 {
		return statFields{}, fmt.Errorf("procstat: short stat")
	}
	ut, err1 := strconv.ParseUint(string(f[11]), 10, 64)
	stt, err2 := strconv.ParseUint(string(f[12]), 10, 64)
	if err1 != nil || err2 != nil {
		return statFields{}, fmt.Errorf("procstat: bad stat fields")
	}
	return statFields{utime: ut, stime: stt}, nil
}

// readWrites returns syscw from /proc/PID/io, 0 when it cannot be read
// (another user's process).
func readWrites(pid int) uint64 {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "io"))
	if err != nil {
		return 0
	}
	return parseSyscw(b)
}

// parseSyscw finds the "syscw: N" line of /proc/PID/io (0 if none).
func parseSyscw(b []byte) uint64 {
	for _, line := range bytes.Split(b, []byte("\n")) {
		if v, ok := bytes.CutPrefix(line, []byte("syscw:")); ok {
			n, _ := strconv.ParseUint(string(bytes.TrimSpace(v)), 10, 64)
			return n
		}
	}
	return 0
}

// readRSS returns VmRSS in KiB from /proc/PID/status.
func readRSS(pid int) (uint64, error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return 0, err
	}
	for _, line := range bytes.Split(b, []byte("\n")) {
		if v, ok := bytes.CutPrefix(line, []byte("VmRSS:")); ok {
			f := bytes.Fields(v)
			if len(f) == 0 {
				break
			}
			return strconv.ParseUint(string(f[0]), 10, 64)
		}
	}
	return 0, fmt.Errorf("procstat: no VmRSS for pid %d", pid)
}
