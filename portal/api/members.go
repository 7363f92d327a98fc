package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/portico-dev/portico/tenants"
)

// listMembers lists the organisation's members.
func (a *API) listMembers(c *gin.Context) {
	p, err := page(c)
	if err != nil {
		a.fail(c, err)
		return
	}
	l, err := a.Tenants.ListMembers(c.Request.Context(), currentOrg(c).ID, a.actor(c), p)
	if err != nil {
		a.fail(c, err)
		return
	}
	a.ok(c, http.StatusOK, listOf(l, viewMember))
}

// showMember returns one member.
func (a *API) showMember(c *gin.Context) {
	m, err := a.Tenants.Member(c.Request.Context(), currentOrg(c).ID, a.actor(c), c.Param("user"))
	if err != nil {
		a.fail(c, err)
		return
	}
	a.ok(c, http.StatusOK, viewMember(m))
}

type updateMemberRequest struct {
	Role tenants.Role `json:"role"`
}

// updateMember changes a member's role.
func (a *API) updateMember(c *gin.Context) {
	var req updateMemberRequest
	if err := decode(c, &req); err != nil {
		a.fail(c, err)
		return
	}
	m, err := a.Tenants.ChangeRole(c.Request.Context(), currentOrg(c).ID, a.actor(c), c.Param("user"), req.Role)
	if err != nil {
		a.fail(c, err)
		return
	}
	a.ok(c, http.StatusOK, viewMember(m))
}

// removeMember removes a member (or lets the caller leave).
func (a *API) removeMember(c *gin.Context) {
	if err := a.Tenants.RemoveMember(c.Request.Context(), currentOrg(c).ID, a.actor(c), c.Param("user")); err != nil {
		a.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}
