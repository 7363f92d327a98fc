package gateway

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/portico-dev/portico/gateway/limits"
)

// UsageEvent is one answered call, as metering records it.
type UsageEvent struct {
	Time           time.Time
	ProviderOrgID  string
	APIID          string
	Version        string
	OperationID    string
	PartnerOrgID   string
	AppID          string
	SubscriptionID string
	AccessKey      string
	// Status is the status the client was sent (499 when it left before
	// any answer).
	Status  int
	Latency time.Duration
	// BytesIn is the request body's declared length; for an upgrade, plus
	// what the client sent through the tunnel.
	BytesIn int64
	// BytesOut is the answer's body; for an upgrade, what the tunnel sent
	// to the client after the 101's head.
	BytesOut int64
	Billable bool
	// Broken: the answer broke off after its head, because the upstream
	// reset or stalled mid-body or because the client went away. Status
	// is still the one sent (the client had that head), but the call is
	// a failure, which the ledger counts as an error.
	Broken bool
	// Slot, when set, is the subscription's MeterSlot in the configuration
	// the call was served with.
	Slot *MeterSlot
}

// MeterSlot is where a Meter may keep what it found for a subscription, to
// find it again on the subscription's next call without a lookup by ID.
// The gateway holds one per subscription of each configuration it loads (a
// reload starts with empty ones) and passes it with the subscription's
// events; a meter must check that what it finds there is its own and
// still current. Every value stored in a slot must be of one type (a
// pointer to the meter's own entry): the slot is an atomic.Value, read
// without an allocation or an indirection of its own.
type MeterSlot struct{ v atomic.Value }

// Load returns what the slot holds, or nil.
func (s *MeterSlot) Load() any { return s.v.Load() }

// Store puts v in the slot.
func (s *MeterSlot) Store(v any) { s.v.Store(v) }

// Meter receives usage events. Billing implements it; Record must not
// block (it aggregates in memory and flushes in the background).
type Meter interface {
	Record(UsageEvent)
}

// labels are the provider and API slugs of the request's log line and
// metrics: "-" for a request routed to no API version.
func (w *meteredWriter) labels() (provider, api string) {
	if w.route == nil {
		return "-", "-"
	}
	return w.route.OrgSlug, w.route.APISlug
}

// meteredWriter remembers the status and size of an answer.
type meteredWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
	// reason is the problem type of a rejection the gateway wrote.
	reason string
	// requestID labels the request's log line; route is the API version it
	// was routed to (nil until then), whose provider and API label its log
	// line and metrics (labels).
	requestID string
	route     *APIVersion
	// clientIP is the caller's address for the access log.
	clientIP string
	// idValue and rateLimit back the values of the X-Portico-Request-Id
	// and RateLimit-Policy/RateLimit headers.
	idValue   [1]string
	rateLimit [2]string
	// end is when the answer was complete, read once for the usage
	// event and the metrics.
	end time.Time
	// odd is what only unusual answers need; apart, it keeps the common
	// answer's writer in its allocation size class.
	odd *oddAnswer
}

// oddAnswer is what a meteredWriter notes of the answers that are not a
// plain head and body.
type oddAnswer struct {
	// kept holds the gateway's fields while 1xx answers are relayed.
	kept http.Header
	// tunnel is the client's connection after an upgrade.
	tunnel *tunnelConn
	// broken: the answer broke off after its head (UsageEvent.Broken).
	broken bool
}

// oddOne returns w's oddAnswer, making it the first time.
func (w *meteredWriter) oddOne() *oddAnswer {
	if w.odd == nil {
		w.odd = &oddAnswer{}
	}
	return w.odd
}

// brokeOff notes that the answer broke off after its head, and why
// (the access log's reason). Without a head sent the call is a 499
// already, which needs no note.
func (w *meteredWriter) brokeOff(reason string) {
	if w.status == 0 {
		return
	}
	w.oddOne().broken = true
	w.reason = reason
}

// broken reports whether the answer broke off after its head.
func (w *meteredWriter) broken() bool { return w.odd != nil && w.odd.broken }

// bytesIn is what the client sent: the request body's declared length
// (negative when unknown) and, after an upgrade, the tunnel's bytes.
func (w *meteredWriter) bytesIn(r *http.Request) int64 {
	n := r.ContentLength
	if w.odd != nil && w.odd.tunnel != nil {
		n = max(n, 0) + w.odd.tunnel.in.Load()
	}
	return n
}

// bytesOut is what the client was sent: the answer's body and, after an
// upgrade, the tunnel's bytes.
func (w *meteredWriter) bytesOut() int64 {
	n := w.bytes
	if w.odd != nil && w.odd.tunnel != nil {
		n += w.odd.tunnel.out.Load()
	}
	return n
}

// ended returns end, reading the clock the first time.
func (w *meteredWriter) ended(now func() time.Time) time.Time {
	if w.end.IsZero() {
		w.end = now()
	}
	return w.end
}

// finalStatus is the status answered, or 499 when the client went away
// before any answer was written.
func (w *meteredWriter) finalStatus() int {
	if w.status == 0 {
		return 499
	}
	return w.status
}

