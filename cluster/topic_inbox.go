package cluster

import (
	"context"
	"errors"
	"time"

	"go.uber.org/zap"

	"github.com/bridgeway/bridgeway/bridge/msg"
)

// topicInboxRetry is how long a topic's holder waits before it tries its
// inbox again: a crashed holder's owner key outlives its topic lease by
// up to defaultTopicLeaseTTL, and a Redis blip can take the inbox's lease.
const topicInboxRetry = 500 * time.Millisecond

// KeepTopicInbox keeps this instance, the holder of a topic's upstream,
// the receiver of client sends to the topic (route client_send) until
// stop is called or ctx ends: it opens the inbox (OpenTopicInbox), again
// after losing it, and retries while another instance's stale ownership
// is still there. Call it from TopicOptions.Hold once the upstream is
// connected; stop closes the inbox and waits for the goroutine.
func (c *Client) KeepTopicInbox(ctx context.Context, name string, deliver func(context.Context, msg.Message) error) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			in, err := c.OpenTopicInbox(ctx, name, deliver)
			if err == nil {
				select {
				case <-in.Lost():
					c.log.Info("topic inbox lost; opening it again", zap.String("topic", name))
				case <-ctx.Done():
				}
				in.Close()
			} else if !errors.Is(err, ErrSessionExists) && ctx.Err() == nil {
				c.log.Warn("topic inbox not opened; retrying", zap.String("topic", name), zap.Error(err))
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(topicInboxRetry):
			}
		}
	}()
	return func() { cancel(); <-done }
}
