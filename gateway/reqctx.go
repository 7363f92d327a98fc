package gateway

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// reqCtx is the context of a request H1Server serves: cancelled when the
// request ends or its client goes away, with the values of the
// connection's context. It does what context.WithCancel does, for less:
// the done channel is made only when someone asks for it, and the one
// waiter every forwarded call has — the upstream connection, which must
// stop reading when the client has gone — registers without an
// allocation (onCancel), where context.AfterFunc costs four (its context,
// its stop function, the parent's channel and children map).
//
// It implements AfterFunc, which the context package uses for the
// children of a context it does not know (context.WithDeadline(r.Context())
// and the like): they register here instead of each getting a goroutine.
type reqCtx struct {
	parent context.Context
	// call is the request's forwarded call while the proxy runs, so that
	// the proxy finds it in the request's own context (forward needs no
	// copy of the request to carry it).
	call atomic.Pointer[fwdCall]
	// header is the request's header map as the server parsed it, when
	// the proxy would strip nothing from it but keep-alive's fields
	// (keepAlive says whether it has them): forward may hand it to the
	// outbound request whole (handOver).
	header    http.Header
	keepAlive bool

	mu sync.Mutex
	ch chan struct{} // the done channel, made on the first Done
	// done points at ch once it is made; cancelled is set by cancel:
	// both read without the lock (Err and Done run several times per call).
	done      atomic.Pointer[chan struct{}]
	cancelled atomic.Bool
	// waiter is unblocked when the context is cancelled; at most one.
	waiter unblocker
	funcs  []*ctxFunc
}

// unblocker is what cancelling a request does to the upstream connection
// it waits on: make its pending read or write return at once.
type unblocker interface{ unblock() }

type ctxFunc struct {
	f    func()
	done bool // ran or stopped
}

// closedChan is the done channel of a context cancelled before anyone
// asked for one.
var closedChan = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

func newReqCtx(parent context.Context) *reqCtx { return &reqCtx{parent: parent} }

// Deadline implements context.Context: a request has none of its own.
func (c *reqCtx) Deadline() (time.Time, bool) { return c.parent.Deadline() }

// Done implements context.Context.
func (c *reqCtx) Done() <-chan struct{} {
	if d := c.done.Load(); d != nil {
		return *d
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ch == nil {
		if c.cancelled.Load() {
			c.ch = closedChan
		} else {
			c.ch = make(chan struct{})
		}
		c.done.Store(&c.ch)
	}
	return c.ch
}

// Err implements context.Context.
func (c *reqCtx) Err() error {
	if c.cancelled.Load() {
		return context.Canceled
	}
	return nil
}

// Value implements context.Context.
func (c *reqCtx) Value(key any) any {
	switch key.(type) {
	case fwdKey:
		if call := c.call.Load(); call != nil {
			return call
		}
		return nil
	case reqCtxKey:
		return c
	}
	return c.parent.Value(key)
}

// reqCtxKey finds a request's reqCtx under the contexts derived from it.
type reqCtxKey struct{}

// cancel ends the context: the done channel closes, the waiter is
// unblocked and AfterFunc functions start, each in its own goroutine.
// Later calls do nothing.
func (c *reqCtx) cancel() {
	c.mu.Lock()
	if c.cancelled.Load() {
		c.mu.Unlock()
		return
	}
	c.cancelled.Store(true)
	if c.ch != nil {
		close(c.ch)
	}
	w, funcs := c.waiter, c.funcs
	c.waiter, c.funcs = nil, nil
	for _, f := range funcs {
		f.done = true
	}
	c.mu.Unlock()
	if w != nil {
		w.unblock()
	}
	for _, f := range funcs {
		go f.f()
	}
}

// onCancel makes w the waiter. It returns false, leaving w alone, when the
// context is already cancelled.
func (c *reqCtx) onCancel(w unblocker) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cancelled.Load() {
		return false
	}
	c.waiter = w
	return true
}

// stopWaiting unregisters w. It returns false when cancel took w first
// (w is or will be unblocked: its connection is not to be reused).
func (c *reqCtx) stopWaiting(w unblocker) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.waiter != w {
		return false
	}
	c.waiter = nil
	return true
}

// AfterFunc arranges for f to run in its own goroutine once the context is
// cancelled, as context.AfterFunc promises: stop unregisters it and
// reports whether that kept f from running.
func (c *reqCtx) AfterFunc(f func()) (stop func() bool) {
	cf := &ctxFunc{f: f}
	c.mu.Lock()
	if c.cancelled.Load() {
		cf.done = true
		c.mu.Unlock()
		go f()
	} else {
		c.funcs = append(c.funcs, cf)
		c.mu.Unlock()
	}
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		if cf.done {
			return false
		}
		cf.done = true
		for i, x := range c.funcs {
			if x == cf {
				c.funcs = append(c.funcs[:i], c.funcs[i+1:]...)
				break
			}
		}
		return true
	}
}

// cancelWatch ties an upstream connection to its call's context for the
// time the transport uses it.
type cancelWatch struct {
	rc    *reqCtx     // the request's own context: no allocation
	w     unblocker   // registered with rc
	stop  func() bool // context.AfterFunc's, for any other context
	fired bool        // the context was over before the watch began
}

// watchCancel starts unblocking w when ctx is cancelled.
func watchCancel(ctx context.Context, w unblocker) cancelWatch {
	rc := requestCtx(ctx)
	if rc != nil {
		if rc.onCancel(w) {
			return cancelWatch{rc: rc, w: w}
		}
		w.unblock()
		return cancelWatch{fired: true}
	}
	if ctx.Done() == nil {
		return cancelWatch{}
	}
	return cancelWatch{stop: context.AfterFunc(ctx, w.unblock)}
}

// end stops the watch. It reports false when the context's cancellation
// got there first: the connection was (or is being) unblocked.
func (cw *cancelWatch) end() bool {
	switch {
	case cw.fired:
		return false
	case cw.rc != nil:
		rc := cw.rc
		cw.rc = nil
		return rc.stopWaiting(cw.w)
	case cw.stop != nil:
		stop := cw.stop
		cw.stop = nil
		return stop()
	}
	return true
}

// requestCtx finds the reqCtx ctx derives from when ctx ends exactly
// when it does — ctx is the reqCtx, the fwdCall over it, or carries
// values over them (httputil.ReverseProxy adds a client trace) — else
// nil: a context with a deadline or a cancel of its own ends sooner.
func requestCtx(ctx context.Context) *reqCtx {
	rc, _ := ctx.Value(reqCtxKey{}).(*reqCtx)
	if rc == nil || ctx.Done() != rc.Done() {
		return nil
	}
	return rc
}
