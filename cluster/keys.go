package cluster

import (
	"crypto/sha256"
	"encoding/base64"
	"strings"
)

// Key layout (docs/cluster.md). Every key of one log shares the hash tag
// {name}, so a Redis Cluster keeps them on one slot and scripts may touch
// them together.
//
//	<prefix>:{<name>}:meta   hash: epoch, up (last upstream SSE id), closed, reason, sendseq, creds
//	<prefix>:{<name>}:log    stream: the log entries (MAXLEN = buffer)
//	<prefix>:{<name>}:lease  string: instance id holding the upstream (topics)
//	<prefix>:{<name>}:owner  string: instance id holding the upstream (sessions)
//	<prefix>:{<name>}:inbox  stream: client sends for the owner (sessions): b, d, q (seq)
//	<prefix>:inst:<id>:wake  stream: wakes an instance's tailer
type logKeys struct {
	meta, log, lease, owner, inbox string
}

// maxNameLen keeps keys short; longer names (or ones with braces, which
// would break the hash tag) are replaced by their hash.
const maxNameLen = 128

func (c *Client) keys(name string) logKeys {
	if len(name) > maxNameLen || strings.ContainsAny(name, "{}") {
		sum := sha256.Sum256([]byte(name))
		name = "h:" + base64.RawURLEncoding.EncodeToString(sum[:18])
	}
	base := c.prefix + ":{" + name + "}:"
	return logKeys{
		meta:  base + "meta",
		log:   base + "log",
		lease: base + "lease",
		owner: base + "owner",
		inbox: base + "inbox",
	}
}

func (c *Client) wakeKey() string { return c.prefix + ":inst:" + c.id + ":wake" }

// TopicName is the log name of a broadcast topic: the route path and the
// topic key (placeholder values), so each distinct topic has its own keys.
func TopicName(route, topicKey string) string {
	if topicKey == "" {
		return "t:" + route
	}
	return "t:" + route + "|" + topicKey
}

// SessionName is the log name of a session.
func SessionName(id string) string { return "s:" + id }
