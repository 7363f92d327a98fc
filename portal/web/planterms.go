package web

import (
	"regexp"
	"strconv"
	"strings"

	"github.com/portico-dev/portico/billing"
	"github.com/portico-dev/portico/templates/components"
	"github.com/portico-dev/portico/templates/pages/market"
)

// minorDigits is how many decimal places a currency's amounts have: billing
// keeps amounts in the minor unit (cents), and a few currencies have none
// (yen) or three (dinars). Unknown currencies have two, like most.
func minorDigits(currency string) int {
	switch strings.ToLower(currency) {
	case "bif", "clp", "djf", "gnf", "isk", "jpy", "kmf", "krw", "pyg", "rwf", "ugx", "vnd", "vuv", "xaf", "xof", "xpf":
		return 0
	case "bhd", "iqd", "jod", "kwd", "lyd", "omr", "tnd":
		return 3
	}
	return 2
}

// maxAmountDigits bounds the whole part of an amount a person types, far
// below what an int64 of minor units holds.
const maxAmountDigits = 12

// parseAmount reads an amount typed in a currency's main unit ("49",
// "49.00", "49,5") and returns it in the minor unit (4900, 4950). A single
// "." or "," is the decimal separator. There are no thousands separators:
// "1,000" and "1.000" are refused rather than guessed (unless the currency
// has three decimals). msg is "" when the amount is good, else what to fix.
func parseAmount(s, currency string) (minor int64, msg string) {
	s = strings.TrimSpace(s)
	digits := minorDigits(currency)
	example := "49.00"
	if digits == 0 {
		example = "500"
	}
	if s == "" {
		return 0, "Enter an amount, like " + example + "."
	}
	if strings.HasPrefix(s, "-") {
		return 0, "Enter 0 or more."
	}
	whole, frac, hasSep := s, "", false
	if i := strings.IndexAny(s, ".,"); i >= 0 {
		whole, frac, hasSep = s[:i], s[i+1:], true
	}
	if whole == "" {
		whole = "0"
	}
	if !allDigits(whole) || !allDigits(frac) || (hasSep && frac == "") || len(whole) > maxAmountDigits {
		return 0, "Enter an amount like " + example + ", with digits and at most one decimal point."
	}
	if len(frac) == 3 && digits < 3 {
		// "1,000" or "1.000": a thousands separator or three decimals?
		if digits == 0 {
			return 0, "Enter whole units without thousands separators, like " + example + "."
		}
		return 0, "Use at most " + strconv.Itoa(digits) + " decimal places and no thousands separators, like " + example + "."
	}
	if len(frac) > digits {
		if strings.Trim(frac[digits:], "0") != "" {
			if digits == 0 {
				return 0, "This currency has no minor unit: enter whole units, like " + example + "."
			}
			return 0, "Use at most " + strconv.Itoa(digits) + " decimal places, like " + example + "."
		}
		frac = frac[:digits]
	}
	frac += strings.Repeat("0", digits-len(frac))
	n, err := strconv.ParseInt(whole+frac, 10, 64)
	if err != nil {
		return 0, "Enter a smaller amount."
	}
	return n, ""
}

// countRE is a whole number, optionally grouped in thousands ("10,000",
// "10 000", "10_000").
var countRE = regexp.MustCompile(`^(?:[0-9]+|[0-9]{1,3}(?:[,_ '\x{00a0}][0-9]{3})+)$`)

