package origin

import "testing"

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
