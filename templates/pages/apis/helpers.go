package apis

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/portico-dev/portico/templates/components"
	"github.com/portico-dev/portico/templates/layout"
)

// check describes a checkbox with its label and optional help.
type check struct {
	ID, Name, Label, Help string
	Checked               bool
	// Form associates the checkbox with a form elsewhere on the page (the
	// form attribute), for forms spread over a table row.
	Form string
}

// crumb is one breadcrumb; the last one is the current page.
type crumb struct {
	Label, Href string
}

// MaxTargets is how many upstream target rows a form offers at most (the
// catalog's limit).
const MaxTargets = 16

func orgSlug(p layout.Page) string {
	if p.Org != nil {
		return p.Org.Slug
	}
	return ""
}

// apisPath is the path of the organisation's APIs, or of something under
// them: apisPath(p, "pets", "versions", "v1").
func apisPath(p layout.Page, segments ...string) string {
	return components.Path(append([]string{"orgs", orgSlug(p), "apis"}, segments...)...)
}

func versionPath(p layout.Page, api, version string, segments ...string) string {
	return apisPath(p, append([]string{api, "versions", version}, segments...)...)
}

// StateKind is the Badge kind of a version's lifecycle state.
func StateKind(state string) string {
	switch state {
	case "draft":
		return "neutral"
	case "published":
		return "success"
	case "deprecated":
		return "warning"
	case "offline":
		return "danger"
	}
	return "neutral"
}

// VisibilityKind is the Badge kind of an API's visibility.
func VisibilityKind(v string) string {
	switch v {
	case "public":
		return "info"
	case "unlisted":
		return "neutral"
	}
	return "muted"
}

// visibilityOptions explain each visibility in its label.
var visibilityOptions = []components.Option{
	{Value: "private", Label: "Private — only your organisation's members"},
	{Value: "unlisted", Label: "Unlisted — anyone with the link, not in the market"},
	{Value: "public", Label: "Public — listed in the market"},
}

func visibilityOr(v string) string {
	if v == "" {
		return "private"
	}
	return v
}

// methodClass colours an HTTP method.
func methodClass(m string) string {
	switch m {
	case "GET", "POST", "PUT", "PATCH", "DELETE":
		return "method method-" + strings.ToLower(m)
	}
	return "method"
}

// Problem is one problem of an OpenAPI document: where (a JSON pointer) and
// on which line, if known.
type Problem struct {
	Pointer string
	Line    int
	Message string
}

