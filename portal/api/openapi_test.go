package api

import (
	"log/slog"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
)

// TestOpenAPICoversRoutes keeps openapi.yaml and the router in step: every
// registered route is documented and every documented operation exists.
func TestOpenAPICoversRoutes(t *testing.T) {
	doc, _, err := Document()
	if err != nil {
		t.Fatal(err)
	}
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	Register(r, Deps{Logger: slog.Default()})
	param := regexp.MustCompile(`:([a-z_]+)`)
	registered := map[string]bool{}
	for _, ri := range r.Routes() {
		if strings.HasSuffix(ri.Path, "/*rest") {
			continue // the API's own 404
		}
		registered[ri.Method+" "+param.ReplaceAllString(ri.Path, "{$1}")] = true
	}
	documented := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented[method+" "+path] = true
		}
	}
	var missing, extra []string
	for k := range registered {
		if !documented[k] {
			missing = append(missing, k)
		}
	}
	for k := range documented {
		if !registered[k] {
			extra = append(extra, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 {
		t.Errorf("routes not in openapi.yaml: %v", missing)
	}
	if len(extra) > 0 {
		t.Errorf("openapi.yaml operations with no route: %v", extra)
	}
	if len(registered) < 15 {
		t.Fatalf("only %d routes registered; the walk is broken", len(registered))
	}
	for k := range documented {
		if strings.HasPrefix(k, http.MethodGet) && strings.Contains(k, "{org}") {
			return
		}
	}
	t.Fatal("no organisation-scoped GET documented")
}
