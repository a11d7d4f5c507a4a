package main

import (
	"fmt"
	"io"

	"github.com/bridgeway/bridgeway/config"
)

// validateCommand prints ok (exit 0) or every problem as FILE:LINE:COL:
// message lines on stderr (exit 1). Warnings go to stderr in the same form
// and do not change the exit status. With --print it prints the effective
// config instead of ok.
func validateCommand(args []string, stdout, stderr io.Writer) int {
	var print bool
	path, ok := configFlag("validate", args, stderr, printFlag(&print))
	if !ok {
		return 2
	}
	cfg, err := config.Load(path)
	if err != nil {
		printConfigError(stderr, err)
		return 1
	}
	if len(cfg.Warnings) > 0 {
		printConfigError(stderr, cfg.Warnings)
	}
	if print {
		return printEffective(cfg, stdout, stderr)
	}
	fmt.Fprintln(stdout, "ok")
	return 0
}

// printConfigError writes a config error as lines ending in a newline.
func printConfigError(w io.Writer, err error) {
	msg := err.Error()
	if len(msg) > 0 && msg[len(msg)-1] != '\n' {
		msg += "\n"
	}
	fmt.Fprint(w, msg)
}
