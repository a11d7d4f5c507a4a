package cluster

import (
	"context"
	"time"

	"go.uber.org/zap"
)

// Campaign runs hold on at most one instance of the cluster at a time: it
// waits for the named lease, runs hold with a context that ends when the
// lease is lost, releases the lease and campaigns again, until ctx ends or
// the client closes (then it returns ctx.Err() or ErrClosed). hold should
// return promptly when its context ends.
//
// This is the shape of a broadcast topic's upstream: every instance with
// subscribers campaigns; the holder dials the upstream (resuming from
// StreamLog.FetchUpstreamID) and appends to the shared log; the others
// only read it.
func (c *Client) Campaign(ctx context.Context, name string, ttl time.Duration, hold func(ctx context.Context, l *Lease)) error {
	lg := c.log.With(zap.String("lease", name))
	for {
		l, err := c.WaitLease(ctx, name, ttl)
		if err != nil {
			return err
		}
		if ctx.Err() != nil { // won just as the campaign ended: hand it back
			l.Release()
			return ctx.Err()
		}
		lg.Debug("lease acquired")
		hctx, cancel := context.WithCancel(ctx)
		go func() { // ends with hctx, which ends right after hold
			select {
			case <-l.Lost():
			case <-hctx.Done():
			}
			cancel()
		}()
		hold(hctx, l)
		cancel()
		l.Release()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if c.ctx.Err() != nil {
			return ErrClosed
		}
	}
}
