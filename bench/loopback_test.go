package bench

import (
	"bytes"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portico-dev/portico/bench/loadgen"
	"github.com/portico-dev/portico/gateway"
	"github.com/portico-dev/portico/gateway/sigv4"
)

// BenchmarkLoopback is the whole request path on loopback sockets, as
// bench/run drives it but in one process: clients on keep-alive
// connections send prepared signed requests (SmallKeys keys in rotation)
// to the gateway on its production server and listener settings, which
// forwards them to an upstream answering 100 bytes. Its time per request
// moves with the machine; what it is for is a repeatable count of work:
// under valgrind's callgrind with GOMAXPROCS=1 and
// GODEBUG=asyncpreemptoff=1 the instructions per request of two builds
// compare to a fraction of a percent, where two wrk runs on a shared
// machine differ by tens (bench/README.md, "Counting instructions").
//
// Besides full and public, two modes take the full chain apart: auth is the
// signed API with neither plan limits nor metering (SigV4, the subscription
// check, the backend signature with the consumer's facts), limits adds the
// rate limit and day quota back. full − limits is what metering costs,
// limits − auth the limits, auth − public authentication
// (bench/README.md, "Where the full chain's cost goes").
func BenchmarkLoopback(b *testing.B) {
	up := startLoopbackUpstream(b)
	for _, mode := range loopbackModes {
		b.Run(mode.name, func(b *testing.B) {
			addr := startLoopbackGateway(b, loopbackHandler(b, up, mode.limits, mode.meter))
			reqs := loopbackRequests(b, addr, mode.api, SmallKeys)
			var next atomic.Uint64
			b.SetParallelism(8) // connections per GOMAXPROCS
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				c, err := loadgen.Dial(addr)
				if err != nil {
					b.Error(err)
					return
				}
				defer c.Close()
				for pb.Next() {
					status, n, err := c.Do(reqs[next.Add(1)%uint64(len(reqs))])
					if err != nil || status != 200 || n != int64(len(upstreamBody)) {
						b.Errorf("status %d, %d bytes, %v", status, n, err)
						return
					}
				}
			})
		})
	}
}

// loopbackMode is one of BenchmarkLoopback's sub-benchmarks: the API it
// calls and whether plan limits and metering are on.
type loopbackMode struct {
	name, api     string
	limits, meter bool
}

// loopbackModes are BenchmarkLoopback's sub-benchmarks.
var loopbackModes = []loopbackMode{
	{"full", SignedAPI, true, true},
	{"public", PublicAPI, true, true},
	{"limits", SignedAPI, true, false},
	{"auth", SignedAPI, false, false},
}

// loopbackHandler is the benchmark gateway for the small configuration on
// upstream, its plans' limits and the usage ledger on or off. The ledger
// is flushed when the benchmark ends, not every few seconds: a flush is
// work per interval, not per request, and under callgrind the runs being
// compared take different times.
func loopbackHandler(tb testing.TB, upstream string, limits, meter bool) *gateway.Handler {
	cfg := SmallConfig(upstream, SmallKeys, time.Now())
	if !limits {
		for i := range cfg.Subscriptions {
			cfg.Subscriptions[i].Limits = gateway.Limits{}
		}
	}
	return newHandlerWith(tb, cfg, time.Hour, func(o *gateway.Options) {
		o.AllowPrivateUpstreams = true
		if !meter {
			o.Meter = nil
		}
	})
}

// startLoopbackUpstream serves 100-byte answers as bench/run's upstream
// does and returns its base URL.
func startLoopbackUpstream(tb testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Write(upstreamBody)
	}), IdleTimeout: 120 * time.Second}
	go srv.Serve(ln)
	tb.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

// startLoopbackGateway serves h as cmd/portico serves a plain gateway
// listener and returns its address.
func startLoopbackGateway(tb testing.TB, h http.Handler) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	s, err := gateway.NewPlainServer(gateway.LeanServer, h, gateway.DefaultServerLimits)
	if err != nil {
		tb.Fatal(err)
	}
	go s.Serve(gateway.SendTimeoutListener(ln, gateway.DefaultServerLimits.SendTimeout))
	tb.Cleanup(func() { s.Close() })
	return ln.Addr().String()
}

// loopbackRequests are n raw GETs to api through host, each signed with
// its own key, as bench/run's wrk script sends them.
func loopbackRequests(tb testing.TB, host, api string, n int) [][]byte {
	out := make([][]byte, n)
	now := time.Now()
	for i := range out {
		r, _ := http.NewRequest("GET", "http://"+host+"/"+Org+"/"+api+"/"+Version+"/items/"+strconv.Itoa(i), nil)
		if err := (&sigv4.Signer{Region: Region}).Sign(r, AccessKey(i), SecretKey(i), "", now); err != nil {
			tb.Fatal(err)
		}
		var b bytes.Buffer
		b.WriteString("GET " + r.URL.RequestURI() + " HTTP/1.1\r\nHost: " + host + "\r\n")
		r.Header.Write(&b)
		b.WriteString("\r\n")
		out[i] = b.Bytes()
	}
	return out
}
