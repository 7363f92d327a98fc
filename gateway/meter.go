package gateway

import (
	"bufio"
	"net"
	"net/http"
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
	Status         int
	Latency        time.Duration
	BytesIn        int64
	BytesOut       int64
	Billable       bool
}

// Meter receives usage events. Billing implements it; Record must not
// block (it aggregates in memory and flushes in the background).
type Meter interface {
	Record(UsageEvent)
}

// meteredWriter remembers the status and size of an answer.
type meteredWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
	// reason is the problem type of a rejection the gateway wrote.
	reason string
	// requestID, provider and api label the request's log line and metrics.
	requestID, provider, api string
	// clientIP is the caller's address for the access log.
	clientIP string
	// idValue and rateLimit back the values of the X-Portico-Request-Id
	// and RateLimit-Policy/RateLimit headers.
	idValue   [1]string
	rateLimit [2]string
	// end is when the answer was complete, read once for the usage
	// event and the metrics.
	end time.Time
	// kept holds the gateway's fields while 1xx answers are relayed.
	kept http.Header
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
		if w.kept == nil {
			h := w.ResponseWriter.Header()
			w.kept = make(http.Header, len(gatewayFields))
			for _, k := range gatewayFields {
				if v, ok := h[k]; ok {
					w.kept[k] = v
				}
			}
		}
		w.ResponseWriter.WriteHeader(code)
		return
	}
	if w.kept != nil {
		h := w.ResponseWriter.Header()
		for k, v := range w.kept {
			if _, ok := h[k]; !ok {
				h[k] = v
			}
		}
		w.kept = nil
	}
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// gatewayFields are the answer's fields the gateway sets before it
// forwards.
var gatewayFields = [...]string{RequestIDHeader, http.CanonicalHeaderKey(limits.HeaderPolicy), http.CanonicalHeaderKey(limits.HeaderRateLimit),
	"Deprecation", "Sunset"}

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
// tunnel would be metered as a 499.
func (w *meteredWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil && w.status == 0 {
		w.status = http.StatusSwitchingProtocols
	}
	return c, brw, err
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *meteredWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush passes flushes through for streamed answers.
func (w *meteredWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
