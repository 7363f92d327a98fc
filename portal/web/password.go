package web

import (
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/portico-dev/portico/templates/pages/auth"
	"github.com/portico-dev/portico/tenants"
)

// showForgotPassword shows the form that emails a reset link.
func (w *Console) showForgotPassword(c *gin.Context) {
	w.render(c, http.StatusOK, auth.Forgot(auth.ForgotProps{Page: w.page(c, "Forgot password", "")}))
}

// forgotPassword emails a reset link when the address has an account and
// says the same thing either way.
func (w *Console) forgotPassword(c *gin.Context) {
	p := auth.ForgotProps{Email: c.PostForm("email")}
	if ok, retry := w.ResetThrottle.Allow("ip:" + c.ClientIP()); !ok {
		p.Page = w.page(c, "Forgot password", "")
		p.Errors = map[string]string{"email": fmt.Sprintf("Too many requests. Try again in %d seconds.", int(retry.Seconds())+1)}
		w.render(c, http.StatusTooManyRequests, auth.Forgot(p))
		return
	}
	err := w.Tenants.RequestPasswordReset(c.Request.Context(), p.Email, c.ClientIP())
	if tenants.ErrorCode(err) == tenants.EInternal {
		w.fail(c, err)
		return
	}
	p.Page = w.page(c, "Forgot password", "")
	if err != nil {
		p.Errors = fieldErrors(err)
		w.render(c, http.StatusUnprocessableEntity, auth.Forgot(p))
		return
	}
	p.Sent = true
	w.render(c, http.StatusOK, auth.Forgot(p))
}

// showResetPassword shows the new-password form for a working link.
func (w *Console) showResetPassword(c *gin.Context) {
	tok := c.Query("token")
	p := auth.ResetProps{Page: w.page(c, "Choose a new password", ""), Token: tok}
	if err := w.Tenants.CheckResetToken(c.Request.Context(), tok); err != nil {
		p.Invalid = tenants.ErrorMessage(err)
	}
	w.render(c, http.StatusOK, auth.Reset(p))
}

// resetPassword sets the new password, which ends every session, and logs
// the person in afresh.
func (w *Console) resetPassword(c *gin.Context) {
	tok := c.PostForm("token")
	p := auth.ResetProps{Token: tok}
	pw := c.PostForm("password")
	if pw != c.PostForm("password_confirm") {
		p.Page = w.page(c, "Choose a new password", "")
		p.Errors = map[string]string{"password_confirm": "The two passwords do not match."}
		w.render(c, http.StatusUnprocessableEntity, auth.Reset(p))
		return
	}
	u, err := w.Tenants.ResetPassword(c.Request.Context(), tok, pw, c.ClientIP())
	if err != nil {
		if tenants.ErrorCode(err) == tenants.EInternal {
			w.fail(c, err)
			return
		}
		p.Page = w.page(c, "Choose a new password", "")
		if f := tenants.ErrorFields(err); len(f) > 0 {
			p.Errors = f
		} else {
			p.Invalid = tenants.ErrorMessage(err)
		}
		w.render(c, http.StatusUnprocessableEntity, auth.Reset(p))
		return
	}
	if err := w.startSession(c, u); err != nil {
		w.fail(c, err)
		return
	}
	setFlash(c, "success", "Your password was changed. Other sessions were logged out.")
	redirect(c, w.home(c, u))
}

// verifyEmail confirms an address from the emailed link.
func (w *Console) verifyEmail(c *gin.Context) {
	_, err := w.Tenants.VerifyEmail(c.Request.Context(), c.Query("token"), c.ClientIP())
	if tenants.ErrorCode(err) == tenants.EInternal {
		w.fail(c, err)
		return
	}
	p := auth.VerifyProps{Page: w.page(c, "Confirm email", ""), OK: err == nil}
	if err != nil {
		p.Message = tenants.ErrorMessage(err)
	} else {
		p.Message = "Your email address is confirmed. Thank you."
	}
	status := http.StatusOK
	if err != nil {
		status = http.StatusBadRequest
	}
	w.render(c, status, auth.Verify(p))
}

// resendVerification emails a fresh verification link.
func (w *Console) resendVerification(c *gin.Context) {
	err := w.Tenants.ResendVerification(c.Request.Context(), w.actor(c))
	switch tenants.ErrorCode(err) {
	case "":
		setFlash(c, "success", "We sent a new confirmation link to "+w.user(c).Email+".")
	case tenants.EInternal:
		w.fail(c, err)
		return
	default:
		setFlash(c, "info", tenants.ErrorMessage(err))
	}
	redirect(c, back(c, "/account"))
}

// back returns the Referer's path when it is on this site, else fallback.
func back(c *gin.Context, fallback string) string {
	if ref := c.Request.Referer(); ref != "" {
		if u, err := c.Request.URL.Parse(ref); err == nil && u.Host == c.Request.Host {
			if p := safeNext(u.Path); p != "" {
				return p
			}
		}
	}
	return fallback
}
