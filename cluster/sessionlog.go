package cluster

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/bridgeway/bridgeway/bridge/msg"
)

// CloseOwnerGone is the close code clients of a session see when the
// instance holding its upstream died: the upstream connection cannot move.
const CloseOwnerGone = 1014

// ownerGoneGrace is how long a session's owner record must stay missing
// before other instances close the session: after a Redis restart the
// owner takes its record back within its renewal period.
const ownerGoneGrace = 5 * time.Second

// defaultOwnerTTL bounds how long sends are still accepted for a session
// whose owner died, before every instance answers "not found".
const defaultOwnerTTL = 10 * time.Second

// SessionOptions configure a session opened on this instance.
type SessionOptions struct {
	// Capacity is the route buffer.
	Capacity int
	// MaxBytes bounds this instance's mirror (LogOptions.MaxBytes).
	MaxBytes int64
	// TTL keeps the log after its last reader left (route session_ttl).
	TTL time.Duration
	// OwnerTTL is the ownership lease (renewed every OwnerTTL/3). Default 10s.
	OwnerTTL time.Duration
	// Credentials hash of the opening request ("" when none).
	Credentials []byte
	// Deliver hands a client message to the upstream (see InboxOptions).
	Deliver func(ctx context.Context, m msg.Message) error
	// OnEvict as in LogOptions.
	OnEvict func(n int)
}

// OwnedSession is a session whose upstream this instance holds: the log its
// upstream appends to, and the inbox of client sends from every instance.
type OwnedSession struct {
	id    string
	log   *StreamLog
	inbox *Inbox
	once  sync.Once
}

// OpenSession records a new session (id from the caller's CSPRNG) owned by
// this instance. Open it before dialling the upstream only if Deliver can
// wait for the connection; otherwise dial first.
func (c *Client) OpenSession(ctx context.Context, id string, opts SessionOptions) (*OwnedSession, error) {
	if opts.OwnerTTL <= 0 {
		opts.OwnerTTL = defaultOwnerTTL
	}
	l, err := c.OpenLog(ctx, SessionName(id), LogOptions{Capacity: opts.Capacity, MaxBytes: opts.MaxBytes, TTL: opts.TTL, Epoch: id, OnEvict: opts.OnEvict})
	if err != nil {
		return nil, err
	}
	if l.Epoch() != id {
		l.Release()
		return nil, ErrSessionExists
	}
	in, err := c.openInbox(ctx, SessionName(id), id, InboxOptions{TTL: opts.OwnerTTL, Credentials: opts.Credentials, Deliver: opts.Deliver}, true, l)
	if err != nil {
		l.Release()
		return nil, err
	}
	return &OwnedSession{id: id, log: l, inbox: in}, nil
}

// Log is the session's log (the upstream appends to it).
func (s *OwnedSession) Log() *StreamLog { return s.log }

// Lost is closed when this instance no longer owns the session.
func (s *OwnedSession) Lost() <-chan struct{} { return s.inbox.Lost() }

// End closes the session for every instance (readers see info after the
// last message), stops taking sends and releases the log. Idempotent.
func (s *OwnedSession) End(info msg.CloseInfo) {
	s.once.Do(func() {
		s.log.Close(info)
		s.inbox.Close()
		s.log.Release()
	})
}

// RemoteSession is a session owned by another instance, served here: its
// log for reading and its credentials for checking.
type RemoteSession struct {
	Record SessionRecord
	c      *Client
	log    *StreamLog
	once   sync.Once
	// missingSince is when housekeeping first found no owner (zero: owner
	// present). Housekeeping goroutine only.
	missingSince time.Time
}

// AttachSession serves a session this instance does not own; an unknown one
// is ErrSessionNotFound. A session whose owner is gone but whose log
// remains is closed (CloseOwnerGone) once the owner stayed missing for
// ownerGoneGrace, so its clients get an explicit close rather than silence.
func (c *Client) AttachSession(ctx context.Context, id string, capacity int) (*RemoteSession, error) {
	return c.AttachSessionWith(ctx, id, LogOptions{Capacity: capacity})
}

// AttachSessionWith is AttachSession with the mirror's options (Capacity,
// MaxBytes, OnEvict; Existing is implied).
func (c *Client) AttachSessionWith(ctx context.Context, id string, opts LogOptions) (*RemoteSession, error) {
	rec, err := c.LookupSession(ctx, id)
	if err != nil {
		return nil, err
	}
	opts.Existing, opts.Fresh, opts.Epoch = true, false, ""
	l, err := c.OpenLog(ctx, SessionName(id), opts)
	if errors.Is(err, ErrLogNotFound) {
		return nil, ErrSessionNotFound
	}
	if err != nil {
		return nil, err
	}
	rs := &RemoteSession{Record: rec, log: l, c: c}
	if closed, _ := l.Closed(); !closed {
		// Watched by housekeeping: when the owner is gone for good (not
		// just being re-claimed after a Redis restart), the log is closed,
		// so clients reading here get the close instead of silence.
		c.mu.Lock()
		c.remotes[rs] = c.keys(SessionName(id)).owner
		c.mu.Unlock()
	}
	return rs, nil
}

// Log is the session's log on this instance.
func (s *RemoteSession) Log() *StreamLog { return s.log }

// Release stops serving the session here (it goes on elsewhere).
// Idempotent.
func (s *RemoteSession) Release() {
	s.once.Do(func() {
		s.c.mu.Lock()
		delete(s.c.remotes, s)
		s.c.mu.Unlock()
		s.log.Release()
	})
}
