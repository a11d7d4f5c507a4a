package config

// What the schema says beyond the Go types: the validator's enums, ranges
// and required keys, and the text forms of durations and sizes.

// Log enums, shared by the validator and the schema.
var (
	logLevels  = []string{"debug", "info", "warn", "error"}
	logFormats = []string{"json", "console"}
)

// schemaEnums are the allowed values of enum keys, from the same lists the
// validator uses. Paths use [] for any list index.
var schemaEnums = map[string][]string{
	"log.level":               logLevels,
	"log.format":              logFormats,
	"routes[].mode":           {ModeSession, ModeBroadcast},
	"routes[].transports[]":   AllTransports,
	"routes[].slow_client":    {SlowDropOldest, SlowDisconnect},
	"routes[].upstream.kind":  allKinds,
	"routes[].upstream.split": {SplitNone, SplitJSONArray},
}

// schemaBounds are the integer ranges the validator enforces. Keys not
// listed here must not be negative.
var schemaBounds = map[string][2]int64{
	"limits.max_connections": {1, -1},
	"routes[].buffer":        {1, maxBuffer},
}

// schemaRequired lists the keys a mapping must have.
var schemaRequired = map[string][]string{
	"":                  {"routes"},
	"cluster":           {"redis"},
	"routes[]":          {"path", "upstream"},
	"routes[].upstream": {"url"},
	"tls.acme":          {"domains"},
}

// schemaNoDefault are keys whose default depends on other keys (the URL's
// scheme, the kind): their description says so instead; and the URL, which
// schemaDefaults has to give.
var schemaNoDefault = map[string]bool{
	"routes[].upstream.url":      true,
	"routes[].upstream.kind":     true,
	"routes[].upstream.interval": true,
	"routes[].transports":        true,
}

// schemaNonEmpty are lists that need at least one entry. Not transports:
// a kind http route has none, and the schema cannot see the kind.
var schemaNonEmpty = map[string]bool{
	"routes":           true,
	"tls.acme.domains": true,
}

// Patterns of the scalar forms the decoder reads. envPattern matches a value
// holding ${NAME}, which is only judged after expansion.
const (
	envPattern      = `\$\{[A-Za-z_][A-Za-z0-9_]*(:-[^}]*)?\}`
	durationPattern = `^\s*(0|([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h)(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))*)\s*$`
	sizePattern     = `^\s*[0-9][0-9_]*\s*([bB]|[kKmMgG][iI]?[bB])?\s*$`
)
