package bridge

import (
	"context"

	"github.com/bridgeway/bridgeway/bridge/msg"
	"github.com/bridgeway/bridgeway/cluster"
)

// logBackend is where the logs of topics and sessions live, and how a
// client's messages reach an upstream held elsewhere, in the spirit of
// centrifuge's Broker: in this process (backend_local.go), or shared by
// every instance through Redis (backend_redis.go). Topics, sessions,
// sends and attach call it and never ask which one it is.
type logBackend interface {
	// openTopic gives t its log and its upstream (or its part in a
	// shared one) and closes t.ready, or abandons t. Called once, by the
	// subscriber that created t.
	openTopic(t *topic, req *request)
	// closeTopic ends t's log for this process's readers with info and
	// lets go of its upstream.
	closeTopic(t *topic, info msg.CloseInfo)
	// sendTopic passes client messages to t's upstream (client_send).
	sendTopic(ctx context.Context, t *topic, out outgoing) error
	// openSession opens a session that later requests find by id (an
	// owned one, which ends with its WebSocket, is always local).
	openSession(h *RouteHandler, req *request, transport string) (*session, *apiError)
	// findSession serves a session this process does not hold: nil, nil
	// when there is none.
	findSession(h *RouteHandler, req *request, id string) (*session, *apiError)
	// sockjs is where the route's SockJS sessions are (backend_sockjs.go).
	sockjs() sockjsStore
}

// sessionHome is what ending a session and passing it messages do where
// its log and upstream are: here (localHome), here with the log in Redis
// (backend_redis.go: ownedHome), or on another instance (remoteHome).
type sessionHome interface {
	// end closes the session's log with info (for every instance when
	// this one holds it) and lets go of what the home holds.
	end(s *session, info msg.CloseInfo)
	// send forwards client messages to the upstream, in order, once per
	// seq.
	send(ctx context.Context, s *session, seq int64, out outgoing) error
	// local: this process's upstream reader feeds the log (its appends
	// kick the session's WebSocket pumps).
	local() bool
	// queued: sends pass through a queue that the owner drains only
	// into a WebSocket upstream.
	queued() bool
}

// backendFor is the backend of a bridge: Redis when clustered.
func backendFor(c *cluster.Client) logBackend {
	if c != nil {
		return redisBackend{c: c}
	}
	return localBackend{}
}
