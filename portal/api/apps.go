package api

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/portico-dev/portico/tenants"
)

func (a *API) registerApps(auth *gin.RouterGroup, org *gin.RouterGroup) {
	w := a.requireRole(tenants.Role.CanManageApps, "Only owners, admins and developers can change apps and keys.")
	org.GET("/apps", a.listApps)
	org.POST("/apps", w, a.createApp)
	org.GET("/apps/:app", a.showApp)
	org.PATCH("/apps/:app", w, a.updateApp)
	org.DELETE("/apps/:app", w, a.deleteApp)
	org.GET("/apps/:app/keys", a.listAppKeys)
	org.POST("/apps/:app/keys", w, a.createAppKey)
	org.DELETE("/apps/:app/keys/:key", w, a.revokeAppKey)
	org.GET("/apps/:app/codes", a.listAppCodes)
	org.POST("/apps/:app/codes", w, a.createAppCode)
	org.DELETE("/apps/:app/codes/:code", w, a.revokeAppCode)
	auth.GET("/keys", a.listUserKeys)
	auth.POST("/keys", a.createUserKey)
	auth.DELETE("/keys/:key", a.revokeUserKey)
}

type appView struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	Environment string    `json:"environment"`
	OwnerID     *string   `json:"owner_id"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

func viewApp(x tenants.App) appView {
	return appView{ID: x.ID, Name: x.Name, Description: x.Description, Environment: x.Environment, OwnerID: x.OwnerID, CreatedAt: x.CreatedAt, UpdatedAt: x.UpdatedAt}
}

type keyView struct {
	AccessKey  string     `json:"access_key"`
	Name       string     `json:"name"`
	Status     string     `json:"status"`
	ExpiresAt  *time.Time `json:"expires_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	CreatedAt  time.Time  `json:"created_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
}

func viewKey(k tenants.AccessKey) keyView {
	return keyView{AccessKey: k.AccessKey, Name: k.Name, Status: k.Status, ExpiresAt: k.ExpiresAt, LastUsedAt: k.LastUsedAt, CreatedAt: k.CreatedAt, RevokedAt: k.RevokedAt}
}

// createdKeyView is the one response that ever carries a secret key.
type createdKeyView struct {
	keyView
	SecretKey string `json:"secret_key"`
}

type appRequest struct {
	Name        *string `json:"name"`
	Description *string `json:"description"`
	Environment *string `json:"environment"`
}

// listApps lists the organisation's apps.
func (a *API) listApps(c *gin.Context) {
	p, err := page(c)
	if err != nil {
		a.fail(c, err)
		return
	}
	l, err := a.Tenants.ListApps(c.Request.Context(), currentOrg(c).ID, p)
	if err != nil {
		a.fail(c, err)
		return
	}
	a.ok(c, http.StatusOK, listOf(l, viewApp))
}

// createApp creates an app.
func (a *API) createApp(c *gin.Context) {
	var req appRequest
	if err := decode(c, &req); err != nil {
		a.fail(c, err)
		return
	}
	x, err := a.Tenants.CreateApp(c.Request.Context(), currentOrg(c).ID, a.actor(c), tenants.AppInput{Name: str(req.Name), Description: str(req.Description), Environment: str(req.Environment)})
	if err != nil {
		a.fail(c, err)
		return
	}
	a.ok(c, http.StatusCreated, viewApp(x))
}

// showApp returns one app.
func (a *API) showApp(c *gin.Context) {
	x, err := a.Tenants.App(c.Request.Context(), currentOrg(c).ID, c.Param("app"))
	if err != nil {
		a.fail(c, err)
		return
	}
	a.ok(c, http.StatusOK, viewApp(x))
}

// updateApp renames or re-describes an app; its environment is fixed.
func (a *API) updateApp(c *gin.Context) {
	var req appRequest
	if err := decode(c, &req); err != nil {
		a.fail(c, err)
		return
	}
	if req.Environment != nil {
		a.fail(c, tenants.FieldError("environment", "An app's environment cannot change; create another app."))
		return
	}
	x, err := a.Tenants.UpdateApp(c.Request.Context(), currentOrg(c).ID, c.Param("app"), a.actor(c), tenants.AppPatch{Name: req.Name, Description: req.Description})
	if err != nil {
		a.fail(c, err)
		return
	}
	a.ok(c, http.StatusOK, viewApp(x))
}