// SpecProblems turns the catalog's field errors for an OpenAPI document
// ("openapi" and "openapi#/json/pointer", messages starting "line N: " when
// the line is known) into a list ordered by line, then pointer.
func SpecProblems(errs map[string]string) []Problem {
	var out []Problem
	for k, msg := range errs {
		if k != "openapi" && !strings.HasPrefix(k, "openapi#") {
			continue
		}
		ptr := strings.TrimPrefix(strings.TrimPrefix(k, "openapi"), "#")
		// Several problems at one place are joined with "; ".
		for i, part := range strings.Split(msg, "; line ") {
			if i > 0 {
				part = "line " + part
			}
			pr := Problem{Pointer: ptr, Message: part}
			if rest, ok := strings.CutPrefix(part, "line "); ok {
				if n, tail, ok := strings.Cut(rest, ": "); ok {
					if v, err := strconv.Atoi(n); err == nil {
						pr.Line, pr.Message = v, tail
					}
				}
			}
			out = append(out, pr)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if (a.Line == 0) != (b.Line == 0) {
			return a.Line != 0
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if a.Pointer != b.Pointer {
			return a.Pointer < b.Pointer
		}
		return a.Message < b.Message
	})
	return out
}

func problemCount(n int) string {
	if n == 1 {
		return "The OpenAPI document has 1 problem:"
	}
	return fmt.Sprintf("The OpenAPI document has %d problems:", n)
}

// hasSpecProblems reports whether errs hold problems of the document.
func hasSpecProblems(errs map[string]string) bool {
	return len(SpecProblems(errs)) > 0
}

// targetRows are the rows the upstream form shows: the targets typed or
// stored, then one empty row to add another (two rows when there are
// none), never more than MaxTargets.
func targetRows(ts []TargetForm) []TargetForm {
	rows := append([]TargetForm(nil), ts...)
	if len(rows) < MaxTargets {
		rows = append(rows, TargetForm{})
	}
	if len(rows) < 2 {
		rows = append(rows, TargetForm{})
	}
	return rows
}

func targetField(i int, name string) string {
	return fmt.Sprintf("upstream.targets[%d].%s", i, name)
}

// upstreamFieldNames are the error keys the upstream fields show, in form
// order (for focus and for "other errors").
func upstreamFieldNames(n int) []string {
	var fs []string
	for i := range n {
		fs = append(fs, targetField(i, "url"), targetField(i, "weight"))
	}
	return append(fs, "upstream.targets", "upstream.connect_timeout_ms", "upstream.timeout_ms", "upstream.retries", "upstream.health_check_path")
}

func (p VersionProps) failed(form string) bool { return p.Failed.Form == form }

// errs returns the field messages of form when it is the one that failed.
func (p VersionProps) errs(form string) map[string]string {
	if p.Failed.Form == form {
		return p.Failed.Errors
	}
	return nil
}

// settingsFields are the settings form's fields, in the order they take
// the focus when they hold errors.
var settingsFields = []string{"settings.max_body_bytes", "settings.cors_origins", "settings.cors_max_age"}

// settingsFocus is the settings field that takes the focus: the first
// with an error.
func (p VersionProps) settingsFocus() string {
	return components.Focus(p.errs("settings"), "", settingsFields...)
}

func (p VersionProps) message(form string, fields ...string) string {
	if p.Failed.Form != form {
		return ""
	}
	return components.JoinMessages(p.Failed.Message, components.OtherErrors(p.Failed.Errors, fields...))
}

func (p VersionProps) opErrs(id string) map[string]string {
	if p.Failed.Form == "operation" && p.Failed.Operation == id {
		return p.Failed.Errors
	}
	return nil
}

func (p VersionProps) canEdit() bool { return p.CanManage && p.State != "offline" }

func (p VersionProps) canDeprecate() bool { return p.CanManage && p.State == "published" }

func (p VersionProps) canTakeOffline() bool {
	return p.CanManage && (p.State == "published" || p.State == "deprecated")
}

func (p VersionProps) activeKeys() int {
	n := 0
	for _, k := range p.Keys {
		if k.Status == "active" {
			n++
		}
	}
	return n
}

func (p VersionProps) title() string { return p.APIName + " " + p.Version }

func offlineConfirm(p VersionProps) string {
	return "Take " + p.title() + " offline? The gateway will answer 410 Gone to every call in every environment, " +
		"the market stops listing it, and it cannot be brought back: you would have to create a new version."
}

func retireConfirm(k KeyRow) string {
	return "Retire the signing key " + k.KeyID + "? The gateway stops signing with it once you deploy; backends that only accept this key will reject calls."
}

func rotateConfirm() string {
	return "Create a new signing key? The newest active key stays valid alongside it and any older active key is retired."
}

func mockConfirm(p VersionProps) string {
	return "Switch " + p.title() + " to the mock backend? The upstream settings are removed from the draft; nothing live changes until you deploy."
}

func rollbackConfirm(p RevisionsProps, h EnvHistory, r RevisionRow) string {
	return fmt.Sprintf("Roll %s of %s %s back to revision %d? Its configuration becomes live again as a new revision, within seconds.",
		strings.ToLower(h.Label), p.APIName, p.Version, r.Number)
}

func deployURL(p layout.Page, api, version, env string) string {
	return versionPath(p, api, version, "environments", env, "deploy")
}

// changeClass colours a diff line by its first character.
func changeClass(line string) string {
	switch {
	case strings.HasPrefix(line, "+ "):
		return "change change-add"
	case strings.HasPrefix(line, "- "):
		return "change change-remove"
	case strings.HasPrefix(line, "~ "):
		return "change change-modify"
	}
	return "change"
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

func kindLabel(r RevisionRow) string {
	switch r.Kind {
	case "rollback":
		if r.RolledBack > 0 {
			return "Rollback to #" + strconv.Itoa(r.RolledBack)
		}
		return "Rollback"
	case "lifecycle":
		return "Lifecycle"
	}
	return "Deploy"
}

func kindKind(kind string) string {
	switch kind {
	case "rollback":
		return "warning"
	case "lifecycle":
		return "info"
	}
	return "primary"
}

// probeKind is the Badge kind of a connection test result.
func probeKind(r ProbeResult) string {
	switch {
	case r.Error != "" || r.Status >= 500:
		return "danger"
	case r.Status >= 400:
		return "warning"
	}
	return "success"
}

func probeLabel(r ProbeResult) string {
	if r.Error != "" {
		return "Failed"
	}
	return strconv.Itoa(r.Status)
}

func backendLabel(b string) string {
	switch b {
	case "mock":
		return "Mock"
	case "upstream":
		return "Upstream"
	}
	return "Not set"
}

func orDefault(v, def string) string {
	if strings.TrimSpace(v) == "" {
		return def
	}
	return v
}

// bytesLabel renders a byte count readably: "10485760" → "10 MiB".
func bytesLabel(s string) string {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return s
	}
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + " MiB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return strconv.FormatInt(n>>10, 10) + " KiB"
	}
	return strconv.FormatInt(n, 10) + " bytes"
}

func msLabel(s string) string {
	if s == "" {
		return "default"
	}
	return s + " ms"
}

func yesNo(b bool) string {
	if b {
		return "Yes"
	}
	return "No"
}

// apiFieldNames are the metadata form's fields in form order.
var apiFieldNames = []string{"slug", "name", "summary", "description", "category", "tags", "visibility", "logo_url", "contact_url", "terms_url"}

func (p VersionProps) opFocus(id string) string {
	return components.Focus(p.opErrs(id), "", "operation.timeout_ms", "operation.max_body_bytes")
}

// opRowID is the id of an operation row's form; the inputs of the row
// point at it with their form attribute.
func opRowID(i int) string { return "op-" + strconv.Itoa(i) }

func keyKind(status string) string {
	if status == "active" {
		return "success"
	}
	return "muted"
}

func lower(s string) string { return strings.ToLower(s) }

func sourceLabel(s string) string {
	switch s {
	case "openapi":
		return "OpenAPI"
	case "manual":
		return "Manual"
	}
	return s
}
