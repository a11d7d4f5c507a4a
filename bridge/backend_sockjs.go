package bridge

import "github.com/bridgeway/bridgeway/bridge/msg"

// sockjsStore is where a route's SockJS sessions are found and how their
// receiving requests take turns: in this process's table
// (backend_sockjs_local.go), or in a record in Redis that every instance
// reads (backend_sockjs_redis.go). The log backend chooses it
// (logBackend.sockjs); the SockJS handlers never ask which one runs.
type sockjsStore interface {
	// receiver takes the receiving side of session sid for req, opening
	// the session when the id is new. busy: another receiving request
	// holds it (the caller answers c[2010]).
	receiver(h *RouteHandler, req *request, sid, label string) (sj *sjSession, busy bool, aerr *apiError)
	// release ends a receiving request; ending, when set, closes the
	// session with it (a request the client abandoned, a receiver that
	// would have missed messages).
	release(h *RouteHandler, sj *sjSession, ending *msg.CloseInfo)
	// lookup checks that session sid is open to req's credentials (else
	// errSessionNotFound), before a send's body is read. sj is what send
	// then takes: the session here, or what the cluster record said (read
	// once per send).
	lookup(h *RouteHandler, req *request, sid string) (sj *sjSession, aerr *apiError)
	// send forwards a send's messages (bytes: their payload size) to the
	// upstream of the session lookup found.
	send(h *RouteHandler, req *request, sid string, sj *sjSession, msgs []msg.Message, bytes int) *apiError
	// afterFlush runs after each flush of a receiving request (nil: none).
	afterFlush(h *RouteHandler, sj *sjSession) func()
	// closeAll lets go of what the route's sessions hold here once the
	// route closed.
	closeAll(h *RouteHandler)
}
