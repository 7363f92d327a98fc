package web

import (
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/portico-dev/portico/billing"
)

func TestParseAmount(t *testing.T) {
	tests := []struct {
		name, in, currency string
		want               int64
		msg                string // part of the message; "" means valid
	}{
		{"dollars and cents", "49.00", "usd", 4900, ""},
		{"whole dollars", "49", "usd", 4900, ""},
		{"one decimal", "49.5", "usd", 4950, ""},
		{"decimal comma", "49,50", "eur", 4950, ""},
		{"leading dot", ".50", "usd", 50, ""},
		{"zero is free", "0", "usd", 0, ""},
		{"spaces around", " 12.30 ", "gbp", 1230, ""},
		{"trailing zeros beyond cents", "49.000", "usd", 0, "no thousands separators"},
		{"thousands separator", "1,000", "usd", 0, "no thousands separators"},
		{"too many decimals", "49.9999", "usd", 0, "at most 2 decimal places"},
		{"yen is whole", "500", "jpy", 500, ""},
		{"yen with zero decimals", "500.00", "jpy", 500, ""},
		{"yen with a fraction", "500.5", "jpy", 0, "no minor unit"},
		{"yen with a thousands separator", "1,000", "jpy", 0, "without thousands separators"},
		{"dinar has three decimals", "1.250", "kwd", 1250, ""},
		{"negative", "-1", "usd", 0, "0 or more"},
		{"empty", "", "usd", 0, "Enter an amount"},
		{"letters", "ten", "usd", 0, "with digits"},
		{"two separators", "1.000,00", "eur", 0, "with digits"},
		{"separator without decimals", "49.", "usd", 0, "with digits"},
		{"currency symbol", "$49", "usd", 0, "with digits"},
		{"huge", "1234567890123", "usd", 0, "with digits"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, msg := parseAmount(tc.in, tc.currency)
			if tc.msg == "" {
				if msg != "" || got != tc.want {
					t.Fatalf("parseAmount(%q, %s) = %d, %q; want %d", tc.in, tc.currency, got, msg, tc.want)
				}
				return
			}
			if !strings.Contains(msg, tc.msg) {
				t.Fatalf("parseAmount(%q, %s) = %d, %q; want a message with %q", tc.in, tc.currency, got, msg, tc.msg)
			}
		})
	}
}

func TestParseCount(t *testing.T) {
	good := map[string]int64{"0": 0, "10000": 10000, "10,000": 10000, "1 000 000": 1000000, "10_000": 10000, "1'000": 1000, " 42 ": 42}
	for in, want := range good {
		if got, ok := parseCount(in); !ok || got != want {
			t.Errorf("parseCount(%q) = %d, %v; want %d", in, got, ok, want)
		}
	}
	for _, in := range []string{"", "1.5", "1,5", "10,00", "-3", "ten", "1e6", "9999999999999999"} {
		if got, ok := parseCount(in); ok {
			t.Errorf("parseCount(%q) = %d, want refused", in, got)
		}
	}
}

func TestFormatMoney(t *testing.T) {
	tests := []struct {
		minor    int64
		currency string
		amount   string
		money    string
	}{
		{4900, "usd", "49.00", "$49.00"},
		{5, "usd", "0.05", "$0.05"},
		{123456789, "eur", "1234567.89", "€1,234,567.89"},
		{500, "jpy", "500", "¥500"},
		{1200000, "jpy", "1200000", "¥1,200,000"},
		{999, "cny", "9.99", "CN¥9.99"},
		{1250, "chf", "12.50", "12.50 CHF"},
		{1250, "kwd", "1.250", "1.250 KWD"},
	}
	for _, tc := range tests {
		if got := formatAmount(tc.minor, tc.currency); got != tc.amount {
			t.Errorf("formatAmount(%d, %s) = %q, want %q", tc.minor, tc.currency, got, tc.amount)
		}
		if got := formatMoney(tc.minor, tc.currency); got != tc.money {
			t.Errorf("formatMoney(%d, %s) = %q, want %q", tc.minor, tc.currency, got, tc.money)
		}
		if back, msg := parseAmount(tc.amount, tc.currency); msg != "" || back != tc.minor {
			t.Errorf("parseAmount(formatAmount(%d, %s)) = %d, %q", tc.minor, tc.currency, back, msg)
		}
	}
}

