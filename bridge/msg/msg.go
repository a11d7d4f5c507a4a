// Package msg holds the message type shared by upstream adapters, the log and
// client transports. It is a leaf package so that all of them can import it.
package msg

// Message is one unit of data from an upstream or a client.
type Message struct {
	// Event is the SSE event name; "" means "message".
	Event string
	// Data is the payload: text, or raw bytes when Binary is set.
	Data []byte
	// Binary marks a WebSocket binary frame (base64 on text transports).
	Binary bool
	// ID is the upstream's own id (SSE "id:" field), kept so an upstream
	// SSE stream can be resumed with Last-Event-ID. Not shown to clients,
	// who see the gateway's cursor instead.
	UpstreamID string
}

// Sink receives what an upstream adapter reads. Adapters only append; the
// log behind the sink owns cursors, buffering and fan-out.
type Sink interface {
	// Append adds one message, in upstream order.
	Append(m Message)
	// Gap records that the upstream lost a stretch of messages that it could
	// not replay (a reconnect without resume). Clients see an explicit gap.
	Gap(reason string)
}

// CloseInfo tells clients why a session or topic ended.
type CloseInfo struct {
	Code   int    `json:"code"`
	Reason string `json:"reason"`
}
