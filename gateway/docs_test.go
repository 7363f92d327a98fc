package gateway

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// TestDocsListEveryProblem keeps docs/gateway.md's table of refusals true:
// every problem code the gateway's code can answer with is documented, and
// the table names no code the gateway no longer uses.
func TestDocsListEveryProblem(t *testing.T) {
	doc, err := os.ReadFile("../docs/gateway.md")
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `([a-z-]+)` \\| [0-9]{3} \\|").FindAllSubmatch(doc, -1) {
		documented[string(m[1])] = true
	}
	inCode := map[string]bool{}
	patterns := []*regexp.Regexp{
		regexp.MustCompile(`(?:problem|writeProblem)\(w, http\.Status[A-Za-z]+, "([a-z-]+)"`),
		regexp.MustCompile(`Code[A-Za-z]+ += "([a-z-]+)"`),
		regexp.MustCompile(`Type[A-Za-z]+ += "([a-z-]+)"`),
		regexp.MustCompile(`(?:RateLimited|QuotaExceeded) +Reason = "([a-z-]+)"`),
	}
	files, _ := filepath.Glob("*.go")
	more, _ := filepath.Glob("*/*.go")
	for _, f := range append(files, more...) {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, re := range patterns {
			for _, m := range re.FindAllSubmatch(src, -1) {
				inCode[string(m[len(m)-1])] = true
			}
		}
	}
	var missing, stale []string
	for c := range inCode {
		if !documented[c] {
			missing = append(missing, c)
		}
	}
	for c := range documented {
		if !inCode[c] {
			stale = append(stale, c)
		}
	}
	sort.Strings(missing)
	sort.Strings(stale)
	if len(missing) > 0 || len(stale) > 0 {
		t.Fatalf("docs/gateway.md: undocumented problem codes %v; documented but unused %v", missing, stale)
	}
	if len(inCode) < 30 {
		t.Fatalf("found only %d problem codes in the code: the patterns no longer match it", len(inCode))
	}
}
