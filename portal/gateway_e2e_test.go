package portal_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/portico-dev/portico/billing"
	"github.com/portico-dev/portico/gateway"
	"github.com/portico-dev/portico/gateway/backendsig"
	"github.com/portico-dev/portico/gateway/sigv4"
	"github.com/portico-dev/portico/portal/gwconfig"
)

// TestGatewayEndToEnd: a provider publishes an API backed by a real
// upstream, a partner subscribes and signs a call with its AK/SK; the
// gateway verifies it, checks the subscription, strips the credentials and
// forwards with a backend signature the upstream verifies. Revoking the key
// or cancelling the subscription takes effect on the next reload.
func TestGatewayEndToEnd(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		var backendSecret []byte
		type seen struct {
			path, query, auth, consumer string
			verr                        error
		}
		got := make(chan seen, 10)
		upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			sum := sha256.Sum256(b)
			_, verr := backendsig.Verify(r, map[string][]byte{strings.SplitN(strings.TrimPrefix(r.Header.Get(backendsig.HeaderSignature), "keyId="), ",", 2)[0]: backendSecret}, hex.EncodeToString(sum[:]), time.Now())
			got <- seen{r.URL.EscapedPath(), r.URL.RawQuery, r.Header.Get("Authorization"), r.Header.Get(backendsig.HeaderConsumer), verr}
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"temp_c":18.5}`))
		}))
		defer upstream.Close()

		prov, _ := e.signUp("Paula", "paula@example.com", "acme")
		expectStatus(t, e.call("POST", "/api/v1/orgs/acme/apis", prov, map[string]any{"slug": "weather", "name": "Weather", "visibility": "public"}), http.StatusCreated)
		r := e.call("POST", "/api/v1/orgs/acme/apis/weather/versions", prov, map[string]any{
			"version": "v1", "upstream": map[string]any{"targets": []any{map[string]any{"url": upstream.URL + "/base"}}},
			"operations": []any{map[string]any{"method": "GET", "path": "/forecast"}, map[string]any{"method": "POST", "path": "/reports/{id}"}},
		})
		expectStatus(t, r, http.StatusCreated)
		backendSecret = []byte(r.json(t)["backend_key"].(map[string]any)["secret"].(string))
		expectStatus(t, e.call("POST", "/api/v1/orgs/acme/apis/weather/versions/v1/deployments", prov, map[string]any{"environment": "production"}), http.StatusCreated)
		expectStatus(t, e.call("POST", "/api/v1/orgs/acme/apis/weather/plans", prov, map[string]any{"slug": "free", "name": "Free", "currency": "usd", "included_calls": 1000, "versions": []string{"v1"}}), http.StatusCreated)
		expectStatus(t, e.call("POST", "/api/v1/orgs/acme/apis/weather/plans/free/publish", prov, nil), http.StatusOK)

		part, partnerOrg := e.signUp("Pat", "pat@example.com", "partner")
		app := e.call("POST", "/api/v1/orgs/partner/apps", part, map[string]any{"name": "Widget"}).json(t)["id"].(string)
		r = e.call("POST", "/api/v1/orgs/partner/apps/"+app+"/keys", part, nil)
		ak, sk := r.json(t)["access_key"].(string), r.json(t)["secret_key"].(string)

		store := gateway.NewStore(nil)
		rl := gwconfig.NewReloader(store, nil)
		rl.Sources = gwconfig.Sources{Catalog: e.cat, Plans: e.plans, Tenants: e.svc}
		if err := rl.Reload(ctx); err != nil {
			t.Fatal(err)
		}
		ledger := billing.NewLedger(e.db.DB, time.Hour, nil, e.svc.TouchKeys)
		h, err := gateway.NewHandler(store, gateway.Options{Region: "local", Meter: ledger, AllowPrivateUpstreams: true})
		if err != nil {
			t.Fatal(err)
		}
		gw := httptest.NewServer(h)
		defer gw.Close()

		var header http.Header // of the last call's answer
		call := func(method, path, body string) (int, map[string]any) {
			t.Helper()
			req, _ := http.NewRequest(method, gw.URL+path, strings.NewReader(body))
			if err := (&sigv4.Signer{Region: "local"}).Sign(req, ak, sk, "", time.Now()); err != nil {
				t.Fatal(err)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			header = res.Header
			b, _ := io.ReadAll(res.Body)
			var m map[string]any
			json.Unmarshal(b, &m)
			return res.StatusCode, m
		}

		// Not subscribed yet.
		if st, m := call("GET", "/acme/weather/v1/forecast?city=Paris", ""); st != 403 || !strings.HasSuffix(m["type"].(string), "/no-subscription") {
			t.Fatalf("before subscribing: %d %v", st, m)
		}
		r = e.call("POST", "/api/v1/orgs/partner/subscriptions", part, map[string]any{"app": app, "api": "acme/weather", "version": "v1", "plan": "free"})
		expectStatus(t, r, http.StatusCreated)
		sub := r.json(t)["id"].(string)
		rl.Reload(ctx)

		st, m := call("GET", "/acme/weather/v1/forecast?city=Paris&days=3", "")
		if st != 200 || m["temp_c"] != 18.5 {
			t.Fatalf("signed call: %d %v", st, m)
		}
		s := <-got
		if s.path != "/base/forecast" || s.query != "city=Paris&days=3" || s.auth != "" || s.consumer != partnerOrg || s.verr != nil {
			t.Fatalf("upstream saw %+v", s)
		}
		if st, _ := call("POST", "/acme/weather/v1/reports/r%201", `{"ok":true}`); st != 200 {
			t.Fatalf("signed POST: %d", st)
		}
		if s := <-got; s.path != "/base/reports/r%201" || s.verr != nil {
			t.Fatalf("upstream saw %+v", s)
		}
		// Both answered calls are in the ledger, for the partner and the
		// provider alike.
		if err := ledger.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		for _, who := range []struct{ org, tok string }{{"partner", part}, {"acme", prov}} {
			r := e.call("GET", "/api/v1/orgs/"+who.org+"/subscriptions/"+sub+"/usage", who.tok, nil)
			expectStatus(t, r, http.StatusOK)
			u := r.json(t)
			if u["calls"] != float64(2) || u["billable"] != float64(2) || len(u["by_day"].([]any)) != 1 {
				t.Fatalf("%s usage = %s", who.org, r.Body)
			}
			// A date as "to" includes that day: the calls' day alone holds
			// both calls, the day before none.
			today := u["by_day"].([]any)[0].(map[string]any)["day"].(string)
			d, _ := time.Parse(time.DateOnly, today)
			yesterday := d.AddDate(0, 0, -1).Format(time.DateOnly)
			r = e.call("GET", "/api/v1/orgs/"+who.org+"/subscriptions/"+sub+"/usage?from="+today+"&to="+today, who.tok, nil)
			expectStatus(t, r, http.StatusOK)
			if u := r.json(t); u["calls"] != float64(2) {
				t.Fatalf("%s usage of today alone = %s", who.org, r.Body)
			}
			r = e.call("GET", "/api/v1/orgs/"+who.org+"/subscriptions/"+sub+"/usage?from="+yesterday+"&to="+yesterday, who.tok, nil)
			expectStatus(t, r, http.StatusOK)
			if u := r.json(t); u["calls"] != float64(0) {
				t.Fatalf("%s usage of yesterday = %s", who.org, r.Body)
			}
			// A "to" alone ends the default 30 days: 40 days back is no error.
			r = e.call("GET", "/api/v1/orgs/"+who.org+"/subscriptions/"+sub+"/usage?to="+d.AddDate(0, 0, -40).Format(time.DateOnly), who.tok, nil)
			expectStatus(t, r, http.StatusOK)
		}
		if st, m := call("DELETE", "/acme/weather/v1/forecast", ""); st != 405 {
			t.Fatalf("wrong method: %d %v", st, m)
		}
		if st, _ := call("GET", "/acme/weather/v2/forecast", ""); st != 404 {
			t.Fatalf("unknown version: %d", st)
		}

		if st, _ := call("GET", "/acme/weather/v1/forecast", ""); st != 200 {
			t.Fatalf("published version: %d", st)
		}
		<-got
		if header.Get("Deprecation") != "" || header.Get("Sunset") != "" {
			t.Fatalf("a published version's answer is marked deprecated: %v", header)
		}

		// Deprecating the version: answers carry the deprecation date
		// (RFC 9745) and the sunset date (RFC 8594) after the next reload.
		before := time.Now().Add(-time.Second).Unix()
		expectStatus(t, e.call("POST", "/api/v1/orgs/acme/apis/weather/versions/v1/deprecate", prov, map[string]any{"sunset_at": "2099-01-01"}), http.StatusOK)
		after := time.Now().Add(time.Second).Unix()
		rl.Reload(ctx)
		if st, _ := call("GET", "/acme/weather/v1/forecast", ""); st != 200 {
			t.Fatalf("deprecated version: %d", st)
		}
		<-got
		dep, err := strconv.ParseInt(strings.TrimPrefix(header.Get("Deprecation"), "@"), 10, 64)
		if !strings.HasPrefix(header.Get("Deprecation"), "@") || err != nil || dep < before || dep > after {
			t.Fatalf("Deprecation = %q, want @<unix time between %d and %d>", header.Get("Deprecation"), before, after)
		}
		if want := time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC).Format(http.TimeFormat); header.Get("Sunset") != want {
			t.Fatalf("Sunset = %q, want %q", header.Get("Sunset"), want)
		}

		// Cancelling the subscription, then revoking the key, take effect
		// on the next reload.
		expectStatus(t, e.call("DELETE", "/api/v1/orgs/partner/subscriptions/"+sub, part, nil), http.StatusOK)
		rl.Reload(ctx)
		if st, _ := call("GET", "/acme/weather/v1/forecast", ""); st != 403 {
			t.Fatalf("after cancelling: %d", st)
		}
		expectStatus(t, e.call("DELETE", "/api/v1/orgs/partner/apps/"+app+"/keys/"+ak, part, nil), http.StatusNoContent)
		rl.Reload(ctx)
		if st, m := call("GET", "/acme/weather/v1/forecast", ""); st != 403 || !strings.HasSuffix(m["type"].(string), "/invalid-access-key") {
			t.Fatalf("after revoking: %d %v", st, m)
		}
	})
}
