package config

import (
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml/ast"
)

// ParseDuration reads a Go duration ("250ms", "15s", "1h30m") or a plain 0.
// Negative durations are refused.
func ParseDuration(s string) (Duration, error) {
	s = strings.TrimSpace(s)
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("bad duration %q (want a Go duration such as \"250ms\", \"15s\" or \"2m\")", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("duration %q must not be negative", s)
	}
	return Duration(d), nil
}

// String formats the duration the way it is written in a config file.
func (d Duration) String() string { return time.Duration(d).String() }

// sizeUnits: decimal units are powers of 1000, binary (…iB) of 1024, as in
// the IEC standard. Matching ignores case.
var sizeUnits = map[string]int64{
	"":    1,
	"b":   1,
	"kb":  1000,
	"kib": 1 << 10,
	"mb":  1000 * 1000,
	"mib": 1 << 20,
	"gb":  1000 * 1000 * 1000,
	"gib": 1 << 30,
}

// ParseSize reads a byte count: a whole number with an optional unit
// B, KB, KiB, MB, MiB, GB or GiB ("64KiB" = 65536, "64KB" = 64000).
func ParseSize(s string) (Size, error) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && (t[i] >= '0' && t[i] <= '9' || t[i] == '_' || (i == 0 && t[i] == '-')) {
		i++
	}
	num, unit := strings.ReplaceAll(t[:i], "_", ""), strings.ToLower(strings.TrimSpace(t[i:]))
	mult, ok := sizeUnits[unit]
	n, err := strconv.ParseInt(num, 10, 64)
	if !ok || err != nil {
		return 0, fmt.Errorf("bad size %q (want a whole number of bytes, optionally with a unit B, KB, KiB, MB, MiB, GB or GiB)", s)
	}
	if n < 0 {
		return 0, fmt.Errorf("size %q must not be negative", s)
	}
	if n > math.MaxInt64/mult {
		return 0, fmt.Errorf("size %q is too large", s)
	}
	return Size(n * mult), nil
}

// String formats the size with the largest binary unit that divides it.
func (s Size) String() string {
	n := int64(s)
	for _, u := range []struct {
		name string
		mult int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n != 0 && n%u.mult == 0 {
			return strconv.FormatInt(n/u.mult, 10) + u.name
		}
	}
	return strconv.FormatInt(n, 10)
}

func (d *decoder) decodeDuration(path string, n ast.Node, p pos, v reflect.Value) {
	s, ok := d.durationOrSizeText(path, n, p, "a duration such as \"15s\"")
	if !ok {
		return
	}
	dur, err := ParseDuration(s)
	if err != nil {
		d.errorAt(p, path, "%v", err)
		return
	}
	v.SetInt(int64(dur))
}

func (d *decoder) decodeSize(path string, n ast.Node, p pos, v reflect.Value) {
	s, ok := d.durationOrSizeText(path, n, p, "a size such as \"64KiB\"")
	if !ok {
		return
	}
	size, err := ParseSize(s)
	if err != nil {
		d.errorAt(p, path, "%v", err)
		return
	}
	v.SetInt(int64(size))
}

// durationOrSizeText accepts strings and numbers ("15s", 0, 65536).
func (d *decoder) durationOrSizeText(path string, n ast.Node, p pos, want string) (string, bool) {
	switch n.(type) {
	case *ast.StringNode, *ast.IntegerNode, *ast.FloatNode:
		return d.scalarString(path, n, p, want)
	}
	d.errorAt(p, path, "want %s, got %s", want, describe(n))
	return "", false
}