func (w *meteredWriter) WriteHeader(code int) {
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		// An informational answer relayed from the upstream (103 Early
		// Hints): not the call's status, and httputil.ReverseProxy
		// clears the header map after relaying it, so the gateway's own
		// fields are kept for the final answer.
		if odd := w.oddOne(); odd.kept == nil {
			h := w.ResponseWriter.Header()
			odd.kept = make(http.Header, len(gatewayFields))
			for _, k := range gatewayFields {
				if v, ok := h[k]; ok {
					odd.kept[k] = v
				}
			}
		}
		w.ResponseWriter.WriteHeader(code)
		return
	}
	if w.odd != nil && w.odd.kept != nil {
		h := w.ResponseWriter.Header()
		for k, v := range w.odd.kept {
			if have, ok := h[k]; !ok {
				h[k] = v
			} else if k == "Vary" {
				h[k] = append(have[:len(have):len(have)], v...) // the backend's and the gateway's (CORS)
			}
		}
		w.odd.kept = nil
	}
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// gatewayFields are the answer's fields the gateway sets before it
// forwards.
var gatewayFields = [...]string{RequestIDHeader, http.CanonicalHeaderKey(limits.HeaderPolicy), http.CanonicalHeaderKey(limits.HeaderRateLimit),
	"Deprecation", "Sunset", "Access-Control-Allow-Origin", "Access-Control-Expose-Headers", "Vary"}

func (w *meteredWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Hijack takes the connection over for an upgrade. httputil.ReverseProxy
// writes the upstream's 101 on the hijacked connection itself, never
// through WriteHeader, so the call's status is noted here; without it a
// tunnel would be metered as a 499. The connection handed out counts the
// tunnel's bytes for the usage event, and so does the ReadWriter, which
// reads and writes through it: bytes the server had already read past the
// request (the client's first tunnel bytes) come first and count when they
// are read.
func (w *meteredWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return c, brw, err
	}
	t := &tunnelConn{Conn: c}
	if w.status == 0 {
		w.status = http.StatusSwitchingProtocols
	} else {
		t.head.Store(headDone) // the server sent the head before
	}
	if n := brw.Reader.Buffered(); n > 0 {
		b, _ := brw.Reader.Peek(n)
		t.early = bytes.Clone(b)
		t.hasEarly.Store(true)
	}
	brw.Reader.Reset(t)
	// Both servers hand over an empty writer; anything in it would be
	// theirs, not the tunnel's.
	brw.Writer.Flush()
	brw.Writer.Reset(t)
	w.oddOne().tunnel = t
	return t, brw, nil
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *meteredWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush passes flushes through for streamed answers.
func (w *meteredWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// headDone is tunnelConn.head once the 101's head has been written.
const headDone = 4

// tunnelConn is the client's connection of an upgrade, which the proxy
// takes over for the tunnel: it counts the bytes that cross it. The proxy
// copies each way in a goroutine of its own, so the counts are atomic;
// and Close waits for the reads and writes in progress, so that once the
// proxy closed the tunnel (before the handler returns and the usage event
// is recorded) the counts are final.
type tunnelConn struct {
	net.Conn
	// in and out count the bytes read from and written to the client,
	// less the 101's head: no answer's head is metered.
	in, out atomic.Int64
	// head is how much of the blank line that ends the 101's head
	// ("\r\n\r\n") has been written; headDone: all of it.
	head atomic.Int32
	// early are the bytes the server had read past the request, read
	// before the connection's; hasEarly is set while some are left.
	hasEarly atomic.Bool
	earlyMu  sync.Mutex
	early    []byte
	// ops is held shared by each read and write, and by Close
	// exclusively to set closed.
	ops    sync.RWMutex
	closed bool
}

// Read implements net.Conn.
func (c *tunnelConn) Read(p []byte) (int, error) {
	c.ops.RLock()
	defer c.ops.RUnlock()
	if c.closed {
		return 0, net.ErrClosed
	}
	if c.hasEarly.Load() {
		c.earlyMu.Lock()
		n := copy(p, c.early)
		c.early = c.early[n:]
		if len(c.early) == 0 {
			c.early = nil
			c.hasEarly.Store(false)
		}
		c.earlyMu.Unlock()
		if n > 0 {
			c.in.Add(int64(n))
			return n, nil
		}
	}
	n, err := c.Conn.Read(p)
	c.in.Add(int64(n))
	return n, err
}

// Write implements net.Conn.
func (c *tunnelConn) Write(p []byte) (int, error) {
	c.ops.RLock()
	defer c.ops.RUnlock()
	if c.closed {
		return 0, net.ErrClosed
	}
	n, err := c.Conn.Write(p)
	c.out.Add(int64(n - c.skipHead(p[:n])))
	return n, err
}

// skipHead returns how many bytes of b, just written, belong to the 101's
// head, which ends with the first blank line.
func (c *tunnelConn) skipHead(b []byte) int {
	m := c.head.Load()
	if m == headDone {
		return 0
	}
	const end = "\r\n\r\n"
	for i, x := range b {
		switch {
		case x == end[m]:
			m++
		case x == '\r':
			m = 1
		default:
			m = 0
		}
		if m == headDone {
			c.head.Store(m)
			return i + 1
		}
	}
	c.head.Store(m)
	return len(b)
}

// CloseWrite half-closes the connection when it can: the proxy does so
// when the upstream ended its side of the tunnel, and lets the other side
// finish. Otherwise it fails as net/http's 101 body does, and the proxy
// then ends the tunnel.
func (c *tunnelConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return fmt.Errorf("CloseWrite: %w", http.ErrNotSupported)
}

// Close implements net.Conn: it closes the connection, which ends the
// reads and writes in progress, and waits for them.
func (c *tunnelConn) Close() error {
	err := c.Conn.Close()
	c.ops.Lock()
	c.closed = true
	c.ops.Unlock()
	return err
}
