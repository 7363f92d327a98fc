package portal_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/portico-dev/portico/gateway/sigv4"
	"github.com/portico-dev/portico/portal/client"
)

// TestAPIAcceptsSigV4UserKeys: the management API accepts requests signed
// with a user's PU… key (the same verifier as the gateway), refuses app keys
// and explains a signature mismatch with the server's canonical request.
func TestAPIAcceptsSigV4UserKeys(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		tok, _ := e.signUp("Ada", "ada@example.com", "acme")
		r := e.call("POST", "/api/v1/keys", tok, map[string]any{"name": "ci"})
		expectStatus(t, r, http.StatusCreated)
		ak, sk := r.json(t)["access_key"].(string), r.json(t)["secret_key"].(string)
		app := e.call("POST", "/api/v1/orgs/acme/apps", tok, map[string]any{"name": "A"}).json(t)["id"].(string)
		r = e.call("POST", "/api/v1/orgs/acme/apps/"+app+"/keys", tok, nil)
		appAK, appSK := r.json(t)["access_key"].(string), r.json(t)["secret_key"].(string)

		signer := sigv4.Signer{Region: "local"}
		do := func(method, path, ak, sk string, body []byte, tamper func(*http.Request)) (int, map[string]any) {
			t.Helper()
			req, _ := http.NewRequest(method, e.srv.URL+path, bytes.NewReader(body))
			if body != nil {
				req.Header.Set("Content-Type", "application/json")
			}
			if err := signer.Sign(req, ak, sk, "", time.Now()); err != nil {
				t.Fatal(err)
			}
			if tamper != nil {
				tamper(req)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			b, _ := io.ReadAll(res.Body)
			var m map[string]any
			json.Unmarshal(b, &m)
			return res.StatusCode, m
		}
		if st, m := do("GET", "/api/v1/me", ak, sk, nil, nil); st != 200 || m["user"].(map[string]any)["email"] != "ada@example.com" {
			t.Fatalf("signed GET /me: %d %v", st, m)
		}
		if st, m := do("POST", "/api/v1/orgs/acme/apis", ak, sk, []byte(`{"slug":"signed","name":"Signed"}`), nil); st != 201 {
			t.Fatalf("signed POST: %d %v", st, m)
		}
		st, m := do("GET", "/api/v1/me?x=1", ak, sk, nil, func(r *http.Request) { r.URL.RawQuery = "x=2" })
		if st != 403 || !strings.HasSuffix(m["type"].(string), "/signature-mismatch") || m["canonical_request"] == nil || strings.Contains(strings.Join([]string{m["canonical_request"].(string), m["string_to_sign"].(string)}, ""), sk) {
			t.Fatalf("tampered request: %d %v", st, m)
		}
		// A body changed after signing a content hash is a signature mismatch.
		st, m = do("POST", "/api/v1/orgs/acme/apis", ak, sk, []byte(`{"slug":"x2","name":"X"}`), func(r *http.Request) {
			b := []byte(`{"slug":"x3","name":"X"}`)
			r.Body = io.NopCloser(bytes.NewReader(b))
			r.Header.Set("X-Amz-Content-Sha256", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
		})
		if st != 403 {
			t.Fatalf("tampered body: %d %v", st, m)
		}
		if st, m := do("GET", "/api/v1/me", appAK, appSK, nil, nil); st != 403 || !strings.HasSuffix(m["type"].(string), "/invalid-access-key") {
			t.Fatalf("app key on the management API: %d %v", st, m)
		}
		expectStatus(t, e.call("DELETE", "/api/v1/keys/"+ak, tok, nil), http.StatusNoContent)
		if st, _ := do("GET", "/api/v1/me", ak, sk, nil, nil); st != 403 {
			t.Fatalf("revoked key still works: %d", st)
		}
	})
}

// TestClientSignsWithAccessKey: the Go client's AK/SK mode (the same signer
// porticoctl uses) works against the real server, bodies included.
func TestClientSignsWithAccessKey(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		tok, _ := e.signUp("Ada", "ada@example.com", "acme")
		r := e.call("POST", "/api/v1/keys", tok, map[string]any{"name": "ci"})
		expectStatus(t, r, http.StatusCreated)
		c := client.New(e.srv.URL, client.WithAccessKey(r.json(t)["access_key"].(string), r.json(t)["secret_key"].(string), "local"))
		ctx := context.Background()
		me, err := c.Me(ctx)
		if err != nil || me.User.Email != "ada@example.com" {
			t.Fatalf("signed Me: %v %+v", err, me)
		}
		slug, name := "signed-api", "Signed API"
		if _, err := c.CreateAPI(ctx, "acme", client.APIRequest{Slug: &slug, Name: &name}); err != nil {
			t.Fatalf("signed CreateAPI: %v", err)
		}
		bad := client.New(e.srv.URL, client.WithAccessKey(r.json(t)["access_key"].(string), strings.Repeat("x", 40), "local"))
		_, err = bad.Me(ctx)
		if ce := client.AsError(err); ce == nil || ce.StatusCode != 403 || ce.CanonicalRequest == "" {
			t.Fatalf("wrong secret: %v", err)
		}
	})
}
