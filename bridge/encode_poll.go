package bridge

import (
	"github.com/bridgeway/bridgeway/bridge/msglog"
	"github.com/bridgeway/bridgeway/bridge/wire"
	"github.com/bridgeway/bridgeway/config"
)

// The poll encoder: one answer's body, written whole by the handler
// (writePoll) or by the fan-out for a parked poll (parkedPoll.build).

// appendPollBody appends a poll answer's body (see writePoll) and returns
// it with the payload bytes of its messages.
func appendPollBody(b []byte, a *attachment, prefix, transport, callback string, ans *pollAnswer) ([]byte, int) {
	if transport == config.TransportJSONP {
		b = append(b, "/**/"...)
		b = append(b, callback...)
		b = append(b, '(')
	}
	b = append(b, '{')
	if id := a.sessionID(); id != "" {
		b = wire.AppendSessionFields(b, id, prefix)
	}
	b = append(b, `"cursor":`...)
	// Not Reader.Cursor: that makes a string per answer.
	b = wire.AppendCursorJSON(b, a.rd.Log().Epoch(), a.rd.Pos())
	b = append(b, `,"messages":[`...)
	bytes := 0
	for i, e := range ans.entries {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, e.Encoded(msglog.FormatJSON, encodeJSON)...)
		bytes += len(e.Msg.Data)
	}
	b = append(b, ']')
	if g := ans.gap; g != nil {
		a.tm.gaps.Inc()
		b = append(b, `,"gap":`...)
		b = wire.AppendGapJSON(b, g.From, g.To)
	}
	if c := ans.closed; c != nil {
		b = append(b, `,"closed":`...)
		b = wire.AppendCloseJSON(b, c.Code, c.Reason)
	}
	b = append(b, '}')
	if transport == config.TransportJSONP {
		b = append(b, ");"...)
	}
	return b, bytes
}