// parseCount reads a whole number of calls or days. An empty string is not
// a count: callers decide what empty means.
func parseCount(s string) (int64, bool) {
	s = strings.TrimSpace(s)
	if !countRE.MatchString(s) {
		return 0, false
	}
	clean := strings.Map(func(r rune) rune {
		if r < '0' || r > '9' {
			return -1
		}
		return r
	}, s)
	if len(clean) > 15 {
		return 0, false
	}
	n, err := strconv.ParseInt(clean, 10, 64)
	return n, err == nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// formatAmount writes a minor-unit amount in the main unit, as the plan
// form takes it: 4900 usd is "49.00", 500 jpy is "500".
func formatAmount(minor int64, currency string) string {
	digits := minorDigits(currency)
	neg := minor < 0
	if neg {
		minor = -minor
	}
	s := strconv.FormatInt(minor, 10)
	if digits > 0 {
		if len(s) <= digits {
			s = strings.Repeat("0", digits-len(s)+1) + s
		}
		s = s[:len(s)-digits] + "." + s[len(s)-digits:]
	}
	if neg {
		s = "-" + s
	}
	return s
}

// currencySymbols are the currencies shown with a symbol; others are
// shown with their code after the amount.
var currencySymbols = map[string]string{"usd": "$", "eur": "€", "gbp": "£", "cny": "CN¥", "jpy": "¥"}

// formatMoney shows a minor-unit amount with its currency and thousands
// separators: "$1,249.00", "¥500", "12.50 CHF".
func formatMoney(minor int64, currency string) string {
	amount := formatAmount(minor, currency)
	whole, frac, _ := strings.Cut(amount, ".")
	neg := strings.HasPrefix(whole, "-")
	whole = groupThousands(strings.TrimPrefix(whole, "-"))
	if frac != "" {
		whole += "." + frac
	}
	sign := ""
	if neg {
		sign = "-"
	}
	if sym, ok := currencySymbols[strings.ToLower(currency)]; ok {
		return sign + sym + whole
	}
	return sign + whole + " " + strings.ToUpper(currency)
}

func groupThousands(digits string) string {
	if len(digits) <= 3 {
		return digits
	}
	var b strings.Builder
	lead := len(digits) % 3
	if lead > 0 {
		b.WriteString(digits[:lead])
	}
	for i := lead; i < len(digits); i += 3 {
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(digits[i : i+3])
	}
	return b.String()
}

// planTerms formats a plan's terms for the market's comparison table.
func planTerms(p billing.Plan) market.PlanTerms {
	t := market.PlanTerms{
		Slug: p.Slug, Name: p.Name, Description: p.Description,
		Price: "Free", Free: p.PriceCents == 0,
		Included:   components.Count(p.IncludedCalls),
		Overage:    "Hard limit",
		RateLimit:  "None",
		DayQuota:   "Unlimited",
		MonthQuota: "Unlimited",
		Approval:   "Automatic",
		Trial:      "None",
		Versions:   strings.Join(p.Versions, ", "),
	}
	if p.PriceCents != 0 {
		t.Price = formatMoney(p.PriceCents, p.Currency)
	}
	if p.IncludedCalls == 0 {
		t.Included = "None"
	}
	if o := p.OverageCentsPer1000; o != nil {
		if *o == 0 {
			t.Overage = "No charge"
		} else {
			t.Overage = formatMoney(*o, p.Currency) + " per 1,000 calls"
		}
	}
	if rl := p.RateLimit; rl != nil {
		burst := rl.Burst
		if burst == 0 {
			burst = rl.RequestsPerSecond
		}
		t.RateLimit = components.Count(int64(rl.RequestsPerSecond)) + " req/s (burst " + components.Count(int64(burst)) + ")"
	}
	if q := p.Quota.Day; q != nil {
		t.DayQuota = components.Count(*q) + " calls"
	}
	if q := p.Quota.Month; q != nil {
		t.MonthQuota = components.Count(*q) + " calls"
	}
	if p.Approval == billing.ApprovalManual {
		t.Approval = "Manual"
	}
	switch {
	case p.TrialDays == 1:
		t.Trial = "1 day"
	case p.TrialDays > 1:
		t.Trial = strconv.Itoa(p.TrialDays) + " days"
	}
	if t.Versions == "" {
		t.Versions = "None"
	}
	return t
}

// planLimits sums up a plan's limits in one line for the plans table.
func planLimits(t market.PlanTerms) string {
	parts := []string{t.Included + " calls/month included"}
	if t.Included == "None" {
		parts[0] = "No calls included"
	}
	if t.Overage == "Hard limit" {
		parts = append(parts, "hard limit")
	} else {
		parts = append(parts, "then "+t.Overage)
	}
	if t.RateLimit != "None" {
		parts = append(parts, t.RateLimit)
	}
	if t.DayQuota != "Unlimited" {
		parts = append(parts, t.DayQuota+"/day")
	}
	if t.MonthQuota != "Unlimited" {
		parts = append(parts, t.MonthQuota+"/month")
	}
	return strings.Join(parts, " · ")
}
