// Package components holds the console's design-system building blocks:
// form fields, the CSRF field, form errors, flashes, badges, tables,
// pagination, empty states and the one-time secret box. Pages compose them;
// layout uses a few of them in the page frames.
//
// Components never use style="" attributes or inline scripts: the
// Content-Security-Policy forbids both. Behaviour comes from
// static/js/portico.js through data attributes (data-copy, data-confirm,
// data-autosubmit).
package components

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/a-h/templ"
)

// CSRFFieldName is the form field gorilla/csrf reads the token from.
const CSRFFieldName = "gorilla.csrf.Token"

// Input describes a text-like form field (text, email, password, …) for
// Field.
type Input struct {
	// ID is the input's id; the label, help and error ids derive from it.
	ID string
	// Name is the form field name.
	Name string
	// Type is the input type; "" means "text".
	Type string
	// Label is the visible label.
	Label string
	// Value re-fills the field. Never set it for passwords.
	Value string
	// Error is the field's error message, shown next to it; "" when valid.
	Error string
	// Help is a hint shown under the label.
	Help string
	// Autocomplete is the autocomplete token ("email", "new-password", …).
	Autocomplete string
	// Required, Autofocus and ReadOnly set the boolean attributes.
	Required  bool
	Autofocus bool
	ReadOnly  bool
	// Optional adds "(optional)" to the label.
	Optional bool
	// Mono renders the value in the monospace font (slugs, tokens).
	Mono bool
	// Attrs are extra attributes for the <input>, such as maxlength,
	// minlength, inputmode, spellcheck or autocapitalize.
	Attrs templ.Attributes
}

func (f Input) inputType() string {
	if f.Type == "" {
		return "text"
	}
	return f.Type
}

func (f Input) describedBy() string {
	return describedBy(f.ID, f.Help != "", f.Error != "")
}

// Area describes a <textarea> field for TextArea: Input's multi-line
// sibling, wired the same way.
type Area struct {
	// ID is the textarea's id; the help and error ids derive from it.
	ID, Name, Label string
	// Value re-fills the field.
	Value string
	// Error is the field's error message; "" when valid.
	Error string
	// Help is a hint shown under the label.
	Help string
	// Rows is the visible height in lines; 0 means 3.
	Rows int
	// Optional adds "(optional)" to the label; Required, Autofocus set the
	// boolean attributes; Mono renders the value in the monospace font.
	Optional, Required, Autofocus, Mono bool
	// DescribedBy names more elements describing the field, such as a list
	// of problems rendered in the component's children.
	DescribedBy string
	// Attrs are extra attributes for the <textarea>: maxlength,
	// spellcheck, autocapitalize, wrap, placeholder…
	Attrs templ.Attributes
}

func (a Area) describedBy() string {
	d := describedBy(a.ID, a.Help != "", a.Error != "")
	switch {
	case a.DescribedBy == "":
		return d
	case d == "":
		return a.DescribedBy
	}
	return d + " " + a.DescribedBy
}

func (a Area) rows() string {
	if a.Rows <= 0 {
		return "3"
	}
	return strconv.Itoa(a.Rows)
}

// Option is one <option> of a Select.
type Option struct {
	Value string
	Label string
}

// SelectInput describes a <select> field for Select.
type SelectInput struct {
	ID       string
	Name     string
	Label    string
	Options  []Option
	Selected string
	Error    string
	Help     string
	Required bool
	// HideLabel keeps the label for assistive technology only (compact
	// selects in table rows).
	HideLabel bool
	// AutoSubmit submits the select's form on change (data-autosubmit);
	// the form must still have a submit button for use without JavaScript.
	AutoSubmit bool
}

func (s SelectInput) describedBy() string {
	return describedBy(s.ID, s.Help != "", s.Error != "")
}

// helpID and errorID are the ids of a control's help text and error
// message (fieldText renders them), from the control's id.
func helpID(id string) string  { return id + "-help" }
func errorID(id string) string { return id + "-error" }

// describedBy is the aria-describedby of control id: its help text and
// error message, those it has.
func describedBy(id string, help, err bool) string {
	var ids []string
	if help {
		ids = append(ids, helpID(id))
	}
	if err {
		ids = append(ids, errorID(id))
	}
	return strings.Join(ids, " ")
}

// Path joins segments into an absolute URL path, escaping each one, so ids
// and tokens can be put into URLs safely:
// Path("orgs", "acme", "members", id, "role") is "/orgs/acme/members/<id>/role".
func Path(segments ...string) string {
	var b strings.Builder
	for _, s := range segments {
		b.WriteByte('/')
		b.WriteString(url.PathEscape(s))
	}
	if b.Len() == 0 {
		return "/"
	}
	return b.String()
}

// WithQuery appends key=value to a URL path, or returns path unchanged when
// value is "".
func WithQuery(path, key, value string) string {
	if value == "" {
		return path
	}
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	return path + sep + url.QueryEscape(key) + "=" + url.QueryEscape(value)
}

// Capitalize upper-cases the first letter: "owner" → "Owner".
func Capitalize(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	if n == 0 {
		return s
	}
	return string(unicode.ToUpper(r)) + s[n:]
}

// RoleOptions turns role names into select options, leaving out "owner"
// unless withOwner is set (only owners may grant the owner role).
func RoleOptions(roles []string, withOwner bool) []Option {
	opts := make([]Option, 0, len(roles))
	for _, r := range roles {
		if r == "owner" && !withOwner {
			continue
		}
		opts = append(opts, Option{Value: r, Label: Capitalize(r)})
	}
	return opts
}

// RoleKind is the Badge kind of a role: the role's own colour.
func RoleKind(role string) string {
	switch role {
	case "owner", "admin", "developer", "viewer", "billing":
		return role
	}
	return "neutral"
}

// StatusKind is the Badge kind of a status (of a token or an invitation).
func StatusKind(status string) string {
	switch status {
	case "active", "accepted", "verified", "ok":
		return "success"
	case "pending":
		return "warning"
	case "revoked", "failed":
		return "danger"
	case "expired":
		return "muted"
	}
	return "neutral"
}

// OtherErrors returns, joined in field-name order, the messages of errs
// whose keys are not among fields: errors the handler reported for a field
// the form does not show, which must not be lost. Use with FormError.
func OtherErrors(errs map[string]string, fields ...string) string {
	var keys []string
	for k, v := range errs {
		if v != "" && !slices.Contains(fields, k) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	msgs := make([]string, len(keys))
	for i, k := range keys {
		msgs[i] = errs[k]
	}
	return strings.Join(msgs, " ")
}

// Initial is the upper-cased first letter of name, or of email when name is
// empty, for avatars.
func Initial(name, email string) string {
	s := strings.TrimSpace(name)
	if s == "" {
		s = strings.TrimSpace(email)
	}
	r, n := utf8.DecodeRuneInString(s)
	if n == 0 {
		return "?"
	}
	return string(unicode.ToUpper(r))
}

// Focus picks the field to autofocus: the first of fields (in form order)
// that has an error in errs, or fallback when none has.
func Focus(errs map[string]string, fallback string, fields ...string) string {
	for _, f := range fields {
		if errs[f] != "" {
			return f
		}
	}
	return fallback
}

// JoinMessages joins the non-empty messages with a space.
func JoinMessages(msgs ...string) string {
	var out []string
	for _, m := range msgs {
		if m = strings.TrimSpace(m); m != "" {
			out = append(out, m)
		}
	}
	return strings.Join(out, " ")
}
