package upstream

import (
	"context"
	"errors"
)

func dialSSE(ctx context.Context, s *settings) (Conn, error) {
	return nil, errors.New("upstream: sse not implemented yet")
}

func dialLongPoll(ctx context.Context, s *settings) (Conn, error) {
	return nil, errors.New("upstream: longpoll not implemented yet")
}

func dialPoll(ctx context.Context, s *settings) (Conn, error) {
	return nil, errors.New("upstream: poll not implemented yet")
}
