package billing

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// Approval says whether a new subscription to a plan starts at once or waits
// for the provider to approve it.
type Approval string

// Approval modes.
const (
	ApprovalAuto   Approval = "auto"
	ApprovalManual Approval = "manual"
)

// RateLimit caps how fast one subscription may call: a sustained rate and
// the burst allowed on top of it.
type RateLimit struct {
	// RequestsPerSecond is the sustained rate, at least 1.
	RequestsPerSecond int `json:"requests_per_second"`
	// Burst is how many requests may arrive at once; at least
	// RequestsPerSecond. Zero in input means "same as RequestsPerSecond".
	Burst int `json:"burst"`
}

// Quota caps the calls of one subscription per UTC day and per calendar
// month; nil means no cap for that period.
type Quota struct {
	Day   *int64 `json:"day"`
	Month *int64 `json:"month"`
}

// Plan is one revision of a plan: what a subscriber to it pays and may do.
// Revisions of one plan share its slug; a published revision never changes.
type Plan struct {
	ID    string `json:"id"`
	OrgID string `json:"-"`
	APIID string `json:"api_id"`
	// Slug names the plan within its API; all its revisions share it.
	Slug string `json:"slug"`
	// Revision counts the plan's versions from 1.
	Revision    int    `json:"revision"`
	Name        string `json:"name"`
	Description string `json:"description"`
	// PriceCents is the monthly price in the currency's minor unit; 0 is free.
	PriceCents int64 `json:"price_cents"`
	// Currency is an ISO 4217 code in lower case, like "usd".
	Currency string `json:"currency"`
	// IncludedCalls is how many calls a month the price covers.
	IncludedCalls int64 `json:"included_calls"`
	// OverageCentsPer1000 prices the calls beyond IncludedCalls. Nil is a
	// hard limit: those calls are refused rather than billed.
	OverageCentsPer1000 *int64 `json:"overage_cents_per_1000"`
	// RateLimit is nil when the plan has none.
	RateLimit *RateLimit `json:"rate_limit"`
	Quota     Quota      `json:"quota"`
	// Versions names the API versions a subscription grants, like "v1".
	Versions []string `json:"versions"`
	Approval Approval `json:"approval"`
	// TrialDays is how long a new subscriber uses a paid plan before paying.
	TrialDays int       `json:"trial_days"`
	State     PlanState `json:"state"`
	// SupersedesID is the revision this one replaces (nil for revision 1).
	SupersedesID *string    `json:"supersedes_id"`
	CreatedAt    time.Time  `json:"created_at"`
	UpdatedAt    time.Time  `json:"updated_at"`
	PublishedAt  *time.Time `json:"published_at"`
}

// PlanInput is what a provider sends to create a plan. Field names in
// validation errors are the JSON names.
type PlanInput struct {
	Slug                string     `json:"slug"`
	Name                string     `json:"name"`
	Description         string     `json:"description"`
	PriceCents          int64      `json:"price_cents"`
	Currency            string     `json:"currency"`
	IncludedCalls       int64      `json:"included_calls"`
	OverageCentsPer1000 *int64     `json:"overage_cents_per_1000"`
	RateLimit           *RateLimit `json:"rate_limit"`
	Quota               Quota      `json:"quota"`
	// Approval defaults to auto.
	Approval  Approval `json:"approval"`
	Versions  []string `json:"versions"`
	TrialDays int      `json:"trial_days"`
}

// PlanPatch changes some of a plan's terms; nil (or unset) fields stay as
// they are. The slug never changes.
type PlanPatch struct {
	Name          *string `json:"name,omitempty"`
	Description   *string `json:"description,omitempty"`
	PriceCents    *int64  `json:"price_cents,omitempty"`
	Currency      *string `json:"currency,omitempty"`
	IncludedCalls *int64  `json:"included_calls,omitempty"`
	// OverageCentsPer1000 set to null makes the plan a hard limit.
	OverageCentsPer1000 Nullable[int64] `json:"overage_cents_per_1000,omitzero"`
	// RateLimit is replaced as a whole; null removes it.
	RateLimit Nullable[RateLimit] `json:"rate_limit,omitzero"`
	// Quota changes the day and month quotas independently.
	Quota     *QuotaPatch `json:"quota,omitempty"`
	Approval  *Approval   `json:"approval,omitempty"`
	Versions  *[]string   `json:"versions,omitempty"`
	TrialDays *int        `json:"trial_days,omitempty"`
}

