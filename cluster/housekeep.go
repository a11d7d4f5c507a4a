package cluster

import (
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/bridgeway/bridgeway/bridge/msg"
)

// housekeepTick is how often open logs are considered for a touch (each is
// touched once per ttl/3) and remote sessions' owners are checked.
const housekeepTick = time.Second

// housekeep refreshes the TTL of every log this instance has open (so
// nothing expires while someone reads it, and everything expires once no
// instance does), and notices a log whose state was replaced under it.
func (c *Client) housekeep() {
	defer c.wg.Done()
	tick := time.NewTicker(housekeepTick)
	defer tick.Stop()
	touched := map[*StreamLog]time.Time{}
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-tick.C:
		}
		now := time.Now()
		c.mu.Lock()
		due := make([]*StreamLog, 0, len(c.logs))
		for _, l := range c.logs {
			if now.Sub(touched[l]) >= l.ttl/3 {
				due = append(due, l)
			}
		}
		open := make(map[*StreamLog]bool, len(c.logs))
		for _, l := range c.logs {
			open[l] = true
		}
		c.mu.Unlock()
		for l := range touched {
			if !open[l] {
				delete(touched, l)
			}
		}
		c.checkOwners()
		if len(due) == 0 {
			continue
		}
		lost, err := c.touch(due)
		if err != nil {
			c.log.Debug("touch failed", zap.Error(err))
			continue
		}
		for _, l := range due {
			// A log whose state is gone (Redis restarted empty) is checked
			// every tick until it reappears, so a new incarnation made by
			// another instance is noticed at once.
			if !lost[l] {
				touched[l] = now
			}
		}
	}
}

// touch refreshes TTLs in one pipeline and closes mirrors whose log was
// restarted under another epoch.
func (c *Client) touch(logs []*StreamLog) (lost map[*StreamLog]bool, err error) {
	ctx, cancel := c.opContext(nil)
	defer cancel()
	pipe := c.rdb.Pipeline()
	cmds := make([]*redis.Cmd, len(logs))
	for i, l := range logs {
		// EVAL, not EVALSHA: a pipeline cannot recover from NOSCRIPT after
		// a Redis restart, and the script is tiny.
		cmds[i] = touchScript.Eval(ctx, pipe, []string{l.keys.meta, l.keys.log}, l.ttl.Milliseconds())
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, c.fail(err)
	}
	c.up()
	lost = map[*StreamLog]bool{}
	for i, l := range logs {
		epoch, _ := cmds[i].Text()
		switch {
		case epoch == "":
			lost[l] = true
		case epoch != l.epoch:
			l.closeLocal(msg.CloseInfo{Code: CloseStateLost, Reason: "cluster state lost"})
		}
	}
	return lost, nil
}

// checkOwners closes the logs of sessions served here whose owner is gone
// (died without writing the close marker) for ownerGoneGrace, so their
// clients get an explicit close rather than silence.
func (c *Client) checkOwners() {
	c.mu.Lock()
	if len(c.remotes) == 0 {
		c.mu.Unlock()
		return
	}
	sessions := make([]*RemoteSession, 0, len(c.remotes))
	keys := make([]string, 0, len(c.remotes))
	for rs, key := range c.remotes {
		sessions = append(sessions, rs)
		keys = append(keys, key)
	}
	c.mu.Unlock()
	ctx, cancel := c.opContext(nil)
	defer cancel()
	pipe := c.rdb.Pipeline()
	cmds := make([]*redis.IntCmd, len(keys))
	for i, k := range keys {
		cmds[i] = pipe.Exists(ctx, k)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		_ = c.fail(err)
		return // unknown is not gone: a Redis outage must not end sessions
	}
	now := time.Now()
	for i, rs := range sessions {
		switch {
		case cmds[i].Val() == 1:
			rs.missingSince = time.Time{}
		case rs.missingSince.IsZero():
			rs.missingSince = now
		case now.Sub(rs.missingSince) >= ownerGoneGrace:
			rs.log.Close(msg.CloseInfo{Code: CloseOwnerGone, Reason: "session owner gone"})
			c.mu.Lock()
			delete(c.remotes, rs)
			c.mu.Unlock()
		}
	}
}
