package reenter

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Connections pushed but not yet accepted are closed by Close; pushes
// after Close are refused and closed; Accept then fails.
func TestListenerCloseDrains(t *testing.T) {
	ln := NewListener(&net.TCPAddr{})
	a, b := net.Pipe()
	defer b.Close()
	if !ln.Push(a) {
		t.Fatal("push refused while open")
	}
	got, err := ln.Accept()
	if err != nil || got != a {
		t.Fatalf("accept: %v, %v", got, err)
	}
	waiting, peer := net.Pipe()
	defer peer.Close()
	if !ln.Push(waiting) {
		t.Fatal("push refused while open")
	}
	_ = ln.Close()
	if _, err := peer.Read(make([]byte, 1)); err == nil {
		t.Fatal("a connection waiting for Accept survived Close")
	}
	late, latePeer := net.Pipe()
	defer latePeer.Close()
	if ln.Push(late) {
		t.Fatal("push accepted after Close")
	}
	if _, err := latePeer.Read(make([]byte, 1)); err == nil {
		t.Fatal("a connection pushed after Close is open")
	}
	if _, err := ln.Accept(); err == nil {
		t.Fatal("accept after Close")
	}
	_ = a.Close()
}

// From finds what WithFunc stored; MarkStatus finds a marker through
// Unwrap.
func TestContextAndMarker(t *testing.T) {
	if From(context.Background()) != nil {
		t.Fatal("a way back out of nowhere")
	}
	called := false
	ctx := WithFunc(context.Background(), func(net.Conn) bool { called = true; return true })
	if f := From(ctx); f == nil || !f(nil) || !called {
		t.Fatal("stored func not returned")
	}
	m := &marker{ResponseWriter: httptest.NewRecorder()}
	MarkStatus(&wrapper{ResponseWriter: m}, http.StatusOK)
	if m.code != http.StatusOK {
		t.Fatalf("marked %d", m.code)
	}
	MarkStatus(httptest.NewRecorder(), http.StatusOK) // no marker: nothing happens
}

type marker struct {
	http.ResponseWriter
	code int
}

func (m *marker) MarkHijackedStatus(code int) { m.code = code }

type wrapper struct{ http.ResponseWriter }

func (w *wrapper) Unwrap() http.ResponseWriter { return w.ResponseWriter }
