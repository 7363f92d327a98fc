package billing

import (
	"slices"
	"strings"

	"github.com/portico-dev/portico/tenants"
)

// SubscriptionStatus is where a subscription is in its life.
type SubscriptionStatus string

// Subscription statuses. A subscription to a manual-approval plan starts
// pending approval; one to a paid plan waits for payment (checkout does not
// exist yet, so nothing moves it on for now); the rest start active. Active
// and suspended subscriptions have running periods. Rejected, cancelled,
// terminated and ended are final: a new subscription is a new row.
const (
	SubPendingApproval SubscriptionStatus = "pending_approval"
	SubPendingPayment  SubscriptionStatus = "pending_payment"
	SubActive          SubscriptionStatus = "active"
	SubSuspended       SubscriptionStatus = "suspended"
	SubRejected        SubscriptionStatus = "rejected"
	SubCancelled       SubscriptionStatus = "cancelled"
	SubTerminated      SubscriptionStatus = "terminated"
	SubEnded           SubscriptionStatus = "ended"
)

// SubscriptionStatuses lists every status, live ones first.
var SubscriptionStatuses = []SubscriptionStatus{
	SubPendingApproval, SubPendingPayment, SubActive, SubSuspended,
	SubRejected, SubCancelled, SubTerminated, SubEnded,
}

// subTransitions is the whole state machine: the statuses each status may
// move to, and through which action.
//
//   - pending approval: the provider approves (active, or pending payment for
//     a paid plan) or rejects; the partner withdraws (cancelled); the
//     version going offline ends it.
//   - pending payment: payment activates it (once checkout exists); the
//     partner cancels; the provider terminates; the version going offline
//     ends it.
//   - active: the provider suspends or terminates; the partner cancels (at
//     once, or at the period end for a paid plan); the version going offline
//     ends it.
//   - suspended: the provider resumes or terminates; the partner cancels; the
//     version going offline ends it.
//
// Changes that keep the status (a plan change, a scheduled cancellation, a
// new period) are not transitions.
var subTransitions = map[SubscriptionStatus][]SubscriptionStatus{
	SubPendingApproval: {SubActive, SubPendingPayment, SubRejected, SubCancelled, SubEnded},
	SubPendingPayment:  {SubActive, SubCancelled, SubTerminated, SubEnded},
	SubActive:          {SubSuspended, SubCancelled, SubTerminated, SubEnded},
	SubSuspended:       {SubActive, SubCancelled, SubTerminated, SubEnded},
	SubRejected:        {},
	SubCancelled:       {},
	SubTerminated:      {},
	SubEnded:           {},
}

// liveStatuses are the statuses that hold an app's one place on an API and
// that the gateway must know about.
var liveStatuses = []SubscriptionStatus{SubPendingApproval, SubPendingPayment, SubActive, SubSuspended}

// Valid reports whether s is a known status.
func (s SubscriptionStatus) Valid() bool { _, ok := subTransitions[s]; return ok }

// Live reports whether a subscription in status s still counts: pending,
// active or suspended. An app has at most one live subscription per API.
func (s SubscriptionStatus) Live() bool { return slices.Contains(liveStatuses, s) }

// Final reports whether s is a status no subscription ever leaves.
func (s SubscriptionStatus) Final() bool { return s.Valid() && len(subTransitions[s]) == 0 }

// Next returns the statuses s may move to, for showing only the actions that
// can succeed.
func (s SubscriptionStatus) Next() []SubscriptionStatus { return slices.Clone(subTransitions[s]) }

// CanBecome reports whether a subscription in status s may move to status to.
func (s SubscriptionStatus) CanBecome(to SubscriptionStatus) bool {
	return slices.Contains(subTransitions[s], to)
}

// Label is the status in words, like "pending approval".
func (s SubscriptionStatus) Label() string { return strings.ReplaceAll(string(s), "_", " ") }

// CheckSubscriptionTransition returns nil when a subscription may move from
// one status to the other, else an EConflict error naming what the current
// status allows, such as "A suspended subscription can become active,
// cancelled, terminated or ended." or "An ended subscription is final; it
// cannot become active."
func CheckSubscriptionTransition(from, to SubscriptionStatus) error {
	if from.CanBecome(to) {
		return nil
	}
	next := subTransitions[from]
	if len(next) == 0 {
		if from.Valid() {
			return tenants.Errorf(tenants.EConflict, "%s subscription is final; it cannot become %s.", article(from.Label()), to.Label())
		}
		return tenants.Errorf(tenants.EConflict, "A subscription in status %q cannot become %s.", from, to.Label())
	}
	names := make([]string, len(next))
	for i, n := range next {
		names[i] = n.Label()
	}
	return tenants.Errorf(tenants.EConflict, "%s subscription can become %s.", article(from.Label()), orList(names))
}

// article prefixes a word with "A" or "An", to start a sentence.
func article(word string) string {
	if word != "" && strings.ContainsRune("aeiou", rune(word[0])) {
		return "An " + word
	}
	return "A " + word
}

// orList joins names as "a, b or c".
func orList(names []string) string {
	if len(names) <= 1 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}
