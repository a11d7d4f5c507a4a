package bridge

import "github.com/bridgeway/bridgeway/bridge/msg"

// textMessages makes the texts of one client send (a POST /send JSON
// batch, a SockJS send, an acks=1 frame) into text messages, and bytes
// their payload size for the metrics. More than maxBatch texts is tooMany,
// one longer than maxBytes (max_message_bytes) is tooLarge: each caller
// answers in its own form (an HTTP error, a close code).
func textMessages[E error](texts []string, maxBatch int, maxBytes int64, tooMany, tooLarge E) (msgs []msg.Message, bytes int, fail E) {
	if len(texts) > maxBatch {
		return nil, 0, tooMany
	}
	msgs = make([]msg.Message, len(texts))
	for i, t := range texts {
		if int64(len(t)) > maxBytes {
			return nil, 0, tooLarge
		}
		msgs[i] = msg.Message{Data: []byte(t)}
		bytes += len(t)
	}
	return msgs, bytes, fail
}
