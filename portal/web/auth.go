package web

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/portico-dev/portico/templates/pages/auth"
	"github.com/portico-dev/portico/templates/pages/home"
	"github.com/portico-dev/portico/tenants"
)

// showLanding shows the public landing page, or sends a signed-in user to
// their console.
func (w *Console) showLanding(c *gin.Context) {
	if v, ok := c.Get(ctxUser); ok {
		redirect(c, w.home(c, v.(tenants.User)))
		return
	}
	w.render(c, http.StatusOK, home.Landing(home.LandingProps{Page: w.page(c, "API marketplace and gateway", "")}))
}

// signUpFields maps the service's field names to the form's.
var signUpFields = map[string]string{"organization.name": "org_name", "organization.slug": "org_slug"}

func formErrors(err error, rename map[string]string) (string, map[string]string) {
	fields := tenants.ErrorFields(err)
	out := make(map[string]string, len(fields))
	for k, v := range fields {
		if r, ok := rename[k]; ok {
			k = r
		}
		out[k] = v
	}
	msg := tenants.ErrorMessage(err)
	if len(out) > 0 && tenants.ErrorCode(err) == tenants.EInvalid {
		msg = "Please correct the highlighted fields."
	}
	return msg, out
}

// fieldErrors returns err's field messages for forms without a separate
// form-level message; an error about no field goes under "form", which every
// form shows in its summary box.
func fieldErrors(err error) map[string]string {
	msg, fields := formErrors(err, nil)
	if len(fields) == 0 {
		return map[string]string{"form": msg}
	}
	return fields
}

// showSignUp shows the sign-up form, for a new organisation or for an
// invitation (?invitation=token).
func (w *Console) showSignUp(c *gin.Context) {
	if v, ok := c.Get(ctxUser); ok {
		redirect(c, w.home(c, v.(tenants.User)))
		return
	}
	p := auth.SignUpProps{Page: w.page(c, "Sign up", ""), Next: safeNext(c.Query("next"))}
	if tok := c.Query("invitation"); tok != "" {
		d, err := w.Tenants.InvitationByToken(c.Request.Context(), tok)
		if err != nil {
			w.render(c, http.StatusOK, auth.InvitationPage(auth.InvitationProps{Page: w.page(c, "Invitation", ""), Invalid: tenants.ErrorMessage(err)}))
			return
		}
		p.Invitation = invitationProps(tok, d)
		p.Email = d.Invitation.Email
	}
	w.render(c, http.StatusOK, auth.SignUp(p))
}

func invitationProps(tok string, d tenants.InvitationDetails) *auth.Invitation {
	return &auth.Invitation{Token: tok, OrgName: d.Org.Name, InviterName: d.InviterName, Email: d.Invitation.Email, Role: string(d.Invitation.Role)}
}

// signUp creates the account, starts a session and lands the person in
// their organisation (or on ?next).
func (w *Console) signUp(c *gin.Context) {
	p := auth.SignUpProps{
		Name: c.PostForm("name"), Email: c.PostForm("email"),
		OrgName: c.PostForm("org_name"), OrgSlug: c.PostForm("org_slug"), Next: safeNext(c.PostForm("next")),
	}
	tok := c.PostForm("invitation")
	ctx := c.Request.Context()
	if tok != "" {
		d, err := w.Tenants.InvitationByToken(ctx, tok)
		if err != nil {
			w.render(c, http.StatusOK, auth.InvitationPage(auth.InvitationProps{Page: w.page(c, "Invitation", ""), Invalid: tenants.ErrorMessage(err)}))
			return
		}
		p.Invitation = invitationProps(tok, d)
		p.Email = d.Invitation.Email
	}
	if ok, retry := w.SignupThrottle.Allow("ip:" + c.ClientIP()); !ok {
		p.Page = w.page(c, "Sign up", "")
		p.Message = fmt.Sprintf("Too many sign-ups from your network. Try again in %d seconds.", int(retry.Seconds())+1)
		w.render(c, http.StatusTooManyRequests, auth.SignUp(p))
		return
	}
	res, err := w.Tenants.SignUp(ctx, tenants.SignUpInput{
		Name: p.Name, Email: p.Email, Password: c.PostForm("password"), OrgName: p.OrgName, OrgSlug: p.OrgSlug, InvitationToken: tok,
	}, c.ClientIP())
	if err == nil {
		err = w.startSession(c, res.User)
	}
	if err != nil {
		if tenants.ErrorCode(err) == tenants.EInternal {
			w.fail(c, err)
			return
		}
		p.Page = w.page(c, "Sign up", "")
		p.Message, p.Errors = formErrors(err, signUpFields)
		w.render(c, httpStatusForForm(err), auth.SignUp(p))
		return
	}
	if tok != "" {
		setFlash(c, "success", "Welcome to "+res.Org.Name+". You joined as "+string(res.Role)+".")
	} else {
		setFlash(c, "success", "Welcome to Portico. We sent a link to "+res.User.Email+" to confirm your address.")
	}
	to := p.Next
	if to == "" {
		to = "/orgs/" + res.Org.Slug
	}
	redirect(c, to)
}

