package main

import (
	"fmt"
	"io"

	"github.com/bridgeway/bridgeway/config"
)

func init() { extraCommands["schema"] = schemaCommand }

// schemaCommand prints the config file's JSON Schema (the committed
// config/bridgeway.schema.json), for editors: bridgeway schema > bridgeway.schema.json.
func schemaCommand(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		fmt.Fprintf(stderr, "bridgeway schema: unexpected argument %q\n", args[0])
		return 2
	}
	if _, err := stdout.Write(config.Schema()); err != nil {
		return 1
	}
	return 0
}
