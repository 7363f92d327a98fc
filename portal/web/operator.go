package web

import (
	"crypto/subtle"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/portico-dev/portico/templates/pages/operator"
	"github.com/portico-dev/portico/tenants"
)

// showOperatorLogin asks for the operator token.
func (w *Console) showOperatorLogin(c *gin.Context) {
	w.render(c, http.StatusOK, operator.Login(operator.LoginProps{Page: w.page(c, "Operator", "")}))
}

// operatorLogIn checks the operator token and starts an operator session.
func (w *Console) operatorLogIn(c *gin.Context) {
	if ok, _ := w.LoginIPThrottle.Allow("operator-ip:" + c.ClientIP()); !ok {
		w.render(c, http.StatusTooManyRequests, operator.Login(operator.LoginProps{Page: w.page(c, "Operator", ""), Message: "Too many attempts. Try again later."}))
		return
	}
	tok := c.PostForm("token")
	if w.OperatorToken == "" || subtle.ConstantTimeCompare([]byte(tok), []byte(w.OperatorToken)) != 1 {
		w.Logger.WarnContext(c.Request.Context(), "operator login failed", "ip", c.ClientIP())
		w.render(c, http.StatusUnauthorized, operator.Login(operator.LoginProps{Page: w.page(c, "Operator", ""), Message: "That is not the operator token."}))
		return
	}
	exp := time.Now().Add(w.Operator.TTL())
	if err := w.Operator.Issue(c.Writer, "operator", tenants.EncodeCursor(c.ClientIP()), exp); err != nil {
		w.fail(c, err)
		return
	}
	redirect(c, "/operator/outbox")
}

// operatorLogOut ends the operator session.
func (w *Console) operatorLogOut(c *gin.Context) {
	w.Operator.Clear(c.Writer)
	redirect(c, "/operator/login")
}

// requireOperator lets only the operator through.
func (w *Console) requireOperator(c *gin.Context) {
	if cl, ok := w.Operator.Read(c.Request); ok && cl.Subject == "operator" {
		c.Next()
		return
	}
	redirect(c, "/operator/login")
}

// showOutbox lists the emails Portico would have sent.
func (w *Console) showOutbox(c *gin.Context) {
	p := operator.OutboxProps{}
	if w.Outbox != nil {
		pg := pageParam(c)
		after := ""
		if pg.Cursor != "" {
			var err error
			if after, err = tenants.DecodeCursor(pg.Cursor); err != nil {
				w.fail(c, err)
				return
			}
		}
		rows, err := w.Outbox.List(c.Request.Context(), after, pg.Limit+1)
		if err != nil {
			w.fail(c, err)
			return
		}
		next := ""
		if len(rows) > pg.Limit {
			rows = rows[:pg.Limit]
			next = tenants.EncodeCursor(rows[len(rows)-1].ID)
		}
		for _, r := range rows {
			p.Emails = append(p.Emails, operator.EmailRow{ID: r.ID, To: r.ToAddr, Subject: r.Subject, Body: r.Body, When: formatTime(r.CreatedAt)})
		}
		p.FirstURL, p.NextURL = pageURLs(c, next)
	}
	p.Page = w.page(c, "Outbox", "")
	w.render(c, http.StatusOK, operator.Outbox(p))
}
