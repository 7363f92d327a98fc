package portal_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/portico-dev/portico/billing"
	"github.com/portico-dev/portico/gateway"
	"github.com/portico-dev/portico/portal/gwconfig"
)

// TestAppCodeEndToEnd: a provider allows app codes on a version; a partner
// creates a code through the management API, and after a gateway reload a
// call carrying only X-Portico-App-Code reaches the backend — without the
// code — and is metered against the subscription. A version that does not
// allow codes refuses it; revoking the code takes effect on the next reload.
func TestAppCodeEndToEnd(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		got := make(chan http.Header, 10)
		upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			got <- r.Header.Clone()
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"ok":true}`))
		}))
		defer upstream.Close()

		prov, _ := e.signUp("Paula", "paula@example.com", "acme")
		expectStatus(t, e.call("POST", "/api/v1/orgs/acme/apis", prov, map[string]any{"slug": "kiosk", "name": "Kiosk", "visibility": "public"}), http.StatusCreated)
		for _, v := range []struct {
			name  string
			allow bool
		}{{"v1", true}, {"v2", false}} {
			r := e.call("POST", "/api/v1/orgs/acme/apis/kiosk/versions", prov, map[string]any{
				"version": v.name, "upstream": map[string]any{"targets": []any{map[string]any{"url": upstream.URL}}},
				"settings":   map[string]any{"allow_app_code": v.allow},
				"operations": []any{map[string]any{"method": "GET", "path": "/menu"}},
			})
			expectStatus(t, r, http.StatusCreated)
			expectStatus(t, e.call("POST", "/api/v1/orgs/acme/apis/kiosk/versions/"+v.name+"/deployments", prov, map[string]any{"environment": "production"}), http.StatusCreated)
		}
		expectStatus(t, e.call("POST", "/api/v1/orgs/acme/apis/kiosk/plans", prov, map[string]any{"slug": "free", "name": "Free", "currency": "usd", "included_calls": 1000, "versions": []string{"v1", "v2"}}), http.StatusCreated)
		expectStatus(t, e.call("POST", "/api/v1/orgs/acme/apis/kiosk/plans/free/publish", prov, nil), http.StatusOK)

		part, partnerOrg := e.signUp("Pat", "pat@example.com", "partner")
		app := e.call("POST", "/api/v1/orgs/partner/apps", part, map[string]any{"name": "Till"}).json(t)["id"].(string)
		r := e.call("POST", "/api/v1/orgs/partner/subscriptions", part, map[string]any{"app": app, "api": "acme/kiosk", "version": "v1", "plan": "free"})
		expectStatus(t, r, http.StatusCreated)
		sub := r.json(t)["id"].(string)
		r = e.call("POST", "/api/v1/orgs/partner/apps/"+app+"/codes", part, map[string]any{"name": "till 1"})
		expectStatus(t, r, http.StatusCreated)
		code, codeID, prefix := r.json(t)["code"].(string), r.json(t)["id"].(string), r.json(t)["prefix"].(string)
		if !strings.HasPrefix(code, prefix) || !strings.HasPrefix(prefix, "pac_") {
			t.Fatalf("created code: %s", r.Body)
		}
		if l := e.call("GET", "/api/v1/orgs/partner/apps/"+app+"/codes", part, nil); strings.Contains(string(l.Body), code) || !strings.Contains(string(l.Body), prefix) {
			t.Fatalf("listing: %s", l.Body)
		}

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
		call := func(path, code string) (int, string) {
			t.Helper()
			req, _ := http.NewRequest("GET", gw.URL+path, nil)
			req.Header.Set("X-Portico-App-Code", code)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			b, _ := io.ReadAll(res.Body)
			var m map[string]any
			json.Unmarshal(b, &m)
			typ, _ := m["type"].(string)
			return res.StatusCode, typ
		}

		if st, typ := call("/acme/kiosk/v1/menu", code); st != 200 {
			t.Fatalf("call with the code: %d %s", st, typ)
		}
		seen := <-got
		if seen.Get("X-Portico-App-Code") != "" || seen.Get("X-Portico-App") != app || seen.Get("X-Portico-Consumer") != partnerOrg {
			t.Fatalf("upstream saw %v", seen)
		}
		if st, typ := call("/acme/kiosk/v2/menu", code); st != 401 || !strings.HasSuffix(typ, "/app-code-not-allowed") {
			t.Fatalf("version without app codes: %d %s", st, typ)
		}
		if st, typ := call("/acme/kiosk/v1/menu", code+"x"); st != 401 || !strings.HasSuffix(typ, "/invalid-app-code") {
			t.Fatalf("wrong code: %d %s", st, typ)
		}

		// The call is in the ledger and the code's last use recorded.
		if err := ledger.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		u := e.call("GET", "/api/v1/orgs/partner/subscriptions/"+sub+"/usage", part, nil)
		if u.json(t)["calls"] != float64(1) {
			t.Fatalf("usage = %s", u.Body)
		}
		l := e.call("GET", "/api/v1/orgs/partner/apps/"+app+"/codes", part, nil).json(t)["items"].([]any)
		if l[0].(map[string]any)["last_used_at"] == nil {
			t.Fatalf("last use not recorded: %v", l)
		}

		expectStatus(t, e.call("DELETE", "/api/v1/orgs/partner/apps/"+app+"/codes/"+codeID, part, nil), http.StatusNoContent)
		if err := rl.Reload(ctx); err != nil {
			t.Fatal(err)
		}
		if st, typ := call("/acme/kiosk/v1/menu", code); st != 401 || !strings.HasSuffix(typ, "/invalid-app-code") {
			t.Fatalf("after revoking: %d %s", st, typ)
		}
	})
}
