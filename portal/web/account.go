package web

import (
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/portico-dev/portico/templates/pages/account"
	"github.com/portico-dev/portico/tenants"
)

func (w *Console) accountPage(c *gin.Context) (account.SettingsProps, error) {
	u := w.user(c)
	p := account.SettingsProps{Name: u.Name, Email: u.Email, Verified: u.Verified()}
	evs, err := w.Tenants.ListUserAudit(c.Request.Context(), u.ID, tenants.Page{Limit: 10})
	if err != nil {
		return p, err
	}
	for _, e := range evs.Items {
		p.Activity = append(p.Activity, account.ActivityRow{When: formatTime(e.CreatedAt), Action: e.Action, IP: e.IP})
	}
	p.Page = w.page(c, "Account", "account")
	return p, nil
}

// showAccount shows profile, password and email settings.
func (w *Console) showAccount(c *gin.Context) {
	p, err := w.accountPage(c)
	if err != nil {
		w.fail(c, err)
		return
	}
	w.render(c, http.StatusOK, account.Settings(p))
}

// updateProfile changes the user's name.
func (w *Console) updateProfile(c *gin.Context) {
	_, err := w.Tenants.UpdateProfile(c.Request.Context(), w.actor(c), c.PostForm("name"))
	if err != nil {
		if tenants.ErrorCode(err) == tenants.EInternal {
			w.fail(c, err)
			return
		}
		p, lerr := w.accountPage(c)
		if lerr != nil {
			w.fail(c, lerr)
			return
		}
		p.Name = c.PostForm("name")
		p.ProfileErrors = fieldErrors(err)
		w.render(c, httpStatusForForm(err), account.Settings(p))
		return
	}
	setFlash(c, "success", "Profile saved.")
	redirect(c, "/account")
}

// changePassword sets a new password, which ends every session, then starts
// a fresh one for this browser.
func (w *Console) changePassword(c *gin.Context) {
	next := c.PostForm("new_password")
	var err error
	if next != c.PostForm("new_password_confirm") {
		err = tenants.FieldError("new_password_confirm", "The two passwords do not match.")
	} else {
		err = w.Tenants.ChangePassword(c.Request.Context(), w.actor(c), c.PostForm("current_password"), next)
	}
	if err != nil {
		if tenants.ErrorCode(err) == tenants.EInternal {
			w.fail(c, err)
			return
		}
		p, lerr := w.accountPage(c)
		if lerr != nil {
			w.fail(c, lerr)
			return
		}
		p.PasswordErrors = fieldErrors(err)
		w.render(c, httpStatusForForm(err), account.Settings(p))
		return
	}
	if err := w.startSession(c, w.user(c)); err != nil {
		w.fail(c, err)
		return
	}
	setFlash(c, "success", "Password changed. Your other sessions were logged out.")
	redirect(c, "/account")
}

func (w *Console) tokensPage(c *gin.Context) (account.TokensProps, error) {
	l, err := w.Tenants.ListTokens(c.Request.Context(), w.actor(c), pageParam(c))
	if err != nil {
		return account.TokensProps{}, err
	}
	now := w.Tenants.Now()
	p := account.TokensProps{}
	for _, t := range l.Items {
		p.Tokens = append(p.Tokens, account.TokenRow{
			ID: t.ID, Name: t.Name, Hint: t.Hint, Created: formatTime(t.CreatedAt),
			Expires: formatTimePtr(t.ExpiresAt, "never"), LastUsed: formatTimePtr(t.LastUsedAt, "never"), Status: t.Status(now),
		})
	}
	p.FirstURL, p.NextURL = pageURLs(c, l.NextCursor)
	p.Page = w.page(c, "Personal access tokens", "tokens")
	return p, nil
}

// showTokens lists the user's personal access tokens.
func (w *Console) showTokens(c *gin.Context) {
	p, err := w.tokensPage(c)
	if err != nil {
		w.fail(c, err)
		return
	}
	p.ExpiresInDays = "90"
	w.render(c, http.StatusOK, account.Tokens(p))
}

// createToken issues a token and shows its value once, in this response
// only (never through a redirect or a cookie).
func (w *Console) createToken(c *gin.Context) {
	name, days := c.PostForm("name"), c.PostForm("expires_in_days")
	var ttl time.Duration
	var err error
	if days != "" {
		n, perr := strconv.Atoi(days)
		if perr != nil || n < 1 || n > 366 {
			err = tenants.FieldError("expires_in_days", "Choose an expiry between 1 and 366 days, or never.")
		}
		ttl = time.Duration(n) * 24 * time.Hour
	}
	var tok tenants.CreatedToken
	if err == nil {
		tok, err = w.Tenants.CreateToken(c.Request.Context(), w.actor(c), name, ttl)
	}
	if tenants.ErrorCode(err) == tenants.EInternal {
		w.fail(c, err)
		return
	}
	p, lerr := w.tokensPage(c)
	if lerr != nil {
		w.fail(c, lerr)
		return
	}
	if err != nil {
		p.Name, p.ExpiresInDays = name, days
		p.Message, p.Errors = formErrors(err, nil)
		w.render(c, httpStatusForForm(err), account.Tokens(p))
		return
	}
	p.ExpiresInDays = "90"
	p.Created = &account.CreatedToken{Name: tok.Name, Token: tok.Token}
	w.render(c, http.StatusCreated, account.Tokens(p))
}

// revokeToken revokes one of the user's tokens.
func (w *Console) revokeToken(c *gin.Context) {
	w.flashResult(c, w.Tenants.RevokeToken(c.Request.Context(), w.actor(c), c.Param("id")), "Token revoked.")
	if c.IsAborted() {
		return
	}
	redirect(c, "/account/tokens")
}
