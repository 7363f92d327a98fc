package web

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/portico-dev/portico/templates/pages/audit"
)

// showAudit shows the organisation's audit log.
func (w *Console) showAudit(c *gin.Context) {
	l, err := w.Tenants.ListAudit(c.Request.Context(), currentOrg(c).ID, w.actor(c), pageParam(c))
	if err != nil {
		w.fail(c, err)
		return
	}
	p := audit.ListProps{}
	for _, e := range l.Items {
		p.Events = append(p.Events, audit.EventRow{
			When: formatTime(e.CreatedAt), Actor: e.ActorEmail, Action: e.Action,
			Object: e.ObjectType + " " + e.ObjectID, IP: e.IP, Details: e.Details,
		})
	}
	p.FirstURL, p.NextURL = pageURLs(c, l.NextCursor)
	p.Page = w.page(c, "Audit log", "audit")
	w.render(c, http.StatusOK, audit.List(p))
}
