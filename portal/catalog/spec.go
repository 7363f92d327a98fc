package catalog

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/portico-dev/portico/tenants"
)

// MaxSpecBytes bounds an OpenAPI document.
const MaxSpecBytes = 8 << 20

// Spec is an imported OpenAPI document and what Portico derives from it.
type Spec struct {
	// JSON is the document, normalised to JSON.
	JSON string
	// Title and Version are the document's info.
	Title, Version string
	// Operations are the document's operations in path order.
	Operations []Operation
}

var methods = []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodHead, http.MethodOptions, http.MethodTrace}

// ParseSpec loads and validates an OpenAPI 3.0 or 3.1 document given as JSON
// or YAML. An invalid document is an EInvalid error with one field per
// problem, keyed "openapi" plus the problem's JSON pointer, whose message
// names the line when the document's source positions are known.
func ParseSpec(ctx context.Context, data []byte) (*Spec, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, tenants.FieldError("openapi", "The OpenAPI document is empty.")
	}
	if len(data) > MaxSpecBytes {
		return nil, tenants.FieldError("openapi", fmt.Sprintf("The OpenAPI document is larger than %d MB.", MaxSpecBytes>>20))
	}
	l := openapi3.NewLoader()
	l.IsExternalRefsAllowed = false // never fetch from the network on a provider's behalf
	l.IncludeOrigin = true
	doc, err := l.LoadFromData(data)
	if err != nil {
		return nil, &tenants.Error{Code: tenants.EInvalid, Message: "The OpenAPI document cannot be read: " + trimErr(err),
			Fields: map[string]string{"openapi": lineOf(err) + trimErr(err)}}
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		return nil, tenants.FieldError("openapi", fmt.Sprintf("Only OpenAPI 3.0 and 3.1 are supported (the document says %q).", doc.OpenAPI))
	}
	if err := doc.Validate(ctx, openapi3.EnableMultiError(), openapi3.DisableExamplesValidation()); err != nil {
		return nil, specProblems(doc, err)
	}
	if doc.Paths == nil || doc.Paths.Len() == 0 {
		return nil, tenants.FieldError("openapi", "The OpenAPI document has no paths, so there is nothing to publish.")
	}
	js, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("parse spec: marshal: %w", err)
	}
	s := &Spec{JSON: string(js), Operations: operationsOf(doc)}
	if doc.Info != nil {
		s.Title, s.Version = doc.Info.Title, doc.Info.Version
	}
	return s, nil
}

func trimErr(err error) string {
	s := err.Error()
	if len(s) > 500 {
		s = s[:500] + "…"
	}
	return s
}

var lineRE = regexp.MustCompile(`line (\d+)`)

func lineOf(err error) string {
	if m := lineRE.FindStringSubmatch(err.Error()); m != nil {
		return "line " + m[1] + ": "
	}
	return ""
}

// specProblems turns kin-openapi's validation errors into one field per
// problem, keyed by JSON pointer.
func specProblems(doc *openapi3.T, err error) error {
	fields := map[string]string{}
	var probs []problem
	walk(err, where{}, &probs)
	for _, p := range probs {
		ptr, line := p.at.locate(doc)
		key := "openapi#" + ptr
		msg := trimErr(p.err)
		if line > 0 {
			msg = "line " + strconv.Itoa(line) + ": " + msg
		}
		if prev, ok := fields[key]; ok && !strings.Contains(prev, msg) {
			msg = prev + "; " + msg
		}
		fields[key] = msg
	}
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	summary := fmt.Sprintf("The OpenAPI document has %d problem(s); the first is at %s: %s", len(keys), strings.TrimPrefix(keys[0], "openapi#"), fields[keys[0]])
	return &tenants.Error{Code: tenants.EInvalid, Message: summary, Fields: fields}
}

// where is the place in the document a validation error belongs to.
type where struct {
	section, path, method, compSection, compName string
}

type problem struct {
	at  where
	err error
}

// walk descends through multi-errors and context wrappers, collecting each
// independent problem with where it happened.
func walk(err error, at where, out *[]problem) {
	switch e := err.(type) {
	case openapi3.MultiError:
		for _, x := range e {
			walk(x, at, out)
		}
		return
	case *openapi3.SectionValidationError:
		at.section = e.Section
		walk(e.Cause, at, out)
		return
	case *openapi3.PathValidationError:
		at.path = e.Path
		walk(e.Cause, at, out)
		return
	case *openapi3.OperationValidationError:
		at.method = e.Method
		walk(e.Cause, at, out)
		return
	case *openapi3.ComponentValidationError:
		at.compSection, at.compName = e.Section, e.Name
		walk(e.Cause, at, out)
		return
	}
	if u, ok := err.(interface{ Unwrap() error }); ok {
		if m, ok := u.Unwrap().(openapi3.MultiError); ok {
			walk(m, at, out)
			return
		}
	}
	*out = append(*out, problem{at: at, err: err})
}

