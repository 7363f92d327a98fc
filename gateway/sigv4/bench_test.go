package sigv4

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"
)

func benchVerifier(b *testing.B) *Verifier {
	return newTestVerifier(b)
}

func benchRun(b *testing.B, v *Verifier, r *http.Request) {
	b.Helper()
	ctx := context.Background()
	if _, err := v.Verify(ctx, r, "", VerifyOptions{}); err != nil { // warms the key cache
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := v.Verify(ctx, r, "", VerifyOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerify: header form, GET without query, warm key cache.
func BenchmarkVerify(b *testing.B) {
	benchRun(b, benchVerifier(b), signedServerRequest(b, "GET", base+"/acme/weather/v1/forecast", "", Signer{}))
}

// BenchmarkVerifyQueryHeaders: header form with a five-parameter query and
// two extra signed headers, warm key cache.
func BenchmarkVerifyQueryHeaders(b *testing.B) {
	r, _ := http.NewRequest("GET", base+"/acme/weather/v1/forecast?city=Paris&units=metric&days=5&lang=fr&q=a%20b", nil)
	r.Header.Set("Accept", "application/json")
	r.Header.Set("X-Request-Id", "req-123")
	(&Signer{}).Sign(r, testAK, testSecret, "", testTime)
	benchRun(b, benchVerifier(b), toServer(b, r))
}

// BenchmarkVerifyPresigned: presigned query form.
func BenchmarkVerifyPresigned(b *testing.B) {
	r, _ := http.NewRequest("GET", base+"/acme/weather/v1/forecast?city=Paris", nil)
	u, err := (&Signer{}).Presign(r, testAK, testSecret, "", testTime, time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	out, _ := http.NewRequest("GET", u, nil)
	benchRun(b, benchVerifier(b), toServer(b, out))
}

// BenchmarkVerifyParallel: header form from all CPUs, one shared verifier.
func BenchmarkVerifyParallel(b *testing.B) {
	v := benchVerifier(b)
	r := signedServerRequest(b, "GET", base+"/acme/weather/v1/forecast?city=Paris", "", Signer{})
	ctx := context.Background()
	if _, err := v.Verify(ctx, r, "", VerifyOptions{}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := v.Verify(ctx, r, "", VerifyOptions{}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkDeriveSigningKey: the cost of a key-cache miss (kDate → kRegion
// → kService → kSigning plus the HMAC pads).
func BenchmarkDeriveSigningKey(b *testing.B) {
	secret := []byte(testSecret)
	b.ReportAllocs()
	for b.Loop() {
		newSigningKey("", secret, "20260314", "local", "apigw")
	}
}

func BenchmarkSign(b *testing.B) {
	var s Signer
	b.ReportAllocs()
	for b.Loop() {
		r, _ := http.NewRequest("GET", base+"/acme/weather/v1/forecast?city=Paris", nil)
		if err := s.Sign(r, testAK, testSecret, EmptySHA256, testTime); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMemoryNoncesClaim(b *testing.B) {
	m := NewMemoryNonces(1 << 22)
	ctx := context.Background()
	nonces := make([]string, 1<<16)
	for i := range nonces {
		nonces[i] = NewNonce()
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		m.Claim(ctx, testAK, nonces[i&(len(nonces)-1)], time.Minute)
	}
}

// BenchmarkVerifyManyKeys: header form, 256 access keys in rotation, with
// the caches evicted between verifications as on a busy server. Before each
// Verify it reads the next 1 MiB of a 64 MiB buffer (so each key's data is
// long gone from every cache level when it comes round again) and then
// touches the request's headers (a server has just parsed them, so they
// are hot). ns/op is dominated by that eviction; verify-ns/op is the time
// spent in Verify alone, measured around each call.
func BenchmarkVerifyManyKeys(b *testing.B) {
	const nKeys = 256
	keys := mapKeys{}
	reqs := make([]*http.Request, nKeys)
	for i := range reqs {
		ak := fmt.Sprintf("PKBENCH%013d", i)
		secret := fmt.Sprintf("%040d", i*7919)
		keys[ak] = Credential{AccessKey: ak, Secret: []byte(secret), Owner: i, Active: true}
		r, _ := http.NewRequest("GET", base+"/acme/weather/v1/forecast", nil)
		if err := (&Signer{}).Sign(r, ak, secret, "", testTime); err != nil {
			b.Fatal(err)
		}
		reqs[i] = toServer(b, r)
	}
	v := newTestVerifier(b, func(c *Config) { c.Keys = keys })
	ctx := context.Background()
	for _, r := range reqs { // warm the key cache: every key hits from now on
		if _, err := v.Verify(ctx, r, "", VerifyOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	const ring, window = 64 << 20, 1 << 20
	junk := make([]byte, ring)
	for i := range junk {
		junk[i] = byte(i)
	}
	var sink int
	var spent time.Duration
	off := 0
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		for j := off; j < off+window; j += 64 {
			sink += int(junk[j])
		}
		off = (off + window) % ring
		r := reqs[i%nKeys]
		sink += len(r.Host) + len(r.RequestURI)
		for k, vs := range r.Header {
			sink += len(k)
			for _, s := range vs {
				sink += len(s) + int(s[0]) + int(s[len(s)-1])
			}
		}
		start := time.Now()
		_, err := v.Verify(ctx, r, "", VerifyOptions{})
		spent += time.Since(start)
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(spent.Nanoseconds())/float64(b.N), "verify-ns/op")
	if sink == 42 {
		b.Log(sink)
	}
}
