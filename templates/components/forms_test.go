package components

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/a-h/templ"
)

// TextArea is wired like Field: the label names it, help and error are
// announced through aria-describedby (with any extra ids after them), an
// error marks it invalid, children come before the box, and the value is
// escaped.
func TestTextArea(t *testing.T) {
	render := func(a Area, children templ.Component) string {
		t.Helper()
		var b strings.Builder
		ctx := context.Background()
		if children != nil {
			ctx = templ.WithChildren(ctx, children)
		}
		if err := TextArea(a).Render(ctx, &b); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	probs := templ.ComponentFunc(func(_ context.Context, w io.Writer) error {
		_, err := io.WriteString(w, `<ol id="spec-problems"></ol>`)
		return err
	})
	html := render(Area{ID: "spec", Name: "openapi_text", Label: "Document", Value: "a </textarea><b>", Help: "JSON or YAML",
		Error: "2 problems", DescribedBy: "spec-problems", Rows: 12, Optional: true, Mono: true,
		Attrs: templ.Attributes{"spellcheck": "false"}}, probs)
	for _, want := range []string{
		`<label for="spec">Document <span class="field-optional">(optional)</span></label>`,
		`<p class="field-help" id="spec-help">JSON or YAML</p>`,
		`<p class="field-error" id="spec-error"><span class="visually-hidden">Error:</span> 2 problems</p>`,
		`class="textarea textarea-mono"`, `id="spec"`, `name="openapi_text"`, `rows="12"`, `aria-invalid="true"`,
		`aria-describedby="spec-help spec-error spec-problems"`, `spellcheck="false"`,
		`>a &lt;/textarea&gt;&lt;b&gt;</textarea>`, `class="field field-invalid"`,
	} {
		if !strings.Contains(html, want) {
			t.Errorf("lacks %s\n%s", want, html)
		}
	}
	if strings.Index(html, `id="spec-problems"`) > strings.Index(html, "<textarea") {
		t.Errorf("children after the textarea:\n%s", html)
	}

	html = render(Area{ID: "d", Name: "description", Label: "Description", Required: true, Autofocus: true}, nil)
	for _, want := range []string{`rows="3"`, ` required`, ` autofocus`, `class="field"`} {
		if !strings.Contains(html, want) {
			t.Errorf("lacks %s\n%s", want, html)
		}
	}
	for _, not := range []string{"aria-describedby", "aria-invalid", "field-optional", "textarea-mono"} {
		if strings.Contains(html, not) {
			t.Errorf("has %s\n%s", not, html)
		}
	}
}
