package catalog

import (
	"strings"

	"github.com/portico-dev/portico/tenants"
)

// transitions is the version lifecycle: the states each state may move to.
// Offline is final; a new version replaces an offline one.
var transitions = map[State][]State{
	Draft:      {Published},
	Published:  {Deprecated, Offline},
	Deprecated: {Offline},
	Offline:    nil,
}

// CanTransition reports whether a version may move from one state to another.
func CanTransition(from, to State) bool {
	for _, s := range transitions[from] {
		if s == to {
			return true
		}
	}
	return false
}

// transitionError explains a refused transition and names the allowed ones.
func transitionError(from, to State) error {
	next := transitions[from]
	if len(next) == 0 {
		return tenants.Errorf(tenants.EConflict, "A %s version cannot become %s: %s is final. Create a new version instead.", from, to, from)
	}
	names := make([]string, len(next))
	for i, s := range next {
		names[i] = string(s)
	}
	return tenants.Errorf(tenants.EConflict, "A %s version cannot become %s; it can become %s.", from, to, strings.Join(names, " or "))
}
