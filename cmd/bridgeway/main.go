// Command bridgeway runs the gateway. Subcommands: run, validate, demo, version,
// schema, health (see usage). Each subcommand lives in its own file.
package main

import (
	"fmt"
	"io"
	"os"
	"strings"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `usage:
  bridgeway run -c FILE        run the gateway (also: bridgeway -c FILE)
  bridgeway validate -c FILE   check a config file: prints ok, or FILE:LINE:COL: message lines
    --print                    print the effective config (every default filled in) as YAML instead
  bridgeway demo [-listen ADDR] run demo upstreams and the gateway in front of them (default 127.0.0.1:8080)
  bridgeway version            print version, commit and Go version
  bridgeway schema             print the config file's JSON Schema (for editors)
  bridgeway health [-url URL]  exit 0 if the admin /healthz answers 200 (default http://127.0.0.1:9090/healthz)
`

// command is a subcommand: it gets the arguments after its name and returns
// the exit code.
type command func(args []string, stdout, stderr io.Writer) int

// extraCommands lets a subcommand live in its own file without editing this
// one: the file registers itself from init (e.g. extraCommands["demo"]).
var extraCommands = map[string]command{}

// run dispatches to a subcommand and returns the process exit code.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	if cmd, ok := extraCommands[args[0]]; ok {
		return cmd(args[1:], stdout, stderr)
	}
	switch cmd := args[0]; {
	case cmd == "run":
		return runCommand(args[1:], stdout, stderr)
	case cmd == "validate":
		return validateCommand(args[1:], stdout, stderr)
	case cmd == "version" || cmd == "-version" || cmd == "--version":
		return versionCommand(stdout)
	case cmd == "help" || cmd == "-h" || cmd == "-help" || cmd == "--help":
		fmt.Fprint(stdout, usage)
		return 0
	case strings.HasPrefix(cmd, "-"):
		// bridgeway -c FILE is bridgeway run -c FILE.
		return runCommand(args, stdout, stderr)
	default:
		fmt.Fprintf(stderr, "bridgeway: unknown command %q\n%s", cmd, usage)
		return 2
	}
}
