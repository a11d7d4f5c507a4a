package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/bridgeway/bridgeway/config"
)

// keyFlags names the command-line flag behind a config key, for a config
// the command wrote itself from its flags (demo -listen): problems then
// name the flag the user typed, not a temporary file.
type keyFlags map[string]string

// printLocated writes err as one line per problem when it is a config
// ErrorList, or a start-up error caused by one config value (a
// config.KeyError: certificate file, listen address): FILE:LINE:COL: key:
// problem. It reports false for any other error, which it leaves alone.
func (f keyFlags) printLocated(w io.Writer, path string, err error) bool {
	var list config.ErrorList
	if !errors.As(err, &list) {
		e, ok := config.Locate(path, err)
		if !ok {
			return false
		}
		list = config.ErrorList{e}
	}
	for _, e := range list {
		fmt.Fprintln(w, f.line(e))
	}
	return true
}

func (f keyFlags) line(e *config.Error) string {
	for key, flag := range f {
		if rest, ok := strings.CutPrefix(e.Msg, key+": "); ok {
			return "bridgeway: " + flag + ": " + rest
		}
	}
	return e.Error()
}
