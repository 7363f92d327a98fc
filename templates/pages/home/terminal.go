package home

import (
	"context"
	"io"
	"strings"

	"github.com/a-h/templ"
)

// span is a run of text in the example terminal, with an optional class.
type span struct{ class, text string }

// terminalLines is the illustrative signed request on the landing page.
var terminalLines = [][]span{
	{{"t-comment", "# A partner calls an API through the gateway"}},
	{{"", "$ curl \\"}},
	{{"", "    -H "}, {"t-key", `"X-Access-Key: AK7Q2MZ4PN8R"`}, {"", " \\"}},
	{{"", "    -H "}, {"t-key", `"X-Timestamp: 2026-11-26T14:03:12Z"`}, {"", " \\"}},
	{{"", "    -H "}, {"t-key", `"X-Signature: 3f9a1c…e07b"`}, {"", " \\"}},
	{{"", "    https://gw.example.com/v1/forecast?city=Oslo"}},
	{},
	{{"t-ok", "HTTP/1.1 200 OK"}},
	{{"", "X-RateLimit-Remaining: "}, {"t-warn", "58"}},
	{{"", "X-Quota-Remaining: "}, {"t-warn", "9412"}},
	{},
	{{"", `{ "city": "Oslo", "forecast": [ … ] }`}},
}

// terminal renders terminalLines as <pre><code>, keeping the whitespace
// exact (templ collapses whitespace in template text, even inside <pre>).
func terminal() templ.Component {
	return templ.ComponentFunc(func(_ context.Context, w io.Writer) error {
		var b strings.Builder
		b.WriteString("<pre><code>")
		for i, line := range terminalLines {
			if i > 0 {
				b.WriteByte('\n')
			}
			for _, s := range line {
				if s.class != "" {
					b.WriteString(`<span class="` + s.class + `">`)
				}
				b.WriteString(templ.EscapeString(s.text))
				if s.class != "" {
					b.WriteString("</span>")
				}
			}
		}
		b.WriteString("</code></pre>")
		_, err := io.WriteString(w, b.String())
		return err
	})
}