// httpStatusForForm is the status of a re-rendered form: 422 for invalid
// input, 409 for conflicts, 429 when throttled.
func httpStatusForForm(err error) int {
	switch tenants.ErrorCode(err) {
	case tenants.EConflict:
		return http.StatusConflict
	case tenants.ERateLimited:
		return http.StatusTooManyRequests
	case tenants.EUnauthorized:
		return http.StatusUnauthorized
	case tenants.EForbidden:
		return http.StatusForbidden
	case tenants.ENotFound:
		return http.StatusNotFound
	default:
		return http.StatusUnprocessableEntity
	}
}

// showLogin shows the log-in form.
func (w *Console) showLogin(c *gin.Context) {
	next := safeNext(c.Query("next"))
	if v, ok := c.Get(ctxUser); ok {
		if next == "" {
			next = w.home(c, v.(tenants.User))
		}
		redirect(c, next)
		return
	}
	w.render(c, http.StatusOK, auth.Login(auth.LoginProps{Page: w.page(c, "Log in", ""), Next: next}))
}

// logIn checks the credentials (throttled per IP and per account), rotates
// the session and goes to ?next or the console.
func (w *Console) logIn(c *gin.Context) {
	email := strings.TrimSpace(c.PostForm("email"))
	p := auth.LoginProps{Email: email, Next: safeNext(c.PostForm("next"))}
	refuse := func(status int, msg string) {
		p.Page = w.page(c, "Log in", "")
		p.Message = msg
		w.render(c, status, auth.Login(p))
	}
	if ok, retry := w.LoginIPThrottle.Allow("ip:" + c.ClientIP()); !ok {
		refuse(http.StatusTooManyRequests, fmt.Sprintf("Too many attempts. Try again in %d seconds.", int(retry.Seconds())+1))
		return
	}
	acct := "acct:" + tenants.NormalizeEmail(email)
	if ok, retry := w.LoginAccountThrottle.Allow(acct); !ok {
		refuse(http.StatusTooManyRequests, fmt.Sprintf("Too many attempts for this account. Try again in %d seconds.", int(retry.Seconds())+1))
		return
	}
	u, err := w.Tenants.Authenticate(c.Request.Context(), email, c.PostForm("password"))
	if err != nil {
		if tenants.ErrorCode(err) == tenants.EInternal {
			w.fail(c, err)
			return
		}
		refuse(http.StatusUnauthorized, tenants.ErrorMessage(err))
		return
	}
	w.LoginAccountThrottle.Reset(acct)
	if err := w.startSession(c, u); err != nil {
		w.fail(c, err)
		return
	}
	to := p.Next
	if to == "" {
		to = w.home(c, u)
	}
	redirect(c, to)
}

// logOut ends the session on the server and clears the cookie.
func (w *Console) logOut(c *gin.Context) {
	if v, ok := c.Get(ctxSession); ok {
		if err := w.Tenants.EndSession(c.Request.Context(), v.(string), w.actor(c)); err != nil {
			w.fail(c, err)
			return
		}
	}
	w.Sessions.Clear(c.Writer)
	setFlash(c, "info", "You are logged out.")
	redirect(c, "/login")
}