func TestPlanTerms(t *testing.T) {
	day, overage := int64(1000), int64(50)
	got := planTerms(billing.Plan{
		Slug: "pro", Name: "Pro", PriceCents: 4900, Currency: "usd", IncludedCalls: 100000, OverageCentsPer1000: &overage,
		RateLimit: &billing.RateLimit{RequestsPerSecond: 5, Burst: 10}, Quota: billing.Quota{Day: &day},
		Approval: billing.ApprovalManual, TrialDays: 14, Versions: []string{"v1", "v2"},
	})
	want := got
	want.Price, want.Included, want.Overage, want.RateLimit = "$49.00", "100,000", "$0.50 per 1,000 calls", "5 req/s (burst 10)"
	want.DayQuota, want.MonthQuota, want.Approval, want.Trial, want.Versions = "1,000 calls", "Unlimited", "Manual", "14 days", "v1, v2"
	if got != want || got.Free {
		t.Errorf("terms = %+v\nwant    %+v", got, want)
	}
	free := planTerms(billing.Plan{Currency: "usd", Approval: billing.ApprovalAuto})
	if !free.Free || free.Price != "Free" || free.Overage != "Hard limit" || free.RateLimit != "None" || free.Included != "None" || free.Approval != "Automatic" {
		t.Errorf("free plan terms = %+v", free)
	}
}

func TestInkOn(t *testing.T) {
	for color, want := range map[string]string{"#000000": "#ffffff", "#ffffff": "#14171c", "#3355ff": "#ffffff", "#ffdd00": "#14171c", "#0e7c66": "#ffffff"} {
		if got := inkOn(color); got != want {
			t.Errorf("inkOn(%s) = %s, want %s", color, got, want)
		}
	}
}

func TestBrandColorOf(t *testing.T) {
	gin.SetMode(gin.TestMode)
	tests := []struct {
		name string
		form url.Values
		want string
		ok   bool
	}{
		{"no field", url.Values{"name": {"Acme"}}, "", false},
		{"typed", url.Values{"brand_color": {"#3355ff"}}, "#3355ff", true},
		{"text changed", url.Values{"brand_color": {"#111111"}, "brand_color_was": {"#3355ff"}, "brand_color_picker": {"#3355ff"}, "brand_color_picker_was": {"#3355ff"}}, "#111111", true},
		{"picker changed", url.Values{"brand_color": {"#3355ff"}, "brand_color_was": {"#3355ff"}, "brand_color_picker": {"#ff8800"}, "brand_color_picker_was": {"#3355ff"}}, "#ff8800", true},
		{"both changed: the text wins", url.Values{"brand_color": {"#111111"}, "brand_color_was": {"#3355ff"}, "brand_color_picker": {"#ff8800"}, "brand_color_picker_was": {"#3355ff"}}, "#111111", true},
		{"cleared", url.Values{"brand_color": {""}, "brand_color_was": {"#3355ff"}, "brand_color_picker": {"#3355ff"}, "brand_color_picker_was": {"#3355ff"}}, "", true},
		{"no colour, nothing changed", url.Values{"brand_color": {""}, "brand_color_was": {""}, "brand_color_picker": {"#4338ca"}, "brand_color_picker_was": {"#4338ca"}}, "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := gin.CreateTestContext(httptest.NewRecorder())
			c.Request = httptest.NewRequest("POST", "/orgs/acme/settings", strings.NewReader(tc.form.Encode()))
			c.Request.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			got, ok := brandColorOf(c)
			if got != tc.want || ok != tc.ok {
				t.Fatalf("brandColorOf = %q, %v; want %q, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}