// deleteApp deletes an app: its keys are revoked and its subscriptions
// cancelled.
func (a *API) deleteApp(c *gin.Context) {
	ctx := c.Request.Context()
	org := currentOrg(c)
	if _, err := a.Tenants.App(ctx, org.ID, c.Param("app")); err != nil {
		a.fail(c, err)
		return
	}
	if a.AppDeleted != nil {
		if err := a.AppDeleted(ctx, org.ID, c.Param("app"), a.actor(c)); err != nil {
			a.fail(c, err)
			return
		}
	}
	if _, err := a.Tenants.DeleteApp(ctx, org.ID, c.Param("app"), a.actor(c)); err != nil {
		a.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

type keyRequest struct {
	Name      string     `json:"name"`
	ExpiresAt *time.Time `json:"expires_at"`
}

// listAppKeys lists an app's keys, never their secrets.
func (a *API) listAppKeys(c *gin.Context) {
	ks, err := a.Tenants.ListAppKeys(c.Request.Context(), currentOrg(c).ID, c.Param("app"))
	if err != nil {
		a.fail(c, err)
		return
	}
	out := listBody[keyView]{Items: make([]keyView, len(ks))}
	for i, k := range ks {
		out.Items[i] = viewKey(k)
	}
	a.ok(c, http.StatusOK, out)
}

// createAppKey issues an AK/SK pair; the secret is in this response only.
func (a *API) createAppKey(c *gin.Context) {
	var req keyRequest
	if c.Request.ContentLength != 0 {
		if err := decode(c, &req); err != nil {
			a.fail(c, err)
			return
		}
	}
	k, err := a.Tenants.CreateAppKey(c.Request.Context(), currentOrg(c).ID, c.Param("app"), a.actor(c), tenants.KeyInput{Name: req.Name, ExpiresAt: req.ExpiresAt})
	if err != nil {
		a.fail(c, err)
		return
	}
	a.ok(c, http.StatusCreated, createdKeyView{keyView: viewKey(k.Key), SecretKey: k.SecretKey})
}

// revokeAppKey revokes a key for good.
func (a *API) revokeAppKey(c *gin.Context) {
	if err := a.Tenants.RevokeAppKey(c.Request.Context(), currentOrg(c).ID, c.Param("app"), c.Param("key"), a.actor(c)); err != nil {
		a.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// listUserKeys lists the caller's management-API keys.
func (a *API) listUserKeys(c *gin.Context) {
	ks, err := a.Tenants.ListUserKeys(c.Request.Context(), a.actor(c))
	if err != nil {
		a.fail(c, err)
		return
	}
	out := listBody[keyView]{Items: make([]keyView, len(ks))}
	for i, k := range ks {
		out.Items[i] = viewKey(k)
	}
	a.ok(c, http.StatusOK, out)
}

// createUserKey issues a management-API AK/SK pair for the caller.
func (a *API) createUserKey(c *gin.Context) {
	var req keyRequest
	if c.Request.ContentLength != 0 {
		if err := decode(c, &req); err != nil {
			a.fail(c, err)
			return
		}
	}
	k, err := a.Tenants.CreateUserKey(c.Request.Context(), a.actor(c), tenants.KeyInput{Name: req.Name, ExpiresAt: req.ExpiresAt})
	if err != nil {
		a.fail(c, err)
		return
	}
	a.ok(c, http.StatusCreated, createdKeyView{keyView: viewKey(k.Key), SecretKey: k.SecretKey})
}

// revokeUserKey revokes one of the caller's management-API keys.
func (a *API) revokeUserKey(c *gin.Context) {
	if err := a.Tenants.RevokeUserKey(c.Request.Context(), a.actor(c), c.Param("key")); err != nil {
		a.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

type appCodeView struct {
	ID         string     `json:"id"`
	Prefix     string     `json:"prefix"`
	Name       string     `json:"name"`
	Status     string     `json:"status"`
	LastUsedAt *time.Time `json:"last_used_at"`
	CreatedAt  time.Time  `json:"created_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
}

func viewAppCode(x tenants.AppCode) appCodeView {
	return appCodeView{ID: x.ID, Prefix: x.Prefix, Name: x.Name, Status: x.Status, LastUsedAt: x.LastUsedAt, CreatedAt: x.CreatedAt, RevokedAt: x.RevokedAt}
}

// createdAppCodeView is the one response that ever carries an app code.
type createdAppCodeView struct {
	appCodeView
	Code string `json:"code"`
}

type appCodeRequest struct {
	Name string `json:"name"`
}

// listAppCodes lists an app's codes, never the codes themselves.
func (a *API) listAppCodes(c *gin.Context) {
	l, err := a.Tenants.ListAppCodes(c.Request.Context(), currentOrg(c).ID, c.Param("app"))
	if err != nil {
		a.fail(c, err)
		return
	}
	out := listBody[appCodeView]{Items: make([]appCodeView, len(l))}
	for i, x := range l {
		out.Items[i] = viewAppCode(x)
	}
	a.ok(c, http.StatusOK, out)
}

// createAppCode issues an app code; the code is in this response only.
func (a *API) createAppCode(c *gin.Context) {
	var req appCodeRequest
	if c.Request.ContentLength != 0 {
		if err := decode(c, &req); err != nil {
			a.fail(c, err)
			return
		}
	}
	x, err := a.Tenants.CreateAppCode(c.Request.Context(), currentOrg(c).ID, c.Param("app"), a.actor(c), req.Name)
	if err != nil {
		a.fail(c, err)
		return
	}
	a.ok(c, http.StatusCreated, createdAppCodeView{appCodeView: viewAppCode(x.AppCode), Code: x.Code})
}

// revokeAppCode revokes an app code for good.
func (a *API) revokeAppCode(c *gin.Context) {
	if err := a.Tenants.RevokeAppCode(c.Request.Context(), currentOrg(c).ID, c.Param("app"), c.Param("code"), a.actor(c)); err != nil {
		a.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}
