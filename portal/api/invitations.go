package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/portico-dev/portico/tenants"
)

type createInvitationRequest struct {
	Email string       `json:"email"`
	Role  tenants.Role `json:"role"`
}

// createInvitation invites an email address; the invitation link goes to
// that address by email and is never returned here.
func (a *API) createInvitation(c *gin.Context) {
	var req createInvitationRequest
	if err := decode(c, &req); err != nil {
		a.fail(c, err)
		return
	}
	if req.Role == "" {
		req.Role = tenants.RoleDeveloper
	}
	inv, err := a.Tenants.Invite(c.Request.Context(), currentOrg(c).ID, a.actor(c), req.Email, req.Role)
	if err != nil {
		a.fail(c, err)
		return
	}
	a.ok(c, http.StatusCreated, viewInvitation(a.Tenants.Now())(inv))
}

// listInvitations lists the organisation's invitations, newest first.
func (a *API) listInvitations(c *gin.Context) {
	p, err := page(c)
	if err != nil {
		a.fail(c, err)
		return
	}
	l, err := a.Tenants.ListInvitations(c.Request.Context(), currentOrg(c).ID, a.actor(c), p)
	if err != nil {
		a.fail(c, err)
		return
	}
	a.ok(c, http.StatusOK, listOf(l, viewInvitation(a.Tenants.Now())))
}

// revokeInvitation withdraws a pending invitation.
func (a *API) revokeInvitation(c *gin.Context) {
	if err := a.Tenants.RevokeInvitation(c.Request.Context(), currentOrg(c).ID, a.actor(c), c.Param("id")); err != nil {
		a.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

type acceptInvitationRequest struct {
	Token string `json:"token"`
}

// acceptInvitation makes the caller a member of the inviting organisation.
func (a *API) acceptInvitation(c *gin.Context) {
	var req acceptInvitationRequest
	if err := decode(c, &req); err != nil {
		a.fail(c, err)
		return
	}
	if req.Token == "" {
		a.fail(c, tenants.FieldError("token", "Send the token from the invitation link."))
		return
	}
	org, role, err := a.Tenants.AcceptInvitation(c.Request.Context(), a.actor(c), req.Token)
	if err != nil {
		a.fail(c, err)
		return
	}
	a.ok(c, http.StatusCreated, membershipView{Organization: viewOrg(org), Role: role})
}
