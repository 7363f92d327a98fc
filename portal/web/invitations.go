package web

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/portico-dev/portico/templates/pages/auth"
	"github.com/portico-dev/portico/tenants"
)

// showInvitation shows an invitation to its recipient.
func (w *Console) showInvitation(c *gin.Context) {
	tok := c.Param("token")
	p := auth.InvitationProps{Page: w.page(c, "Invitation", "")}
	d, err := w.Tenants.InvitationByToken(c.Request.Context(), tok)
	if err != nil {
		if tenants.ErrorCode(err) == tenants.EInternal {
			w.fail(c, err)
			return
		}
		p.Invalid = tenants.ErrorMessage(err)
		w.render(c, http.StatusNotFound, auth.InvitationPage(p))
		return
	}
	p.Invitation = *invitationProps(tok, d)
	if v, ok := c.Get(ctxUser); ok {
		p.SignedInAs = v.(tenants.User).Email
	}
	w.render(c, http.StatusOK, auth.InvitationPage(p))
}

// acceptInvitation joins the signed-in user to the inviting organisation.
func (w *Console) acceptInvitation(c *gin.Context) {
	org, role, err := w.Tenants.AcceptInvitation(c.Request.Context(), w.actor(c), c.Param("token"))
	if err != nil {
		if tenants.ErrorCode(err) == tenants.EInternal {
			w.fail(c, err)
			return
		}
		setFlash(c, "error", tenants.ErrorMessage(err))
		redirect(c, "/invitations/"+c.Param("token"))
		return
	}
	setFlash(c, "success", "You joined "+org.Name+" as "+string(role)+".")
	redirect(c, "/orgs/"+org.Slug)
}
