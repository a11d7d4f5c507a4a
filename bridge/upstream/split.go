package upstream

import (
	"encoding/json"
	"unicode/utf8"

	"github.com/bridgeway/bridgeway/bridge/msg"
	"github.com/bridgeway/bridgeway/config"
)

// deliverBody appends one HTTP body as messages: the whole body as one
// message (binary when it is not valid UTF-8), or with split json_array one
// text message per array element holding the element's raw JSON text. A body
// that is not a JSON array under json_array is counted as a failure and
// reported as a gap: its content is lost to clients, never hidden.
func deliverBody(body []byte, split string, sink msg.Sink, cnt counters) {
	if split != config.SplitJSONArray {
		inc(cnt.messages)
		sink.Append(msg.Message{Data: body, Binary: !utf8.Valid(body)})
		return
	}
	var items []json.RawMessage
	if err := json.Unmarshal(body, &items); err != nil {
		inc(cnt.failures)
		sink.Gap("upstream body is not a JSON array")
		return
	}
	for _, item := range items {
		inc(cnt.messages)
		sink.Append(msg.Message{Data: validText(item, cnt)})
	}
}
