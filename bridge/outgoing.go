package bridge

import "github.com/bridgeway/bridgeway/bridge/msg"

// outgoing is client messages on their way to an upstream: one WebSocket
// frame, or a batch (POST /send, an acks=1 frame). A value, not a slice:
// the log backend and a session's home are interfaces, and a slice literal
// passed through an interface method would go to the heap once per frame.
type outgoing struct {
	one    msg.Message
	many   []msg.Message
	single bool
}

func oneMessage(m msg.Message) outgoing   { return outgoing{one: m, single: true} }
func batchOf(msgs []msg.Message) outgoing { return outgoing{many: msgs} }

// list is the messages as a slice (a new one for a single frame).
func (o *outgoing) list() []msg.Message {
	if o.single {
		return []msg.Message{o.one}
	}
	return o.many
}

// each calls send for every message in order and stops at the first error.
func (o *outgoing) each(send func(msg.Message) error) error {
	if o.single {
		return send(o.one)
	}
	for _, m := range o.many {
		if err := send(m); err != nil {
			return err
		}
	}
	return nil
}
