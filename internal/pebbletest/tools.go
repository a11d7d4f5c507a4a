//go:build tools

// This file is never compiled: it keeps github.com/letsencrypt/pebble/v2 and
// the dependencies of its cmd/pebble in go.mod and go.sum, so that Start can
// `go build` the exact pinned Pebble on a fresh machine through the module
// proxy alone.
package pebbletest

import _ "github.com/letsencrypt/pebble/v2/cmd/pebble"
