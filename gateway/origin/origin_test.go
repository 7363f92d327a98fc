package origin

import (
	"strings"
	"testing"
)

func TestNormalize(t *testing.T) {
	for in, want := range map[string]string{
		"*":                             "*",
		" HTTPS://App.Example.COM ":     "https://app.example.com",
		"https://app.example.com:443":   "https://app.example.com",
		"http://localhost:80":           "http://localhost",
		"http://localhost:3000":         "http://localhost:3000",
		"http://[::1]:8080":             "http://[::1]:8080",
		"http://127.0.0.1:8080":         "http://127.0.0.1:8080",
		"https://app.example.com/":      "",
		"https://app.example.com/x":     "",
		"https://app.example.com?q":     "",
		"ftp://app.example.com":         "",
		"app.example.com":               "",
		"https://user@app.example":      "",
		"https://app.example.com:0":     "",
		"https://app.example.com:99999": "",
		"https://app..example":          "",
		"https://":                      "",
		"**":                            "",
	} {
		got, ok := Normalize(in)
		if ok != (want != "") || got != want {
			t.Errorf("Normalize(%q) = %q, %t; want %q", in, got, ok, want)
		}
	}
}

// FuzzNormalize: what Normalize accepts it writes in a form it accepts
// unchanged.
func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"*", "https://App.example.com:443", "http://[::1]:80", "http://a.b:8080/", "https://x?y", "HTTP://1.2.3.4"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, ok := Normalize(s)
		if !ok {
			return
		}
		if again, ok := Normalize(n); !ok || again != n {
			t.Fatalf("%q → %q → %q, %t", s, n, again, ok)
		}
	})
}

// List normalises, drops blanks and repeats, and checks the list as a
// whole; its errors say which rule failed.
func TestList(t *testing.T) {
	got, err := List([]string{" HTTPS://App.Example.com:443", "", "http://localhost:3000", "https://app.example.com"})
	if err != nil || len(got) != 2 || got[0] != "https://app.example.com" || got[1] != "http://localhost:3000" {
		t.Fatalf("List = %q, %v", got, err)
	}
	if got, err := List([]string{" ", ""}); err != nil || got != nil {
		t.Fatalf("blanks: %q, %v", got, err)
	}
	many := make([]string, MaxOrigins+1)
	for i := range many {
		many[i] = "https://a" + string(rune('a'+i%26)) + string(rune('a'+i/26)) + ".example"
	}
	for in, want := range map[string][]string{
		"is not an origin":        {"https://app.example.com/x"},
		"list it alone":           {"*", "https://app.example.com"},
		"List at most 50 origins": many,
	} {
		if _, err := List(want); err == nil || !strings.Contains(err.Error(), in) {
			t.Errorf("%q: err = %v, want %q", want[0], err, in)
		}
	}
	for s, ok := range map[int]bool{-1: false, 0: true, MaxAge: true, MaxAge + 1: false} {
		if err := CheckMaxAge(s); (err == nil) != ok {
			t.Errorf("CheckMaxAge(%d) = %v", s, err)
		}
	}
}
