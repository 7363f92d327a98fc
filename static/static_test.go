package static

import (
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"testing"
)

func TestURL(t *testing.T) {
	versioned := regexp.MustCompile(`^/static/[a-z/.-]+\?v=[0-9a-f]{10}$`)
	for _, path := range []string{"css/portico.css", "js/portico.js", "img/logo.svg", "img/favicon.svg"} {
		t.Run(path, func(t *testing.T) {
			got := URL(path)
			if !versioned.MatchString(got) {
				t.Fatalf("URL(%q) = %q, want a versioned URL", path, got)
			}
			b, err := FS.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(b)
			want := "/static/" + path + "?v=" + hex.EncodeToString(sum[:])[:10]
			if got != want {
				t.Fatalf("URL(%q) = %q, want %q", path, got, want)
			}
			if again := URL("/" + path); again != got {
				t.Fatalf("URL with a leading slash = %q, want %q", again, got)
			}
		})
	}
}

func TestURLUnknownFile(t *testing.T) {
	if got, want := URL("css/missing.css"), "/static/css/missing.css"; got != want {
		t.Fatalf("URL of a missing file = %q, want %q", got, want)
	}
}
