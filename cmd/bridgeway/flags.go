package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
)

// configFlag parses the -c/--config flag shared by run and validate; extra
// adds a subcommand's own flags.
func configFlag(name string, args []string, stderr io.Writer, extra ...func(*flag.FlagSet)) (string, bool) {
	fs := flag.NewFlagSet("bridgeway "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // one line of our own per mistake, not flag's and ours
	var path string
	fs.StringVar(&path, "c", "", "config file")
	fs.StringVar(&path, "config", "", "config file (same as -c)")
	for _, add := range extra {
		add(fs)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stderr)
			fs.Usage()
		} else {
			fmt.Fprintf(stderr, "bridgeway %s: %v (usage: bridgeway %s -c FILE)\n", name, err, name)
		}
		return "", false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "bridgeway %s: unexpected argument %q\n", name, fs.Arg(0))
		return "", false
	}
	if path == "" {
		fmt.Fprintf(stderr, "bridgeway %s: -c FILE is required\n", name)
		return "", false
	}
	return path, true
}
