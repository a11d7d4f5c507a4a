package cluster

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// SockJS sessions in a cluster (docs/sockjs.md, Cluster): the client
// chooses the id, so every instance must find the same record for it: the
// bridge session behind it, the credentials it is bound to, how far its
// receivers have read, and one receiver lock. Keys (docs/cluster.md):
//
//	<prefix>:{j:<route>|<sid>}:meta   hash: session, creds, pos, opened, seen, code, reason
//	<prefix>:{j:<route>|<sid>}:lease  string: token of the receiving request

// SockJSRecord is one SockJS session as every instance sees it.
type SockJSRecord struct {
	Session string // the bridge session's id (its log's epoch)
	Creds   []byte // credential hash of the opening request; empty when none
	Pos     uint64 // the log position the last receiver delivered up to
	Opened  bool   // the "o" frame went out
	Seen    time.Time
	// CloseCode is set once the session was closed (then CloseReason).
	CloseCode   int
	CloseReason string
}

func sockjsName(route, sid string) string { return "j:" + route + "|" + sid }

// sockjsDo runs op on session sid's keys within the client's operation
// timeout; a Redis failure is classified as every cluster call does.
func (c *Client) sockjsDo(ctx context.Context, what, route, sid string, op func(ctx context.Context, k logKeys) error) error {
	octx, cancel := c.opContext(ctx)
	defer cancel()
	if err := op(octx, c.keys(sockjsName(route, sid))); err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("cluster: sockjs %s: %w", what, c.fail(err))
	}
	return nil
}

// SockJSCreate stores a new record unless one exists; false when another
// instance created it first. One script: no instance ever sees a record
// without its credentials (which would admit anyone) or without its TTL.
func (c *Client) SockJSCreate(ctx context.Context, route, sid string, rec SockJSRecord, ttl time.Duration) (created bool, err error) {
	err = c.sockjsDo(ctx, "create", route, sid, func(ctx context.Context, k logKeys) error {
		n, err := sockjsCreateScript.Run(ctx, c.rdb, []string{k.meta}, rec.Session, string(rec.Creds), time.Now().UnixMilli(), ttl.Milliseconds()).Int()
		created = n == 1
		return err
	})
	return created, err
}

var sockjsCreateScript = redis.NewScript(`
if redis.call("HSETNX", KEYS[1], "session", ARGV[1]) == 0 then
  return 0
end
redis.call("HSET", KEYS[1], "creds", ARGV[2], "pos", 0, "opened", 0, "seen", ARGV[3])
redis.call("PEXPIRE", KEYS[1], ARGV[4])
return 1`)

// SockJSGet reads a record; ErrSessionNotFound when there is none.
func (c *Client) SockJSGet(ctx context.Context, route, sid string) (SockJSRecord, error) {
	var m map[string]string
	err := c.sockjsDo(ctx, "get", route, sid, func(ctx context.Context, k logKeys) (err error) {
		m, err = c.rdb.HGetAll(ctx, k.meta).Result()
		return err
	})
	if err != nil {
		return SockJSRecord{}, err
	}
	if m["session"] == "" {
		return SockJSRecord{}, ErrSessionNotFound
	}
	rec := SockJSRecord{Session: m["session"], Creds: []byte(m["creds"]), Opened: m["opened"] == "1", CloseReason: m["reason"]}
	rec.Pos, _ = strconv.ParseUint(m["pos"], 10, 64)
	rec.CloseCode, _ = strconv.Atoi(m["code"])
	if ms, err := strconv.ParseInt(m["seen"], 10, 64); err == nil {
		rec.Seen = time.UnixMilli(ms)
	}
	return rec, nil
}

// SockJSProgress records what a receiver delivered and keeps the record
// for ttl more. The position only moves forward: a receiver that ends
// after a later one (its lock ran out meanwhile) must not send the next
// one back over what was delivered.
func (c *Client) SockJSProgress(ctx context.Context, route, sid string, pos uint64, opened bool, ttl time.Duration) error {
	o := 0
	if opened {
		o = 1
	}
	return c.sockjsDo(ctx, "progress", route, sid, func(ctx context.Context, k logKeys) error {
		return sockjsProgressScript.Run(ctx, c.rdb, []string{k.meta}, pos, o, time.Now().UnixMilli(), ttl.Milliseconds()).Err()
	})
}

var sockjsProgressScript = redis.NewScript(`
if redis.call("EXISTS", KEYS[1]) == 0 then
  return 0
end
if tonumber(redis.call("HGET", KEYS[1], "pos") or "0") < tonumber(ARGV[1]) then
  redis.call("HSET", KEYS[1], "pos", ARGV[1])
end
if ARGV[2] == "1" then
  redis.call("HSET", KEYS[1], "opened", 1)
end
redis.call("HSET", KEYS[1], "seen", ARGV[3])
redis.call("PEXPIRE", KEYS[1], ARGV[4])
return 1`)

// SockJSClose records the session's close frame (the first one stays).
func (c *Client) SockJSClose(ctx context.Context, route, sid string, code int, reason string) error {
	return c.sockjsDo(ctx, "close", route, sid, func(ctx context.Context, k logKeys) error {
		return sockjsCloseScript.Run(ctx, c.rdb, []string{k.meta}, code, reason).Err()
	})
}

var sockjsCloseScript = redis.NewScript(`
if redis.call("EXISTS", KEYS[1]) == 1 and redis.call("HEXISTS", KEYS[1], "code") == 0 then
  redis.call("HSET", KEYS[1], "code", ARGV[1], "reason", ARGV[2])
end
return 1`)

// SockJSDelete forgets a record.
func (c *Client) SockJSDelete(ctx context.Context, route, sid string) error {
	return c.sockjsDo(ctx, "delete", route, sid, func(ctx context.Context, k logKeys) error {
		return c.rdb.Del(ctx, k.meta, k.lease).Err()
	})
}

// SockJSLock takes (or, with the same token, extends) the session's
// receiver lock for ttl, and keeps the record as long; false when another
// receiver holds it.
func (c *Client) SockJSLock(ctx context.Context, route, sid, token string, ttl time.Duration) (taken bool, err error) {
	err = c.sockjsDo(ctx, "lock", route, sid, func(ctx context.Context, k logKeys) error {
		n, err := sockjsLockScript.Run(ctx, c.rdb, []string{k.lease, k.meta}, token, ttl.Milliseconds()).Int()
		taken = n == 1
		return err
	})
	return taken, err
}

var sockjsLockScript = redis.NewScript(`
local cur = redis.call("GET", KEYS[1])
if cur == false or cur == ARGV[1] then
  redis.call("SET", KEYS[1], ARGV[1], "PX", ARGV[2])
  redis.call("PEXPIRE", KEYS[2], ARGV[2])
  return 1
end
return 0`)

// SockJSUnlock gives the receiver lock back if token still holds it.
func (c *Client) SockJSUnlock(ctx context.Context, route, sid, token string) error {
	return c.sockjsDo(ctx, "unlock", route, sid, func(ctx context.Context, k logKeys) error {
		return releaseScript.Run(ctx, c.rdb, []string{k.lease}, token).Err()
	})
}

// SockJSReceiving reports whether a receiver holds the session's lock.
func (c *Client) SockJSReceiving(ctx context.Context, route, sid string) (held bool, err error) {
	err = c.sockjsDo(ctx, "receiving", route, sid, func(ctx context.Context, k logKeys) error {
		n, err := c.rdb.Exists(ctx, k.lease).Result()
		held = n == 1
		return err
	})
	return held, err
}
