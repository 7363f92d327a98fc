package subscriptions

import (
	"strconv"

	"github.com/portico-dev/portico/templates/components"
	"github.com/portico-dev/portico/templates/layout"
)

// StatusKind is the Badge kind of a subscription status.
func StatusKind(status string) string {
	switch status {
	case "active":
		return "success"
	case "pending_approval", "pending_payment":
		return "warning"
	case "suspended", "rejected", "terminated":
		return "danger"
	case "cancelled", "ended":
		return "muted"
	}
	return "neutral"
}

// calloutKind is the callout colour of a status.
func calloutKind(status string) string {
	switch StatusKind(status) {
	case "success":
		return "callout callout-success"
	case "warning":
		return "callout callout-warning"
	case "danger":
		return "callout callout-error"
	}
	return "callout callout-info"
}

// statusText is what a status means when billing has no notice to add.
func statusText(status string) string {
	switch status {
	case "active":
		return "The app can call the API with its keys, within the plan's limits."
	case "cancelled":
		return "The subscription was cancelled; the app can no longer call the API through it."
	}
	return ""
}

func orgSlug(p layout.Page) string {
	if p.Org != nil {
		return p.Org.Slug
	}
	return ""
}

func orgPath(p layout.Page, segments ...string) string {
	return components.Path(append([]string{"orgs", orgSlug(p)}, segments...)...)
}

// crumb is one breadcrumb; the last one is the current page.
type crumb struct {
	Label, Href string
}

// cancelHelp explains what cancelling does to this subscription.
func (p DetailProps) cancelHelp() string {
	switch {
	case p.Status == "pending_approval":
		return "Withdraw the request: the provider will not decide on it any more."
	case p.Status == "pending_payment":
		return "Nothing was paid yet, so the subscription ends at once."
	case p.Paid:
		return "A paid subscription stays active until the end of the period you paid for, " + p.PeriodEnd + ", then ends. Nothing is refunded."
	}
	return "A free subscription ends at once: the app's calls to " + p.APIName + " are refused from then on."
}

func (p DetailProps) cancelLabel() string {
	if p.Status == "pending_approval" {
		return "Withdraw the request"
	}
	return "Cancel the subscription"
}

func (p DetailProps) cancelConfirm() string {
	if p.Status == "pending_approval" {
		return "Withdraw the request for " + p.APIName + "?"
	}
	if p.Paid && p.Status == "active" {
		return "Cancel the subscription to " + p.APIName + "? It stays active until " + p.PeriodEnd + ", then ends."
	}
	return "Cancel the subscription to " + p.APIName + "? The app's calls are refused at once."
}

func terminateConfirm(p SubscriberProps) string {
	return "Terminate the subscription of " + p.Partner + " (" + p.App + ") to " + p.APIName + "? This ends it for good; the partner sees your reason."
}

// reasonID is the id of a decision form's reason field.
func reasonID(form string) string { return form + "-reason" }

// failed reports whether the decision form failed with a missing reason.
func (p SubscriberProps) failed(form string) bool { return p.Failed == form }

func (p SubscriberProps) reasonError(form string) string {
	if p.failed(form) {
		return p.ReasonError
	}
	return ""
}

func (p SubscriberProps) reasonValue(form string) string {
	if p.failed(form) {
		return p.ReasonValue
	}
	return ""
}

// pendingLabel says how many requests wait: "3 requests wait for a
// decision".
func pendingLabel(n int) string {
	switch {
	case n == 1:
		return "1 request waits for a decision"
	case n >= 100:
		return "100 or more requests wait for a decision"
	}
	return strconv.Itoa(n) + " requests wait for a decision"
}

// queueReasonID is the id of a queue row's reason field.
func queueReasonID(r RequestRow) string { return "reason-" + r.ID }

// meterValue is what a quota's <meter> shows: the use, at most the limit
// (the text says by how much it went beyond).
func (q QuotaMeter) meterValue() string { return strconv.FormatInt(min(q.Used, q.Limit), 10) }

func (q QuotaMeter) meterMax() string { return strconv.FormatInt(q.Limit, 10) }

// meterLow is where the warning starts, 80% of the limit.
func (q QuotaMeter) meterLow() string { return strconv.FormatInt(q.Limit*8/10, 10) }

func (q QuotaMeter) describedBy() string { return q.ID + "-text " + q.ID + "-window" }

// usageAction is the range form's action: the page, back at its usage
// card.
func (u UsageProps) usageAction() string { return u.Action + "#usage" }
