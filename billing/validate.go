package billing

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/portico-dev/portico/tenants"
)

// Limits on plan input. INTEGER columns are 32-bit on PostgreSQL, so the
// rate limit is capped well below that.
const (
	maxNameRunes        = 100
	maxDescriptionRunes = 2000
	maxRate             = 1_000_000
	maxTrialDays        = 365
	maxVersions         = 50
	maxVersionLen       = 64
)

var (
	planSlugRE = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$`)
	currencyRE = regexp.MustCompile(`^[a-z]{3}$`)
)

// validatePlanSlug reports what is wrong with a plan slug, or "". The rules
// are those of organisation slugs without the reserved names: a plan slug
// appears only inside its API's URLs, where it collides with nothing.
func validatePlanSlug(slug string) string {
	switch {
	case len(slug) < 2 || len(slug) > 40:
		return "Use 2 to 40 characters."
	case !planSlugRE.MatchString(slug):
		return "Use lower-case letters, digits and dashes, starting and ending with a letter or digit."
	}
	return ""
}

// normalize trims and lower-cases what the caller may have typed loosely and
// fills defaults: approval auto, burst equal to the rate, versions without
// repeats. It never changes the caller's values behind pointers.
func normalize(in PlanInput) PlanInput {
	in.Slug = strings.ToLower(strings.TrimSpace(in.Slug))
	in.Name = strings.TrimSpace(in.Name)
	in.Description = strings.TrimSpace(in.Description)
	in.Currency = strings.ToLower(strings.TrimSpace(in.Currency))
	in.Approval = Approval(strings.ToLower(strings.TrimSpace(string(in.Approval))))
	if in.Approval == "" {
		in.Approval = ApprovalAuto
	}
	if in.RateLimit != nil {
		rl := *in.RateLimit
		if rl.Burst == 0 {
			rl.Burst = rl.RequestsPerSecond
		}
		in.RateLimit = &rl
	}
	vs := make([]string, 0, len(in.Versions))
	for _, v := range in.Versions {
		v = strings.TrimSpace(v)
		if !slices.Contains(vs, v) {
			vs = append(vs, v)
		}
	}
	in.Versions = vs
	return in
}

// knownVersions asks the catalog which versions the API has. Callers ask
// before their transaction starts: the catalog reads through its own
// connection, which on SQLite would wait behind billing's write lock.
func (s *Service) knownVersions(ctx context.Context, orgID, apiID string) ([]string, error) {
	known, err := s.versions.VersionNames(ctx, orgID, apiID)
	if err != nil {
		return nil, fmt.Errorf("list api versions: %w", err)
	}
	return known, nil
}

// validate checks normalized input; known lists the API's versions. The
// slug is checked only on create: it never changes afterwards.
func validate(in PlanInput, known []string, checkSlug bool) error {
	v := tenants.Validation{}
	if checkSlug {
		if msg := validatePlanSlug(in.Slug); msg != "" {
			v.Add("slug", msg)
		}
	}
	switch n := utf8.RuneCountInString(in.Name); {
	case n == 0:
		v.Add("name", "Enter a plan name.")
	case n > maxNameRunes:
		v.Add("name", fmt.Sprintf("Use at most %d characters.", maxNameRunes))
	case strings.ContainsAny(in.Name, "\x00\r\n"):
		v.Add("name", "Use a single line of text.")
	}
	switch {
	case utf8.RuneCountInString(in.Description) > maxDescriptionRunes:
		v.Add("description", fmt.Sprintf("Use at most %d characters.", maxDescriptionRunes))
	case strings.ContainsRune(in.Description, 0):
		v.Add("description", "Remove the NUL character.")
	}
	if in.PriceCents < 0 {
		v.Add("price_cents", "Enter a price of 0 (free) or more, in cents.")
	}
	if !currencyRE.MatchString(in.Currency) {
		v.Add("currency", "Enter a three-letter ISO 4217 currency code, like usd.")
	}
	switch {
	case in.IncludedCalls < 0:
		v.Add("included_calls", "Enter 0 or more included calls.")
	case in.OverageCentsPer1000 == nil && in.IncludedCalls == 0:
		v.Add("included_calls", "Without an overage price, calls beyond the included calls are refused: include at least 1 call or set an overage price.")
	case validQuota(in.Quota.Month) && in.IncludedCalls > *in.Quota.Month:
		v.Add("included_calls", "Include no more calls than the monthly quota allows.")
	}
	if in.OverageCentsPer1000 != nil && *in.OverageCentsPer1000 < 0 {
		v.Add("overage_cents_per_1000", "Enter an overage price of 0 or more cents per 1,000 calls, or none to refuse calls beyond the included ones.")
	}
	if rl := in.RateLimit; rl != nil {
		switch {
		case rl.RequestsPerSecond < 1:
			v.Add("rate_limit.requests_per_second", "Allow at least 1 request per second, or remove the rate limit.")
		case rl.RequestsPerSecond > maxRate:
			v.Add("rate_limit.requests_per_second", fmt.Sprintf("Allow at most %d requests per second.", maxRate))
		case rl.Burst < rl.RequestsPerSecond:
			// Only judged against a valid rate; a burst of 0 became the rate.
			v.Add("rate_limit.burst", "Use a burst of at least the requests per second (or 0 for the same).")
		case rl.Burst > maxRate:
			v.Add("rate_limit.burst", fmt.Sprintf("Use a burst of at most %d.", maxRate))
		}
	}
	if d := in.Quota.Day; d != nil && !validQuota(d) {
		v.Add("quota.day", "Allow at least 1 call a day, or set no daily quota.")
	}
	if m := in.Quota.Month; m != nil && !validQuota(m) {
		v.Add("quota.month", "Allow at least 1 call a month, or set no monthly quota.")
	}
	if d, m := in.Quota.Day, in.Quota.Month; validQuota(d) && validQuota(m) && *d > *m {
		v.Add("quota.day", "The daily quota cannot exceed the monthly quota.")
	}
	if in.Approval != ApprovalAuto && in.Approval != ApprovalManual {
		v.Add("approval", "Choose auto or manual approval.")
	}
	if in.TrialDays < 0 || in.TrialDays > maxTrialDays {
		v.Add("trial_days", fmt.Sprintf("Use 0 to %d days.", maxTrialDays))
	}
	validateVersions(v, in.Versions, known)
	return v.Err()
}

// validateVersions records what is wrong with the versions a plan grants.
func validateVersions(v tenants.Validation, versions, known []string) {
	switch {
	case len(versions) == 0:
		v.Add("versions", "Grant at least one API version.")
		return
	case len(versions) > maxVersions:
		v.Add("versions", fmt.Sprintf("Grant at most %d versions.", maxVersions))
		return
	}
	for _, name := range versions {
		if name == "" || len(name) > maxVersionLen {
			v.Add("versions", fmt.Sprintf("Name each version in 1 to %d characters, like v1.", maxVersionLen))
			return
		}
	}
	var unknown []string
	for _, name := range versions {
		if !slices.Contains(known, name) {
			unknown = append(unknown, fmt.Sprintf("%q", name))
		}
	}
	switch len(unknown) {
	case 0:
	case 1:
		v.Add("versions", fmt.Sprintf("This API has no version %s.", unknown[0]))
	default:
		v.Add("versions", fmt.Sprintf("This API has no versions %s.", strings.Join(unknown, ", ")))
	}
}

// validQuota reports whether a quota is set and allows at least one call;
// rules comparing quotas only judge valid ones, so one mistake is reported
// once.
func validQuota(q *int64) bool { return q != nil && *q >= 1 }
