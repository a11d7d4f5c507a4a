package loadgen

import (
	"testing"
	"time"
)

func TestPayloadRoundTrip(t *testing.T) {
	p := appendPayload(nil, "ab12cd34", 42, 1700000000123456789, 128)
	if len(p) != 128 {
		t.Fatalf("payload is %d bytes, want 128", len(p))
	}
	run, seq, ts, err := parsePayload(p)
	if err != nil || string(run) != "ab12cd34" || seq != 42 || ts != 1700000000123456789 {
		t.Fatalf("parse: %q %d %d %v", run, seq, ts, err)
	}
	for _, bad := range []string{"", "bw1 ", "bw1 r x 1 ", "bw1 r 1 y ", "hello", "bw1 r 1 2"} {
		if _, _, _, err := parsePayload([]byte(bad)); err == nil {
			t.Errorf("parsePayload(%q) accepted", bad)
		}
	}
	if short := appendPayload(nil, "r", 1, 1, 4); len(short) < 8 {
		t.Errorf("short payload %q lost its fields", short)
	}
}

func TestHistogramQuantiles(t *testing.T) {
	var h histogram
	for i := 1; i <= 1000; i++ {
		h.add(time.Duration(i) * time.Millisecond)
	}
	check := func(name string, got, want time.Duration) {
		if got < want*93/100 || got > want*107/100 {
			t.Errorf("%s = %v, want ~%v", name, got, want)
		}
	}
	check("p50", h.quantile(0.5), 500*time.Millisecond)
	check("p99", h.quantile(0.99), 990*time.Millisecond)
	if s := h.summary(); s.Count != 1000 || s.MaxUs != 1e6 {
		t.Errorf("summary %+v", s)
	}
	for b := 0; b < 59*histSub; b++ { // higher buckets overflow uint64 microseconds
		if got := bucketOf(bucketLow(b)); got != b {
			t.Fatalf("bucketOf(bucketLow(%d)) = %d", b, got)
		}
	}
}

func TestParseStat(t *testing.T) {
	line := "1234 (nginx: worker (x)) S 1200 1234 1234 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 1 0 100 0 0"
	st, err := parseStat([]byte(line))
	if err != nil || st.utime != 250 || st.stime != 75 {
		t.Fatalf("parseStat: %+v %v", st, err)
	}
	if _, err := parseStat([]byte("garbage")); err == nil {
		t.Error("garbage accepted")
	}
}

func TestMedian(t *testing.T) {
	if m := median([]float64{3, 1, 2}); m != 2 {
		t.Errorf("median odd = %v", m)
	}
	if m := median([]float64{4, 1, 2, 3}); m != 2.5 {
		t.Errorf("median even = %v", m)
	}
}

func TestParseSyscw(t *testing.T) {
	io := "rchar: 10\nwchar: 20\nsyscr: 3\nsyscw: 41\nread_bytes: 0\n"
	if got := parseSyscw([]byte(io)); got != 41 {
		t.Fatalf("parseSyscw = %d, want 41", got)
	}
	if got := parseSyscw([]byte("rchar: 1\n")); got != 0 {
		t.Fatalf("parseSyscw without syscw = %d, want 0", got)
	}
}
