package config

// Bounds the bridge applies to values it is given; kept here, beside the
// defaults, so no other package restates them.
const (
	// MaxSSEPadding is the most comment padding sse_padding may ask for.
	MaxSSEPadding = Size(64 << 10)
)
