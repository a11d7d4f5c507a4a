package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// Set with -ldflags "-X main.version=v1.2.3 -X main.commit=abc123
// -X main.date=2026-01-02T15:04:05Z" (scripts/release does; date is the
// commit's time, so rebuilds are byte-identical).
var (
	version = "dev"
	commit  = "dev"
	date    = ""
)

func versionCommand(stdout io.Writer) int {
	v, c := buildVersion()
	built := ""
	if date != "" {
		built = ", built " + date
	}
	fmt.Fprintf(stdout, "bridgeway %s (commit %s, %s %s/%s%s)\n", v, c, runtime.Version(), runtime.GOOS, runtime.GOARCH, built)
	return 0
}

// buildVersion prefers the -ldflags values and falls back to what the Go
// toolchain recorded (module version for go install, VCS revision).
func buildVersion() (v, c string) {
	v, c = version, commit
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return v, c
	}
	if v == "dev" && info.Main.Version != "" && info.Main.Version != "(devel)" {
		v = info.Main.Version
	}
	if c == "dev" {
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" && s.Value != "" {
				c = s.Value
				if len(c) > 12 {
					c = c[:12]
				}
			}
		}
	}
	return v, c
}
