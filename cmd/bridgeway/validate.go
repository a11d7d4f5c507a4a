package main

import (
	"fmt"
	"io"

	"github.com/bridgeway/bridgeway/config"
)

// validateCommand prints ok (exit 0) or every problem as FILE:LINE:COL:
// message lines on stderr (exit 1). Warnings (FILE:LINE:COL: warning: ...)
// go to stderr with an ok.
func validateCommand(args []string, stdout, stderr io.Writer) int {
	path, ok := configFlag("validate", args, stderr)
	if !ok {
		return 2
	}
	cfg, err := config.Load(path)
	if err != nil {
		printConfigError(stderr, err)
		return 1
	}
	if len(cfg.Warnings) > 0 {
		printConfigError(stderr, cfg.Warnings) // valid, but worth a second look
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
