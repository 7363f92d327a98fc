package gateway

import (
	"net"
	"net/http"
	"strconv"
	"testing"

	"github.com/portico-dev/portico/bench/loadgen"
)

// BenchmarkServer: what each server a plain gateway listener may run costs
// per keep-alive request on loopback, with a handler that answers 100
// bytes at once (client included, one connection per parallel goroutine).
func BenchmarkServer(b *testing.B) {
	body := make([]byte, 100)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Content-Length", "100")
		w.Write(body)
	})
	req := []byte("GET /acme/echo/v1/items/1 HTTP/1.1\r\nHost: gw.test\r\nUser-Agent: bench\r\nAccept: */*\r\n" +
		"Authorization: AWS4-HMAC-SHA256 Credential=PKTESTTESTTESTTEST01/20261126/local/apigw/aws4_request, SignedHeaders=host;x-amz-date, Signature=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\r\n" +
		"X-Amz-Date: 20261126T000000Z\r\n\r\n")
	for _, kind := range serverKinds {
		b.Run(kind, func(b *testing.B) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			srv, err := NewPlainServer(kind, h, ServerLimits{})
			if err != nil {
				b.Fatal(err)
			}
			go srv.Serve(ln)
			defer srv.Close()
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				c, err := loadgen.Dial(ln.Addr().String())
				if err != nil {
					b.Error(err)
					return
				}
				defer c.Close()
				for pb.Next() {
					if _, _, err := c.Do(req); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkSweep: one pass of H1Server's departure sweep over n open
// keep-alive connections, all idle but one in a hundred running a
// request.
func BenchmarkSweep(b *testing.B) {
	for _, n := range []int{1000, 10000, 50000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			s := sweepServer(n)
			b.ResetTimer()
			for range b.N {
				// Each pass sees every running request as a new one (its
				// sequence moved on), so no watch starts.
				b.StopTimer()
				for _, c := range s.conns {
					c.seq.Add(1)
				}
				b.StartTimer()
				s.sweepOnce()
			}
		})
	}
}

// BenchmarkSweepLockHeld: how long a sweep holds the server's lock, which
// is how long an accept may wait for it every WatchAfter (50 ms): the copy
// of the connection set, not the pass over it.
func BenchmarkSweepLockHeld(b *testing.B) {
	for _, n := range []int{1000, 10000, 50000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			s := sweepServer(n)
			b.ResetTimer()
			for range b.N {
				s.sweepBuf = s.connsCopy()[:0]
			}
		})
	}
}

// sweepServer is an H1Server holding n connections, one in a hundred
// running a request.
func sweepServer(n int) *H1Server {
	s := &H1Server{}
	for i := range n {
		c := &h1sConn{srv: s, at: i}
		c.state.Store(h1sIdle)
		if i%100 == 0 {
			c.state.Store(h1sActive)
		}
		s.conns = append(s.conns, c)
	}
	return s
}
