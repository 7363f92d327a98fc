// Package origin holds the rules for the web origins an API version lists
// for CORS: how many, how long a preflight may be cached, and the one form
// an origin is stored and compared in. The gateway, the catalog and
// porticoctl apply the same rules, and only this package's, so what one
// saves the others take.
package origin

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
)

const (
	// MaxOrigins is how many origins a version may list.
	MaxOrigins = 50
	// MaxAge is the longest preflight cache time, in seconds.
	MaxAge = 86400
	// DefaultMaxAge is the preflight cache time of a version that sets
	// none.
	DefaultMaxAge = 600
)

// Normalize returns the origin as browsers send it in the Origin
// header — "*", or scheme://host[:port] with scheme http or https, lower
// case, without the scheme's default port — and whether s is one: no user
// information, path (not even "/"), query or fragment.
func Normalize(s string) (string, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "*" {
		return s, true
	}
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok || (scheme != "http" && scheme != "https") || rest == "" || strings.ContainsAny(rest, "/?#@\\ \t") {
		return "", false
	}
	host, port := rest, ""
	if i := strings.LastIndexByte(rest, ':'); i >= 0 && !strings.HasSuffix(rest, "]") {
		host, port = rest[:i], rest[i+1:]
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 || port[0] == '0' || port[0] == '+' {
			return "", false
		}
	}
	if strings.HasPrefix(host, "[") {
		ip := net.ParseIP(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"))
		if !strings.HasSuffix(host, "]") || ip == nil || ip.To4() != nil {
			return "", false
		}
	} else if !validHostName(host) {
		return "", false
	}
	if (scheme == "http" && port == "80") || (scheme == "https" && port == "443") {
		port = ""
	}
	if port != "" {
		return scheme + "://" + host + ":" + port, true
	}
	return scheme + "://" + host, true
}

// validHostName reports whether h is a lower-case DNS name or IPv4 address
// as an origin carries it (browsers send internationalised names in their
// ASCII form).
func validHostName(h string) bool {
	if h == "" || len(h) > 253 || h[0] == '.' || h[len(h)-1] == '.' || strings.Contains(h, "..") {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// List writes each origin of list as Normalize does, drops blank and
// repeated ones, and checks the list as a version keeps it: at most
// MaxOrigins, and "*" only alone. Its error is a sentence for whoever
// wrote the list.
func List(list []string) ([]string, error) {
	var out []string
	for _, o := range list {
		if strings.TrimSpace(o) == "" {
			continue
		}
		n, ok := Normalize(o)
		if !ok {
			if len(o) > 80 {
				o = o[:80] + "…"
			}
			return nil, fmt.Errorf("%q is not an origin: use * alone, or scheme://host[:port] with http or https and nothing after the host or port.", o)
		}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	switch {
	case len(out) > MaxOrigins:
		return nil, fmt.Errorf("List at most %d origins.", MaxOrigins)
	case len(out) > 1 && slices.Contains(out, "*"):
		return nil, errors.New("* allows every origin: list it alone.")
	}
	return out, nil
}

// CheckMaxAge reports whether seconds is a preflight cache time a version
// may keep.
func CheckMaxAge(seconds int) error {
	if seconds < 0 || seconds > MaxAge {
		return fmt.Errorf("Use 0 to %d seconds.", MaxAge)
	}
	return nil
}
