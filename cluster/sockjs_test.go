package cluster

import (
	"context"
	"errors"
	"testing"
	"time"
)

// sjRoute names the route the records below belong to.
const sjRoute = "/r"

// TestSockJSRecordAcrossInstances: one instance creates a SockJS record,
// another reads it, moves its position, takes the receiver lock (which
// a third token cannot take or give back), and the first close stays.
func TestSockJSRecordAcrossInstances(t *testing.T) {
	_, url := startRedis(t)
	cs := newClients(t, url, 2, Options{})
	a, b, ctx := cs[0], cs[1], context.Background()
	if _, err := b.SockJSGet(ctx, sjRoute, "s1"); !errors.Is(err, ErrSessionNotFound) {
		t.Fatalf("unknown record: %v", err)
	}
	rec := SockJSRecord{Session: "bridge-id", Creds: []byte("hash")}
	if ok, err := a.SockJSCreate(ctx, sjRoute, "s1", rec, time.Minute); !ok || err != nil {
		t.Fatalf("create: %v %v", ok, err)
	}
	if ok, err := b.SockJSCreate(ctx, sjRoute, "s1", SockJSRecord{Session: "other"}, time.Minute); ok || err != nil {
		t.Fatalf("second create: %v %v, want false", ok, err)
	}
	if err := b.SockJSProgress(ctx, sjRoute, "s1", 42, true, time.Minute); err != nil {
		t.Fatal(err)
	}
	// A receiver that ends after a later one (its lock ran out) reports
	// less: the position stays where the later one left it.
	if err := a.SockJSProgress(ctx, sjRoute, "s1", 10, false, time.Minute); err != nil {
		t.Fatal(err)
	}
	got, err := a.SockJSGet(ctx, sjRoute, "s1")
	if err != nil || got.Session != "bridge-id" || string(got.Creds) != "hash" || got.Pos != 42 || !got.Opened || got.CloseCode != 0 {
		t.Fatalf("record %+v %v", got, err)
	}

	if ok, _ := a.SockJSLock(ctx, sjRoute, "s1", "t1", time.Minute); !ok {
		t.Fatal("first lock refused")
	}
	if ok, _ := b.SockJSLock(ctx, sjRoute, "s1", "t2", time.Minute); ok {
		t.Fatal("a second token took the lock")
	}
	if ok, _ := b.SockJSLock(ctx, sjRoute, "s1", "t1", time.Minute); !ok {
		t.Fatal("the holder could not renew")
	}
	_ = b.SockJSUnlock(ctx, sjRoute, "s1", "t2")
	if held, _ := b.SockJSReceiving(ctx, sjRoute, "s1"); !held {
		t.Fatal("another token gave the lock back")
	}
	_ = a.SockJSUnlock(ctx, sjRoute, "s1", "t1")
	if held, _ := b.SockJSReceiving(ctx, sjRoute, "s1"); held {
		t.Fatal("lock still held after unlock")
	}

	_ = a.SockJSClose(ctx, sjRoute, "s1", 1002, "Connection interrupted")
	_ = b.SockJSClose(ctx, sjRoute, "s1", 3000, "Go away!")
	if got, _ := b.SockJSGet(ctx, sjRoute, "s1"); got.CloseCode != 1002 || got.CloseReason != "Connection interrupted" {
		t.Fatalf("close %d %q, want the first", got.CloseCode, got.CloseReason)
	}
	_ = b.SockJSDelete(ctx, sjRoute, "s1")
	if _, err := a.SockJSGet(ctx, sjRoute, "s1"); !errors.Is(err, ErrSessionNotFound) {
		t.Fatalf("after delete: %v", err)
	}
}
