package members

import (
	"slices"

	"github.com/portico-dev/portico/templates/components"
)

func (p ListProps) slug() string {
	if p.Page.Org != nil {
		return p.Page.Org.Slug
	}
	return ""
}

func (p ListProps) orgName() string {
	if p.Page.Org != nil && p.Page.Org.Name != "" {
		return p.Page.Org.Name
	}
	return "the organisation"
}

func (p ListProps) path(segments ...string) string {
	return components.Path(append([]string{"orgs", p.slug()}, segments...)...)
}

// canChangeRole: managers may change others' roles; only owners may touch
// an owner.
func (p ListProps) canChangeRole(m MemberRow) bool {
	return p.CanManage && !m.IsSelf && (p.IsOwner || m.Role != "owner")
}

// canRemove: anyone may leave; managers may remove others, owners only by
// owners.
func (p ListProps) canRemove(m MemberRow) bool {
	return m.IsSelf || (p.CanManage && (p.IsOwner || m.Role != "owner"))
}

func (p ListProps) roleOptions() []components.Option {
	return components.RoleOptions(p.Roles, p.IsOwner)
}

// inviteRole is the role preselected in the invite form: the submitted one,
// else "developer", else the least powerful offered — never "owner" by
// default.
func (p ListProps) inviteRole() string {
	if p.InviteRole != "" {
		return p.InviteRole
	}
	opts := p.roleOptions()
	if slices.ContainsFunc(opts, func(o components.Option) bool { return o.Value == "developer" }) {
		return "developer"
	}
	if len(opts) > 0 {
		return opts[len(opts)-1].Value
	}
	return ""
}

// showInvitations: managers always see the section; others only when the
// handler passed invitations.
func (p ListProps) showInvitations() bool {
	return p.CanManage || len(p.Invitations) > 0
}

func displayName(m MemberRow) string {
	if m.Name != "" {
		return m.Name
	}
	return m.Email
}

func removeConfirm(p ListProps, m MemberRow) string {
	if m.IsSelf {
		return "Leave " + p.orgName() + "? You will lose access until someone invites you again."
	}
	return "Remove " + displayName(m) + " from " + p.orgName() + "? They lose access immediately."
}
