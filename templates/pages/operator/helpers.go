package operator

import (
	"context"
	"io"
	"regexp"
	"strings"

	"github.com/a-h/templ"
)

// linkRE finds http(s) URLs in plain-text email bodies.
var linkRE = regexp.MustCompile(`https?://[^\s<>"'\x60]+`)

// linkified renders a plain-text email body with its http(s) URLs as links,
// escaping everything else. It writes no whitespace of its own, so it can
// sit inside <pre>.
func linkified(body string) templ.Component {
	return templ.ComponentFunc(func(_ context.Context, w io.Writer) error {
		var b strings.Builder
		rest := body
		for {
			loc := linkRE.FindStringIndex(rest)
			if loc == nil {
				b.WriteString(templ.EscapeString(rest))
				break
			}
			u := trimURL(rest[loc[0]:loc[1]])
			end := loc[0] + len(u)
			b.WriteString(templ.EscapeString(rest[:loc[0]]))
			b.WriteString(`<a href="`)
			b.WriteString(templ.EscapeString(string(templ.URL(u))))
			b.WriteString(`">`)
			b.WriteString(templ.EscapeString(u))
			b.WriteString(`</a>`)
			rest = rest[end:]
		}
		_, err := io.WriteString(w, b.String())
		return err
	})
}

// trimURL drops trailing punctuation that ends a sentence rather than the
// URL, and a closing parenthesis without an opening one.
func trimURL(u string) string {
	for len(u) > 0 {
		last := u[len(u)-1]
		switch {
		case strings.IndexByte(".,;:!?", last) >= 0:
			u = u[:len(u)-1]
		case last == ')' && strings.Count(u, "(") < strings.Count(u, ")"):
			u = u[:len(u)-1]
		case last == ']' && strings.Count(u, "[") < strings.Count(u, "]"):
			u = u[:len(u)-1]
		default:
			return u
		}
	}
	return u
}
