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
	// sender checks that session sid is open to req's credentials (else
	// errSessionNotFound, before the body is read) and returns what
	// forwards the send's messages to its upstream.
	sender(h *RouteHandler, req *request, sid string) (sjSend, *apiError)
	// afterFlush runs after each flush of a receiving request (nil: none).
	afterFlush(h *RouteHandler, sj *sjSession) func()
	// closeAll lets go of what the route's sessions hold here once the
	// route closed.
	closeAll(h *RouteHandler)
}

// sjSend forwards one send's messages (bytes: their payload size).
type sjSend func(msgs []msg.Message, bytes int) *apiError
