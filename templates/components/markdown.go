package components

import (
	"bytes"
	"context"
	"io"
	"net/url"
	"strings"

	"github.com/a-h/templ"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/text"
	"github.com/yuin/goldmark/util"
)

// markdown converts provider-written Markdown (API descriptions) to HTML
// that is safe to put on a page anyone may read:
//
//   - raw HTML is never passed through (goldmark without WithUnsafe drops it);
//   - links keep only http, https, mailto and relative destinations, and get
//     rel="nofollow noopener"; anything else becomes plain text;
//   - images become links to the image: the Content-Security-Policy allows
//     same-origin images only, and a third-party image would tell its host
//     who reads the page;
//   - headings start at <h3>, under the page's own <h1> and <h2>;
//   - tables carry no style="" alignment (the CSP forbids inline styles).
//
// Task lists are left out on purpose: they render unlabelled checkboxes.
var markdown = goldmark.New(
	goldmark.WithExtensions(
		extension.Strikethrough,
		extension.Linkify,
		extension.NewTable(extension.WithTableCellAlignMethod(extension.TableCellAlignNone)),
	),
	goldmark.WithParserOptions(parser.WithASTTransformers(util.Prioritized(safeMarkdown{}, 100))),
)

// Markdown renders src (untrusted Markdown) as sanitised HTML inside
// <div class="markdown">; see markdown above for what is allowed.
func Markdown(src string) templ.Component {
	return templ.ComponentFunc(func(_ context.Context, w io.Writer) error {
		var buf bytes.Buffer
		buf.WriteString(`<div class="markdown">`)
		if err := markdown.Convert([]byte(src), &buf); err != nil {
			// Never fall back to the raw source as HTML.
			buf.Reset()
			buf.WriteString(`<div class="markdown"><p class="prewrap">` + templ.EscapeString(src) + `</p>`)
		}
		buf.WriteString(`</div>`)
		_, err := w.Write(buf.Bytes())
		return err
	})
}

// safeMarkdown rewrites the parsed document as described on markdown.
type safeMarkdown struct{}

// linkRel is what every link in rendered Markdown carries.
var linkRel = []byte("nofollow noopener")

func (safeMarkdown) Transform(doc *ast.Document, reader text.Reader, _ parser.Context) {
	source := reader.Source()
	var unlink, images []ast.Node
	_ = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		switch n := n.(type) {
		case *ast.Heading:
			n.Level = min(n.Level+2, 6)
		case *ast.Link:
			if !safeDestination(n.Destination) {
				unlink = append(unlink, n)
				break
			}
			n.SetAttributeString("rel", linkRel)
		case *ast.AutoLink:
			u := string(n.URL(source))
			if n.AutoLinkType == ast.AutoLinkEmail && !strings.HasPrefix(strings.ToLower(u), "mailto:") {
				u = "mailto:" + u
			}
			if !SafeLink(u) {
				unlink = append(unlink, n)
				break
			}
			n.SetAttributeString("rel", linkRel)
		case *ast.Image:
			images = append(images, n)
		}
		return ast.WalkContinue, nil
	})
	for _, n := range images {
		img := n.(*ast.Image)
		if !safeDestination(img.Destination) || insideLink(img) {
			unlink = append(unlink, img) // keep the alt text
			continue
		}
		link := ast.NewLink()
		link.Destination, link.Title = img.Destination, img.Title
		link.SetAttributeString("rel", linkRel)
		moveChildren(img, link)
		if link.ChildCount() == 0 {
			link.AppendChild(link, ast.NewString([]byte("image")))
		}
		img.Parent().ReplaceChild(img.Parent(), img, link)
	}
	for _, n := range unlink {
		parent := n.Parent()
		if parent == nil {
			continue
		}
		if al, ok := n.(*ast.AutoLink); ok {
			parent.ReplaceChild(parent, n, ast.NewString(al.Label(source)))
			continue
		}
		for c := n.FirstChild(); c != nil; {
			next := c.NextSibling()
			parent.InsertBefore(parent, n, c)
			c = next
		}
		parent.RemoveChild(parent, n)
	}
}

// safeDestination checks a link destination as the renderer will write
// it: with entity references resolved ("&#106;avascript:" is
// "javascript:").
func safeDestination(dest []byte) bool {
	return SafeLink(string(util.URLEscape(dest, true)))
}

// insideLink reports whether n sits inside a link, where another link
// would be invalid HTML.
func insideLink(n ast.Node) bool {
	for p := n.Parent(); p != nil; p = p.Parent() {
		if _, ok := p.(*ast.Link); ok {
			return true
		}
	}
	return false
}

func moveChildren(from, to ast.Node) {
	for c := from.FirstChild(); c != nil; {
		next := c.NextSibling()
		to.AppendChild(to, c)
		c = next
	}
}

// SafeLink reports whether a link destination from untrusted content may be
// followed: a relative reference (path, query or fragment) or an absolute
// http, https or mailto URL.
func SafeLink(dest string) bool {
	dest = strings.TrimSpace(dest)
	if dest == "" || strings.ContainsAny(dest, "\x00\t\r\n") {
		return false
	}
	u, err := url.Parse(dest)
	if err != nil {
		return false
	}
	switch strings.ToLower(u.Scheme) {
	case "":
		// A scheme-relative "//host" (or "/\host", which browsers read the
		// same way) leaves the site without saying how; refuse it.
		return !strings.HasPrefix(dest, "//") && !strings.HasPrefix(dest, `/\`) && !strings.HasPrefix(dest, `\`)
	case "http", "https":
		return u.Host != ""
	case "mailto":
		return true
	}
	return false
}
