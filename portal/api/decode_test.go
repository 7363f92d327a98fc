package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/portico-dev/portico/tenants"
)

// decodeTarget has the shapes request bodies use: scalars, optional
// pointers, nested objects, arrays and maps.
type decodeTarget struct {
	Name    string            `json:"name"`
	Count   int               `json:"count"`
	Ratio   float64           `json:"ratio"`
	Enabled bool              `json:"enabled"`
	Note    *string           `json:"note"`
	Tags    []string          `json:"tags"`
	Labels  map[string]string `json:"labels"`
	Nested  *struct {
		Port uint16 `json:"port"`
		Role string `json:"role"`
	} `json:"nested"`
}

// decodeContext builds a gin context for a POST with body. limit > 0 wraps
// the body in http.MaxBytesReader as httpx.LimitBody does.
func decodeContext(t testing.TB, body []byte, contentType string, limit int64) *gin.Context {
	t.Helper()
	rec := httptest.NewRecorder()
	c, _ := gin.CreateTestContext(rec)
	r := httptest.NewRequest(http.MethodPost, "/api/v1/orgs", bytes.NewReader(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	if limit > 0 {
		r.Body = http.MaxBytesReader(rec, r.Body, limit)
	}
	c.Request = r
	return c
}

func TestDecode(t *testing.T) {
	gin.SetMode(gin.TestMode)
	tests := []struct {
		name        string
		body        string
		contentType string
		limit       int64
		wantCode    string // "" = success
		wantField   string
		wantMessage string
	}{
		{name: "valid object", body: `{"name":"acme","count":3,"tags":["a"],"nested":{"port":8080}}`, contentType: "application/json"},
		{name: "no content type", body: `{"name":"acme"}`},
		{name: "charset parameter", body: `{"name":"acme"}`, contentType: "application/json; charset=utf-8"},
		{name: "+json suffix", body: `{"name":"acme"}`, contentType: "application/merge-patch+json"},
		{name: "trailing whitespace", body: "{\"name\":\"acme\"}\n\t "},
		{name: "under the limit", body: `{"name":"acme"}`, limit: 64},
		{name: "form content type", body: `{"name":"acme"}`, contentType: "application/x-www-form-urlencoded", wantCode: tenants.EMalformed, wantMessage: "application/json"},
		{name: "text content type", body: `{"name":"acme"}`, contentType: "text/plain", wantCode: tenants.EMalformed},
		{name: "broken content type", body: `{"name":"acme"}`, contentType: "application/json; =", wantCode: tenants.EMalformed},
		{name: "empty body", body: "", wantCode: tenants.EMalformed, wantMessage: "empty"},
		{name: "whitespace body", body: "  \n", wantCode: tenants.EMalformed, wantMessage: "empty"},
		{name: "syntax error", body: `{"name":}`, wantCode: tenants.EMalformed, wantMessage: "byte"},
		{name: "ends early", body: `{"name":"ac`, wantCode: tenants.EMalformed},
		{name: "unknown field", body: `{"name":"acme","admin":true}`, wantCode: tenants.EMalformed, wantField: "admin"},
		{name: "unknown nested field", body: `{"nested":{"port":1,"evil":1}}`, wantCode: tenants.EMalformed, wantField: "evil"},
		{name: "string for number", body: `{"count":"3"}`, wantCode: tenants.EMalformed, wantField: "count", wantMessage: "number"},
		{name: "number for string", body: `{"name":3}`, wantCode: tenants.EMalformed, wantField: "name", wantMessage: "string"},
		{name: "object for array", body: `{"tags":{}}`, wantCode: tenants.EMalformed, wantField: "tags", wantMessage: "array"},
		{name: "array for object", body: `{"labels":[]}`, wantCode: tenants.EMalformed, wantField: "labels", wantMessage: "object"},
		{name: "string for bool", body: `{"enabled":"yes"}`, wantCode: tenants.EMalformed, wantField: "enabled", wantMessage: "boolean"},
		{name: "port out of range", body: `{"nested":{"port":70000}}`, wantCode: tenants.EMalformed, wantField: "nested.port"},
		{name: "array at top level", body: `[1,2]`, wantCode: tenants.EMalformed, wantMessage: "object"},
		{name: "string at top level", body: `"acme"`, wantCode: tenants.EMalformed, wantMessage: "object"},
		{name: "two objects", body: `{"name":"a"}{"name":"b"}`, wantCode: tenants.EMalformed, wantMessage: "after the JSON value"},
		{name: "trailing garbage", body: `{"name":"a"} x`, wantCode: tenants.EMalformed, wantMessage: "after the JSON value"},
		{name: "trailing bracket", body: `{"name":"a"}]`, wantCode: tenants.EMalformed, wantMessage: "after the JSON value"},
		{name: "over the limit", body: `{"name":"` + strings.Repeat("a", 100) + `"}`, limit: 32, wantCode: tenants.ETooLarge, wantMessage: "32 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var v decodeTarget
			err := decode(decodeContext(t, []byte(tt.body), tt.contentType, tt.limit), &v)
			if tt.wantCode == "" {
				if err != nil {
					t.Fatalf("decode(%q) = %v, want success", tt.body, err)
				}
				return
			}
			var te *tenants.Error
			if !errors.As(err, &te) {
				t.Fatalf("decode(%q) = %v (%T), want *tenants.Error", tt.body, err, err)
			}
			if te.Code != tt.wantCode {
				t.Errorf("code = %q, want %q (%v)", te.Code, tt.wantCode, err)
			}
			if tt.wantField != "" {
				if _, ok := te.Fields[tt.wantField]; !ok {
					t.Errorf("fields = %v, want one for %q", te.Fields, tt.wantField)
				}
			}
			if !strings.Contains(te.Message, tt.wantMessage) {
				t.Errorf("message %q does not contain %q", te.Message, tt.wantMessage)
			}
		})
	}

	t.Run("decoded values", func(t *testing.T) {
		var v decodeTarget
		body := `{"name":"acme","count":3,"ratio":0.5,"enabled":true,"note":"hi","tags":["a","b"],"labels":{"k":"v"},"nested":{"port":443,"role":"admin"}}`
		if err := decode(decodeContext(t, []byte(body), "application/json", 0), &v); err != nil {
			t.Fatal(err)
		}
		if v.Name != "acme" || v.Count != 3 || v.Ratio != 0.5 || !v.Enabled || v.Note == nil || *v.Note != "hi" ||
			len(v.Tags) != 2 || v.Labels["k"] != "v" || v.Nested == nil || v.Nested.Port != 443 || v.Nested.Role != "admin" {
			t.Fatalf("decoded %+v", v)
		}
	})
}

func FuzzDecode(f *testing.F) {
	gin.SetMode(gin.TestMode)
	seeds := []struct {
		body        string
		contentType string
		limit       uint16
	}{
		{`{"name":"acme","count":1}`, "application/json", 0},
		{`{"name":"acme"}`, "", 0},
		{`{"nested":{"port":1,"role":"x"},"tags":["a"],"labels":{"a":"b"}}`, "application/json; charset=utf-8", 0},
		{`{"unknown":1}`, "", 0},
		{`{"count":"x"}`, "", 0},
		{`{"nested":{"port":-1}}`, "", 0},
		{`{"name":"a"}{"name":"b"}`, "", 0},
		{`{"name":"a"} trailing`, "", 0},
		{`[`, "", 0},
		{``, "", 0},
		{`null`, "", 0},
		{`{"name":"` + strings.Repeat("x", 200) + `"}`, "application/json", 16},
		{`{"note":null,"nested":null}`, "application/problem+json", 0},
		{`{"name":"\ud800"}`, "", 0},
		{`{"Name":"case-insensitive key"}`, "", 0},
		{`{"name":"a"}`, "text/html", 0},
		{`{"name":"a"}`, "application/json; charset", 0},
		{"\xef\xbb\xbf{}", "", 0},
	}
	for _, s := range seeds {
		f.Add([]byte(s.body), s.contentType, s.limit)
	}
	f.Fuzz(func(t *testing.T, body []byte, contentType string, limit uint16) {
		if strings.ContainsAny(contentType, "\r\n") {
			return // not a header value a server could receive
		}
		var v decodeTarget
		err := decode(decodeContext(t, body, contentType, int64(limit)), &v)
		if err == nil {
			// Whatever the strict decoder accepts is one valid JSON value
			// within the limit.
			if !json.Valid(body) {
				t.Fatalf("decode accepted invalid JSON %q", body)
			}
			if limit > 0 && len(body) > int(limit) {
				t.Fatalf("decode accepted a %d-byte body over a %d-byte limit", len(body), limit)
			}
			return
		}
		te, ok := err.(*tenants.Error)
		if !ok {
			t.Fatalf("decode returned %T (%v), want *tenants.Error", err, err)
		}
		switch te.Code {
		case tenants.EMalformed:
		case tenants.ETooLarge:
			if limit == 0 || len(body) <= int(limit) {
				t.Fatalf("too_large for a %d-byte body with limit %d", len(body), limit)
			}
		default:
			t.Fatalf("decode returned code %q (%v), want malformed or too_large", te.Code, te)
		}
		if te.Message == "" {
			t.Fatal("error without a message")
		}
		for k := range te.Fields {
			if k == "" {
				t.Fatalf("field error with an empty field name: %v", te.Fields)
			}
		}
	})
}
