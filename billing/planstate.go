package billing

import (
	"slices"
	"strings"

	"github.com/portico-dev/portico/tenants"
)

// PlanState is where a plan revision is in its life.
type PlanState string

// Plan states. A draft is invisible to partners and may still change. A
// published revision is offered in the market and its terms are frozen. A
// deprecated revision takes no new subscriptions but its subscribers keep it.
// A closed revision is final: nobody can use it any more.
const (
	PlanDraft      PlanState = "draft"
	PlanPublished  PlanState = "published"
	PlanDeprecated PlanState = "deprecated"
	PlanClosed     PlanState = "closed"
)

// PlanStates lists every state in lifecycle order.
var PlanStates = []PlanState{PlanDraft, PlanPublished, PlanDeprecated, PlanClosed}

// planTransitions is the whole state machine: the states each state may move
// to. There is no way back: a deprecated revision is never republished (a
// change is a new revision instead), and closed is final.
var planTransitions = map[PlanState][]PlanState{
	PlanDraft:      {PlanPublished},
	PlanPublished:  {PlanDeprecated, PlanClosed},
	PlanDeprecated: {PlanClosed},
	PlanClosed:     {},
}

// Valid reports whether s is a known state.
func (s PlanState) Valid() bool { _, ok := planTransitions[s]; return ok }

// Next returns the states s may move to, for showing only the actions that
// can succeed.
func (s PlanState) Next() []PlanState { return slices.Clone(planTransitions[s]) }

// CanBecome reports whether a revision in state s may move to state to.
func (s PlanState) CanBecome(to PlanState) bool { return slices.Contains(planTransitions[s], to) }

// CheckTransition returns nil when a revision may move from one state to the
// other, else an EConflict error saying what the current state allows, such
// as "A published plan can become deprecated or closed."
func CheckTransition(from, to PlanState) error {
	if from.CanBecome(to) {
		return nil
	}
	next := planTransitions[from]
	if len(next) == 0 {
		if from.Valid() {
			return tenants.Errorf(tenants.EConflict, "A %s plan is final; it cannot become %s.", from, to)
		}
		return tenants.Errorf(tenants.EConflict, "A plan in state %q cannot become %s.", from, to)
	}
	names := make([]string, len(next))
	for i, n := range next {
		names[i] = string(n)
	}
	list := names[0]
	if len(names) > 1 {
		list = strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
	}
	return tenants.Errorf(tenants.EConflict, "A %s plan can become %s.", from, list)
}
