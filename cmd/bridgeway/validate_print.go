package main

import (
	"flag"
	"fmt"
	"io"

	"github.com/bridgeway/bridgeway/config"
)

// printFlag adds validate's --print flag.
func printFlag(print *bool) func(*flag.FlagSet) {
	return func(fs *flag.FlagSet) {
		fs.BoolVar(print, "print", false, "print the effective config (every default filled in, ${VAR} expanded) as YAML instead of ok")
	}
}

// printEffective writes the loaded config as YAML, so an operator sees what
// will run. The header says where it came from; values are as expanded, so
// secrets from the environment appear in it.
func printEffective(cfg *config.Config, stdout, stderr io.Writer) int {
	out, err := config.Marshal(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "bridgeway validate: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "# effective config of %s: every default filled in, ${VAR} expanded\n", cfg.Path)
	_, _ = stdout.Write(out)
	return 0
}