// locate renders the place as a JSON pointer and finds its line.
func (w where) locate(doc *openapi3.T) (string, int) {
	var parts []string
	line := 0
	switch {
	case w.path != "":
		parts = append(parts, "paths", w.path)
		var item *openapi3.PathItem
		if doc.Paths != nil {
			item = doc.Paths.Value(w.path)
		}
		if item != nil && item.Origin != nil && item.Origin.Key != nil {
			line = item.Origin.Key.Line
		}
		if w.method != "" {
			parts = append(parts, strings.ToLower(w.method))
			if item != nil {
				if o := item.GetOperation(strings.ToUpper(w.method)); o != nil && o.Origin != nil && o.Origin.Key != nil {
					line = o.Origin.Key.Line
				}
			}
		}
	case w.compName != "":
		parts = append(parts, "components", w.compSection, w.compName)
	case w.section != "":
		parts = append(parts, w.section)
	}
	var b strings.Builder
	for _, p := range parts {
		b.WriteByte('/')
		b.WriteString(strings.NewReplacer("~", "~0", "/", "~1").Replace(p))
	}
	if b.Len() == 0 {
		return "/", line
	}
	return b.String(), line
}

var opIDRE = regexp.MustCompile(`[^A-Za-z0-9]+`)

// operationsOf lists a document's operations with parameters and mock
// answers from the examples.
func operationsOf(doc *openapi3.T) []Operation {
	var ops []Operation
	for _, path := range doc.Paths.InMatchingOrder() {
		item := doc.Paths.Value(path)
		if item == nil {
			continue
		}
		// InMatchingOrder puts concrete paths first; list them as written.
		for _, m := range methods {
			o := item.GetOperation(m)
			if o == nil {
				continue
			}
			op := Operation{Method: m, Path: path, Summary: o.Summary, Source: "openapi", Billable: true, OperationID: o.OperationID}
			if op.Summary == "" {
				op.Summary = firstLine(o.Description)
			}
			if op.OperationID == "" {
				op.OperationID = strings.Trim(opIDRE.ReplaceAllString(strings.ToLower(m)+"_"+path, "_"), "_")
			}
			seen := map[string]bool{}
			for _, params := range []openapi3.Parameters{o.Parameters, item.Parameters} {
				for _, pr := range params {
					if pr == nil || pr.Value == nil || seen[pr.Value.In+":"+pr.Value.Name] {
						continue
					}
					seen[pr.Value.In+":"+pr.Value.Name] = true
					p := Parameter{Name: pr.Value.Name, In: pr.Value.In, Required: pr.Value.Required, Description: firstLine(pr.Value.Description)}
					if pr.Value.Schema != nil && pr.Value.Schema.Value != nil && pr.Value.Schema.Value.Type != nil {
						p.Type = strings.Join(pr.Value.Schema.Value.Type.Slice(), "|")
					}
					op.Parameters = append(op.Parameters, p)
				}
			}
			if m := mockOf(o); m != nil {
				op.Mock = *m
			}
			ops = append(ops, op)
		}
	}
	sort.SliceStable(ops, func(i, j int) bool {
		if ops[i].Path != ops[j].Path {
			return ops[i].Path < ops[j].Path
		}
		return methodRank(ops[i].Method) < methodRank(ops[j].Method)
	})
	for i := range ops {
		ops[i].Position = i
	}
	return ops
}

func methodRank(m string) int {
	for i, x := range methods {
		if x == m {
			return i
		}
	}
	return len(methods)
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}

// mockOf picks the first 2xx response and its JSON example, if any.
func mockOf(o *openapi3.Operation) *MockResponse {
	if o.Responses == nil {
		return nil
	}
	codes := []string{}
	for code := range o.Responses.Map() {
		codes = append(codes, code)
	}
	sort.Strings(codes)
	for _, code := range codes {
		if !strings.HasPrefix(code, "2") {
			continue
		}
		status, err := strconv.Atoi(code)
		if err != nil {
			status = 200
		}
		r := o.Responses.Value(code)
		mr := &MockResponse{Status: status}
		if r == nil || r.Value == nil {
			return mr
		}
		for _, ct := range []string{"application/json", "application/problem+json", "text/plain"} {
			mt := r.Value.Content.Get(ct)
			if mt == nil {
				continue
			}
			mr.ContentType = ct
			var ex any
			switch {
			case mt.Example != nil:
				ex = mt.Example
			case len(mt.Examples) > 0:
				names := make([]string, 0, len(mt.Examples))
				for n := range mt.Examples {
					names = append(names, n)
				}
				sort.Strings(names)
				if e := mt.Examples[names[0]]; e != nil && e.Value != nil {
					ex = e.Value.Value
				}
			case mt.Schema != nil && mt.Schema.Value != nil && mt.Schema.Value.Example != nil:
				ex = mt.Schema.Value.Example
			}
			if ex != nil {
				if b, err := json.Marshal(ex); err == nil {
					mr.Body = b
				}
			}
			return mr
		}
		return mr
	}
	return nil
}
