package web

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/portico-dev/portico/templates/pages/members"
	"github.com/portico-dev/portico/tenants"
)

// membersPage loads the members page's tables; the invite form's state is
// filled in by the caller.
func (w *Console) membersPage(c *gin.Context) (members.ListProps, error) {
	ctx := c.Request.Context()
	org, role := currentOrg(c), currentRole(c)
	l, err := w.Tenants.ListMembers(ctx, org.ID, w.actor(c), pageParam(c))
	if err != nil {
		return members.ListProps{}, err
	}
	p := members.ListProps{CanManage: role.CanManageMembers(), IsOwner: role == tenants.RoleOwner, InviteRole: string(tenants.RoleDeveloper)}
	for _, r := range tenants.Roles {
		p.Roles = append(p.Roles, string(r))
	}
	me := w.user(c).ID
	for _, m := range l.Items {
		p.Members = append(p.Members, members.MemberRow{
			UserID: m.User.ID, Name: m.User.Name, Email: m.User.Email, Role: string(m.Role),
			Joined: formatTime(m.JoinedAt), Verified: m.User.Verified(), IsSelf: m.User.ID == me,
		})
	}
	p.FirstURL, p.NextURL = pageURLs(c, l.NextCursor)
	invs, err := w.Tenants.ListInvitations(ctx, org.ID, w.actor(c), tenants.Page{Limit: 50})
	if err != nil {
		return members.ListProps{}, err
	}
	now := w.Tenants.Now()
	var pending, rest []members.InvitationRow
	for _, i := range invs.Items {
		row := members.InvitationRow{ID: i.ID, Email: i.Email, Role: string(i.Role), Status: i.Status(now), Expires: formatTime(i.ExpiresAt), Created: formatTime(i.CreatedAt)}
		if row.Status == "pending" {
			pending = append(pending, row)
		} else {
			rest = append(rest, row)
		}
	}
	p.Invitations = append(pending, rest...)
	p.Page = w.page(c, "Members", "members")
	return p, nil
}

// showMembers lists members and invitations.
func (w *Console) showMembers(c *gin.Context) {
	p, err := w.membersPage(c)
	if err != nil {
		w.fail(c, err)
		return
	}
	w.render(c, http.StatusOK, members.List(p))
}

// createInvitation invites someone by email.
func (w *Console) createInvitation(c *gin.Context) {
	org := currentOrg(c)
	email, role := c.PostForm("email"), c.PostForm("role")
	inv, err := w.Tenants.Invite(c.Request.Context(), org.ID, w.actor(c), email, tenants.Role(role))
	if err != nil {
		if tenants.ErrorCode(err) == tenants.EInternal {
			w.fail(c, err)
			return
		}
		p, lerr := w.membersPage(c)
		if lerr != nil {
			w.fail(c, lerr)
			return
		}
		p.InviteEmail, p.InviteRole = email, role
		p.Message, p.Errors = formErrors(err, nil)
		w.render(c, httpStatusForForm(err), members.List(p))
		return
	}
	setFlash(c, "success", "Invitation sent to "+inv.Email+".")
	redirect(c, "/orgs/"+org.Slug+"/members")
}

// revokeInvitation withdraws a pending invitation.
func (w *Console) revokeInvitation(c *gin.Context) {
	org := currentOrg(c)
	w.flashResult(c, w.Tenants.RevokeInvitation(c.Request.Context(), org.ID, w.actor(c), c.Param("id")), "Invitation revoked.")
	redirect(c, "/orgs/"+org.Slug+"/members")
}

// changeRole gives a member another role.
func (w *Console) changeRole(c *gin.Context) {
	org := currentOrg(c)
	m, err := w.Tenants.ChangeRole(c.Request.Context(), org.ID, w.actor(c), c.Param("user"), tenants.Role(c.PostForm("role")))
	if err == nil {
		w.flashResult(c, nil, m.User.Name+" is now "+string(m.Role)+".")
	} else {
		w.flashResult(c, err, "")
	}
	if c.IsAborted() {
		return
	}
	redirect(c, "/orgs/"+org.Slug+"/members")
}

// removeMember removes a member, or lets the user leave.
func (w *Console) removeMember(c *gin.Context) {
	org := currentOrg(c)
	self := c.Param("user") == w.user(c).ID
	err := w.Tenants.RemoveMember(c.Request.Context(), org.ID, w.actor(c), c.Param("user"))
	if err == nil && self {
		setFlash(c, "success", "You left "+org.Name+".")
		redirect(c, "/")
		return
	}
	w.flashResult(c, err, "Member removed.")
	if c.IsAborted() {
		return
	}
	redirect(c, "/orgs/"+org.Slug+"/members")
}

// flashResult turns the outcome of a one-button action into a flash message;
// internal errors render the error page instead.
func (w *Console) flashResult(c *gin.Context, err error, success string) {
	switch tenants.ErrorCode(err) {
	case "":
		setFlash(c, "success", success)
	case tenants.EInternal, tenants.ENotFound:
		w.fail(c, err) // another tenant's id reads as a plain 404
	default:
		setFlash(c, "error", tenants.ErrorMessage(err))
	}
}