// QuotaPatch changes a plan's quotas; null removes one.
type QuotaPatch struct {
	Day   Nullable[int64] `json:"day,omitzero"`
	Month Nullable[int64] `json:"month,omitzero"`
}

// Nullable is a patch field that can be left alone (Set false), cleared
// (Set true, Value nil — JSON null) or set to a value. Its JSON form is the
// value or null; an absent field leaves it unset.
type Nullable[T any] struct {
	Set   bool
	Value *T
}

// Some returns a Nullable that sets the field to v.
func Some[T any](v T) Nullable[T] { return Nullable[T]{Set: true, Value: &v} }

// Null returns a Nullable that clears the field.
func Null[T any]() Nullable[T] { return Nullable[T]{Set: true} }

// IsZero reports whether the field is unset, so `omitzero` leaves it out.
func (n Nullable[T]) IsZero() bool { return !n.Set }

// MarshalJSON implements json.Marshaler.
func (n Nullable[T]) MarshalJSON() ([]byte, error) { return json.Marshal(n.Value) }

// UnmarshalJSON implements json.Unmarshaler; it is only called when the
// field is present. Unknown fields inside an object are refused, as the
// management API refuses them at the top level.
func (n *Nullable[T]) UnmarshalJSON(b []byte) error {
	n.Set = true
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		n.Value = nil
		return nil
	}
	var v T
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		return err
	}
	n.Value = &v
	return nil
}

// planRow is a plans row; Plan is its API shape.
type planRow struct {
	ID                  string
	OrgID               string
	APIID               string `gorm:"column:api_id"`
	Slug                string
	Revision            int
	Name                string
	Description         string
	PriceCents          int64
	Currency            string
	IncludedCalls       int64
	OverageCentsPer1000 *int64 `gorm:"column:overage_cents_per_1000"`
	RateRPS             *int   `gorm:"column:rate_rps"`
	RateBurst           *int   `gorm:"column:rate_burst"`
	QuotaDay            *int64 `gorm:"column:quota_day"`
	QuotaMonth          *int64 `gorm:"column:quota_month"`
	Versions            string // JSON array
	Approval            string
	TrialDays           int
	State               string
	SupersedesID        *string
	CreatedAt           time.Time
	UpdatedAt           time.Time
	PublishedAt         *time.Time
}

func (planRow) TableName() string { return "plans" }

