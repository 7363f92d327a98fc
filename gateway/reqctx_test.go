package gateway

import (
	"context"
	"errors"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

type ctxKey string

type countUnblock struct{ n atomic.Int32 }

func (u *countUnblock) unblock() { u.n.Add(1) }

func TestReqCtxCancel(t *testing.T) {
	parent := context.WithValue(context.Background(), ctxKey("k"), "v")
	c := newReqCtx(parent)
	if c.Err() != nil {
		t.Fatal("new context is done")
	}
	if c.Value(ctxKey("k")) != "v" {
		t.Fatal("parent's value lost")
	}
	done := c.Done()
	select {
	case <-done:
		t.Fatal("done before cancel")
	default:
	}
	c.cancel()
	c.cancel() // twice is harmless
	<-done
	if !errors.Is(c.Err(), context.Canceled) || !errors.Is(context.Cause(c), context.Canceled) {
		t.Fatalf("Err %v, Cause %v", c.Err(), context.Cause(c))
	}
	// Asked for after the cancel: already closed.
	late := newReqCtx(context.Background())
	late.cancel()
	<-late.Done()
}

func TestReqCtxWaiter(t *testing.T) {
	c := newReqCtx(context.Background())
	var u countUnblock
	cw := watchCancel(c, &u)
	if !cw.end() {
		t.Fatal("end before cancel: want stopped")
	}
	c.cancel()
	if u.n.Load() != 0 {
		t.Fatal("unregistered waiter was unblocked")
	}

	// Cancelled while waiting: unblocked, and end says so.
	c = newReqCtx(context.Background())
	cw = watchCancel(&fwdCall{Context: c}, &u)
	c.cancel()
	if u.n.Load() != 1 {
		t.Fatalf("unblocked %d times", u.n.Load())
	}
	if cw.end() {
		t.Fatal("end after cancel: want false (the connection was unblocked)")
	}

	// Already cancelled: unblocked at once.
	cw = watchCancel(c, &u)
	if u.n.Load() != 2 || cw.end() {
		t.Fatalf("watch of a cancelled context: unblocked %d, end true", u.n.Load())
	}

	// Any other context goes through context.AfterFunc.
	ctx, cancel := context.WithCancel(context.Background())
	cw = watchCancel(ctx, &u)
	cancel()
	deadline := time.Now().Add(5 * time.Second)
	for u.n.Load() != 3 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if u.n.Load() != 3 || cw.end() {
		t.Fatalf("AfterFunc path: unblocked %d", u.n.Load())
	}
	if cw := watchCancel(context.Background(), &u); !cw.end() {
		t.Fatal("a context never done: end must report stopped")
	}
}

// Children the context package derives from a reqCtx register with its
// AfterFunc: cancelled with it, stoppable, and no goroutine each.
func TestReqCtxChildren(t *testing.T) {
	c := newReqCtx(context.Background())
	before := runtime.NumGoroutine()
	var kids []context.Context
	for range 50 {
		k, cancel := context.WithDeadline(c, time.Now().Add(time.Hour))
		defer cancel()
		kids = append(kids, k)
	}
	if n := runtime.NumGoroutine(); n > before+5 {
		t.Fatalf("goroutines %d → %d: children should not each get one", before, n)
	}
	// One child stopped early leaves the list.
	k, cancel := context.WithCancel(c)
	cancel()
	<-k.Done()
	c.mu.Lock()
	if len(c.funcs) != 50 {
		t.Errorf("registered %d, want 50", len(c.funcs))
	}
	c.mu.Unlock()

	ran := make(chan struct{})
	stop := context.AfterFunc(c, func() { close(ran) })
	c.cancel()
	for _, k := range kids {
		select {
		case <-k.Done():
		case <-time.After(5 * time.Second):
			t.Fatal("child not cancelled with its parent")
		}
		if !errors.Is(k.Err(), context.Canceled) {
			t.Fatalf("child Err %v", k.Err())
		}
	}
	<-ran
	if stop() {
		t.Fatal("stop after the function ran: want false")
	}
	// AfterFunc on a cancelled context runs at once; stop cannot stop it.
	again := make(chan struct{})
	stop = c.AfterFunc(func() { close(again) })
	<-again
	if stop() {
		t.Fatal("stop of a function that ran: want false")
	}
	// Stopped in time: never runs.
	c2 := newReqCtx(context.Background())
	var n atomic.Int32
	stop = c2.AfterFunc(func() { n.Add(1) })
	if !stop() || stop() {
		t.Fatal("first stop true, second false")
	}
	c2.cancel()
	time.Sleep(10 * time.Millisecond)
	if n.Load() != 0 {
		t.Fatal("stopped function ran")
	}
}

// The transport's context is the request's under values the proxy adds
// (its client trace): found, so the watch costs no context.AfterFunc. A
// context that can end sooner is not.
func TestRequestCtxLookup(t *testing.T) {
	c := newReqCtx(context.Background())
	if requestCtx(c) != c || requestCtx(&fwdCall{Context: c}) != c {
		t.Fatal("the reqCtx itself or its fwdCall: not found")
	}
	call := &fwdCall{Context: c}
	c.call.Store(call)
	wrapped := context.WithValue(c, ctxKey("trace"), 1)
	if requestCtx(wrapped) != c || wrapped.Value(fwdKey{}) != call {
		t.Fatal("under a value: not found")
	}
	var u countUnblock
	if cw := watchCancel(wrapped, &u); cw.rc != c || !cw.end() {
		t.Fatal("under a value: the watch did not use the reqCtx")
	}
	sooner, cancel := context.WithTimeout(c, time.Hour)
	defer cancel()
	if requestCtx(sooner) != nil || requestCtx(&fwdCall{Context: sooner}) != nil {
		t.Fatal("a context with its own deadline passed for the request's")
	}
	if requestCtx(context.Background()) != nil {
		t.Fatal("found in a plain context")
	}
}