func clone[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// plan converts a row to its API shape.
func (r planRow) plan() (Plan, error) {
	p := Plan{
		ID: r.ID, OrgID: r.OrgID, APIID: r.APIID, Slug: r.Slug, Revision: r.Revision,
		Name: r.Name, Description: r.Description, PriceCents: r.PriceCents, Currency: r.Currency,
		IncludedCalls: r.IncludedCalls, OverageCentsPer1000: clone(r.OverageCentsPer1000),
		Quota:    Quota{Day: clone(r.QuotaDay), Month: clone(r.QuotaMonth)},
		Approval: Approval(r.Approval), TrialDays: r.TrialDays, State: PlanState(r.State),
		SupersedesID: clone(r.SupersedesID),
		CreatedAt:    r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(), PublishedAt: utcPtr(r.PublishedAt),
	}
	if r.RateRPS != nil && r.RateBurst != nil {
		p.RateLimit = &RateLimit{RequestsPerSecond: *r.RateRPS, Burst: *r.RateBurst}
	}
	if err := json.Unmarshal([]byte(r.Versions), &p.Versions); err != nil {
		return Plan{}, fmt.Errorf("plan %s: versions: %w", r.ID, err)
	}
	if p.Versions == nil {
		p.Versions = []string{}
	}
	return p, nil
}

func plans(rows []planRow) ([]Plan, error) {
	out := make([]Plan, len(rows))
	for i, r := range rows {
		p, err := r.plan()
		if err != nil {
			return nil, err
		}
		out[i] = p
	}
	return out, nil
}

// setTerms copies a plan's terms — everything a provider chooses except
// the slug — into the row.
func (r *planRow) setTerms(in PlanInput) {
	r.Name, r.Description = in.Name, in.Description
	r.PriceCents, r.Currency = in.PriceCents, in.Currency
	r.IncludedCalls, r.OverageCentsPer1000 = in.IncludedCalls, clone(in.OverageCentsPer1000)
	r.RateRPS, r.RateBurst = nil, nil
	if in.RateLimit != nil {
		rps, burst := in.RateLimit.RequestsPerSecond, in.RateLimit.Burst
		r.RateRPS, r.RateBurst = &rps, &burst
	}
	r.QuotaDay, r.QuotaMonth = clone(in.Quota.Day), clone(in.Quota.Month)
	b, _ := json.Marshal(in.Versions) // a []string always marshals
	r.Versions = string(b)
	r.Approval, r.TrialDays = string(in.Approval), in.TrialDays
}

// termColumns are the columns setTerms fills, for an in-place update.
func (r *planRow) termColumns() map[string]any {
	return map[string]any{
		"name": r.Name, "description": r.Description, "price_cents": r.PriceCents, "currency": r.Currency,
		"included_calls": r.IncludedCalls, "overage_cents_per_1000": r.OverageCentsPer1000,
		"rate_rps": r.RateRPS, "rate_burst": r.RateBurst, "quota_day": r.QuotaDay, "quota_month": r.QuotaMonth,
		"versions": r.Versions, "approval": r.Approval, "trial_days": r.TrialDays,
	}
}

// input returns the plan's terms as input, the base a patch applies to.
func (p Plan) input() PlanInput {
	in := PlanInput{
		Slug: p.Slug, Name: p.Name, Description: p.Description, PriceCents: p.PriceCents, Currency: p.Currency,
		IncludedCalls: p.IncludedCalls, OverageCentsPer1000: clone(p.OverageCentsPer1000), RateLimit: clone(p.RateLimit),
		Quota:    Quota{Day: clone(p.Quota.Day), Month: clone(p.Quota.Month)},
		Approval: p.Approval, Versions: slices.Clone(p.Versions), TrialDays: p.TrialDays,
	}
	return in
}

// apply returns in with the patch's fields replaced.
func (p PlanPatch) apply(in PlanInput) PlanInput {
	if p.Name != nil {
		in.Name = *p.Name
	}
	if p.Description != nil {
		in.Description = *p.Description
	}
	if p.PriceCents != nil {
		in.PriceCents = *p.PriceCents
	}
	if p.Currency != nil {
		in.Currency = *p.Currency
	}
	if p.IncludedCalls != nil {
		in.IncludedCalls = *p.IncludedCalls
	}
	if p.OverageCentsPer1000.Set {
		in.OverageCentsPer1000 = clone(p.OverageCentsPer1000.Value)
	}
	if p.RateLimit.Set {
		in.RateLimit = clone(p.RateLimit.Value)
	}
	if p.Quota != nil {
		if p.Quota.Day.Set {
			in.Quota.Day = clone(p.Quota.Day.Value)
		}
		if p.Quota.Month.Set {
			in.Quota.Month = clone(p.Quota.Month.Value)
		}
	}
	if p.Approval != nil {
		in.Approval = *p.Approval
	}
	if p.Versions != nil {
		in.Versions = slices.Clone(*p.Versions)
	}
	if p.TrialDays != nil {
		in.TrialDays = *p.TrialDays
	}
	return in
}

func eqPtr[T comparable](a, b *T) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// changedFields names (as JSON) the terms that differ between a and b.
func changedFields(a, b PlanInput) []string {
	var out []string
	add := func(changed bool, field string) {
		if changed {
			out = append(out, field)
		}
	}
	add(a.Name != b.Name, "name")
	add(a.Description != b.Description, "description")
	add(a.PriceCents != b.PriceCents, "price_cents")
	add(a.Currency != b.Currency, "currency")
	add(a.IncludedCalls != b.IncludedCalls, "included_calls")
	add(!eqPtr(a.OverageCentsPer1000, b.OverageCentsPer1000), "overage_cents_per_1000")
	add(!eqPtr(a.RateLimit, b.RateLimit), "rate_limit")
	add(!eqPtr(a.Quota.Day, b.Quota.Day), "quota.day")
	add(!eqPtr(a.Quota.Month, b.Quota.Month), "quota.month")
	add(a.Approval != b.Approval, "approval")
	add(!slices.Equal(a.Versions, b.Versions), "versions")
	add(a.TrialDays != b.TrialDays, "trial_days")
	return out
}
