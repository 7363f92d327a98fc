package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/portico-dev/portico/billing"
	"github.com/portico-dev/portico/templates/components"
	"github.com/portico-dev/portico/templates/layout"
	"github.com/portico-dev/portico/templates/pages/apps"
	"github.com/portico-dev/portico/tenants"
)

// registerPartner mounts the partner's side of the console on o, the
// /orgs/:org group: apps with their AK/SK keys, and subscriptions. Every
// member reads them; owners, admins and developers change them.
func (w *Console) registerPartner(o *gin.RouterGroup) {
	am := w.requireAppManager
	o.GET("/apps", w.showApps)
	o.GET("/apps/new", am, w.showNewApp)
	o.POST("/apps", am, w.createApp)
	o.GET("/apps/:app", w.showApp)
	o.POST("/apps/:app", am, w.updateApp)
	o.GET("/apps/:app/delete", am, w.showDeleteApp)
	o.POST("/apps/:app/delete", am, w.deleteApp)
	o.POST("/apps/:app/keys", am, w.createKey)
	o.POST("/apps/:app/keys/:key/revoke", am, w.revokeKey)
	o.POST("/apps/:app/codes", am, w.createAppCode)
	o.POST("/apps/:app/codes/:code/revoke", am, w.revokeAppCode)

	o.GET("/subscriptions", w.showSubscriptions)
	o.GET("/subscriptions/:id", w.showSubscription)
	o.POST("/subscriptions/:id/plan", am, w.changeSubscriptionPlan)
	o.POST("/subscriptions/:id/cancel", am, w.cancelSubscription)
}

// requireAppManager lets owners, admins and developers through to the app,
// key and subscription forms and actions; other members read only.
func (w *Console) requireAppManager(c *gin.Context) {
	if !currentRole(c).CanManageApps() {
		w.fail(c, tenants.Errorf(tenants.EForbidden, "Only owners, admins and developers can change apps, keys and subscriptions."))
		return
	}
	c.Next()
}

// appsURL is the path of the organisation's apps or of something under
// them, each segment escaped.
func appsURL(c *gin.Context, segments ...string) string {
	return components.Path(append([]string{"orgs", currentOrg(c).Slug, "apps"}, segments...)...)
}

// listURLs returns the first-page and next-page links of a filtered,
// paginated table: the filters in keep stay in both links.
func listURLs(c *gin.Context, next string, keep ...string) (first, nextURL string) {
	v := url.Values{}
	for _, k := range keep {
		if s := c.Query(k); s != "" {
			v.Set(k, s)
		}
	}
	base := c.Request.URL.Path
	if c.Query("cursor") != "" {
		first = base
		if len(v) > 0 {
			first += "?" + v.Encode()
		}
	}
	if next != "" {
		v.Set("cursor", next)
		nextURL = base + "?" + v.Encode()
	}
	return first, nextURL
}

// appEnvLabel names an app's environment.
func appEnvLabel(env string) string {
	if env == tenants.EnvTest {
		return "Test"
	}
	return "Production"
}

// activeKeys counts the keys that can sign a request now.
func activeKeys(ks []tenants.AccessKey) int {
	n := 0
	for _, k := range ks {
		if k.Status == tenants.KeyActive {
			n++
		}
	}
	return n
}

// appSubscriptions returns an app's subscriptions, newest first (at most
// 100: an app has one live subscription per API).
func (w *Console) appSubscriptions(ctx context.Context, orgID, appID string) ([]billing.Subscription, error) {
	if w.Plans == nil {
		return nil, nil
	}
	l, err := w.Plans.ListSubscriptions(ctx, orgID, billing.SubscriptionFilter{AppID: appID}, tenants.Page{Limit: 100})
	if err != nil {
		return nil, err
	}
	return l.Items, nil
}

func liveCount(subs []billing.Subscription) int {
	n := 0
	for _, s := range subs {
		if s.Status.Live() {
			n++
		}
	}
	return n
}

// showApps lists the organisation's apps with their active keys and live
// subscriptions.
func (w *Console) showApps(c *gin.Context) {
	ctx := c.Request.Context()
	org := currentOrg(c)
	l, err := w.Tenants.ListApps(ctx, org.ID, pageParam(c))
	if err != nil {
		w.fail(c, err)
		return
	}
	p := apps.ListProps{CanManage: currentRole(c).CanManageApps()}
	for _, a := range l.Items {
		ks, err := w.Tenants.ListAppKeys(ctx, org.ID, a.ID)
		if err != nil {
			w.fail(c, err)
			return
		}
		subs, err := w.appSubscriptions(ctx, org.ID, a.ID)
		if err != nil {
			w.fail(c, err)
			return
		}
		p.Apps = append(p.Apps, apps.AppRow{
			ID: a.ID, Name: a.Name, Description: a.Description, Environment: appEnvLabel(a.Environment),
			ActiveKeys: activeKeys(ks), Subscriptions: liveCount(subs), Created: formatTime(a.CreatedAt),
		})
	}
	p.FirstURL, p.NextURL = pageURLs(c, l.NextCursor)
	p.Page = w.page(c, "Apps", "apps")
	w.render(c, http.StatusOK, apps.List(p))
}

// showNewApp shows the form to create an app.
func (w *Console) showNewApp(c *gin.Context) {
	w.render(c, http.StatusOK, apps.New(apps.NewProps{Page: w.page(c, "New app", "apps"), Form: apps.AppForm{Environment: tenants.EnvProduction}}))
}

// createApp creates an app and continues on its page, where its first key
// is one click away.
func (w *Console) createApp(c *gin.Context) {
	f := apps.AppForm{Name: c.PostForm("name"), Description: c.PostForm("description"), Environment: c.PostForm("environment")}
	a, err := w.Tenants.CreateApp(c.Request.Context(), currentOrg(c).ID, w.actor(c), tenants.AppInput{Name: f.Name, Description: f.Description, Environment: f.Environment})
	if err != nil {
		if !isFormError(err) {
			w.fail(c, err)
			return
		}
		p := apps.NewProps{Page: w.page(c, "New app", "apps"), Form: f}
		p.Message, p.Errors = formErrors(err, nil)
		w.render(c, httpStatusForForm(err), apps.New(p))
		return
	}
	setFlash(c, "success", "App "+a.Name+" created. Create a key to sign its calls, then subscribe it to an API in the market.")
	redirect(c, appsURL(c, a.ID))
}

// appPage loads an app's page: details, keys and subscriptions. The forms
// start empty unless the caller fills them.
func (w *Console) appPage(c *gin.Context, id string) (apps.DetailProps, error) {
	ctx := c.Request.Context()
	org := currentOrg(c)
	a, err := w.Tenants.App(ctx, org.ID, id)
	if err != nil {
		return apps.DetailProps{}, err
	}
	ks, err := w.Tenants.ListAppKeys(ctx, org.ID, a.ID)
	if err != nil {
		return apps.DetailProps{}, err
	}
	codes, err := w.Tenants.ListAppCodes(ctx, org.ID, a.ID)
	if err != nil {
		return apps.DetailProps{}, err
	}
	subs, err := w.appSubscriptions(ctx, org.ID, a.ID)
	if err != nil {
		return apps.DetailProps{}, err
	}
	now := w.Tenants.Now()
	p := apps.DetailProps{
		ID: a.ID, Name: a.Name, Description: a.Description, Environment: appEnvLabel(a.Environment), Created: formatTime(a.CreatedAt),
		CanManage: currentRole(c).CanManageApps(), Form: apps.AppForm{Name: a.Name, Description: a.Description, Environment: a.Environment},
		MinExpiry: formatDate(now), MaxExpiry: formatDate(now.AddDate(tenants.MaxKeyLifetimeYears, 0, -1)),
		MarketURL: "/market",
	}
	for _, k := range ks {
		p.Keys = append(p.Keys, apps.KeyRow{
			AccessKey: k.AccessKey, Name: k.Name, Status: k.Status, Created: formatTime(k.CreatedAt),
			Expires: formatTimePtr(k.ExpiresAt, "never"), LastUsed: formatTimePtr(k.LastUsedAt, "never"),
		})
	}
	p.ActiveKeys = activeKeys(ks)
	for _, x := range codes {
		p.AppCodes = append(p.AppCodes, apps.AppCodeRow{ID: x.ID, Prefix: x.Prefix, Name: x.Name, Status: x.Status,
			Created: formatTime(x.CreatedAt), LastUsed: formatTimePtr(x.LastUsedAt, "never")})
		if x.Status == tenants.KeyActive {
			p.ActiveAppCodes++
		}
	}
	for _, s := range subs {
		p.Subscriptions = append(p.Subscriptions, apps.SubscriptionRow{
			URL: subscriptionURL(c, s.ID), API: s.APIName, Provider: s.ProviderOrgName, Version: s.Version, Plan: s.Plan.Name,
			Status: string(s.Status), StatusLabel: s.Status.Label(),
		})
	}
	p.Page = w.page(c, a.Name+" · Apps", "apps")
	return p, nil
}

// showApp shows an app with its keys and subscriptions.
func (w *Console) showApp(c *gin.Context) {
	p, err := w.appPage(c, c.Param("app"))
	if err != nil {
		w.fail(c, err)
		return
	}
	w.render(c, http.StatusOK, apps.Detail(p))
}

// updateApp renames or re-describes an app; its environment is fixed.
func (w *Console) updateApp(c *gin.Context) {
	name, desc := c.PostForm("name"), c.PostForm("description")
	a, err := w.Tenants.UpdateApp(c.Request.Context(), currentOrg(c).ID, c.Param("app"), w.actor(c), tenants.AppPatch{Name: &name, Description: &desc})
	if err != nil {
		if !isFormError(err) {
			w.fail(c, err)
			return
		}
		p, lerr := w.appPage(c, c.Param("app"))
		if lerr != nil {
			w.fail(c, lerr)
			return
		}
		p.Form.Name, p.Form.Description = name, desc
		p.FormMessage, p.FormErrors = formErrors(err, nil)
		w.render(c, httpStatusForForm(err), apps.Detail(p))
		return
	}
	setFlash(c, "success", "App "+a.Name+" saved.")
	redirect(c, appsURL(c, a.ID))
}

// showDeleteApp asks for confirmation, naming what deleting the app does.
func (w *Console) showDeleteApp(c *gin.Context) {
	p, err := w.appPage(c, c.Param("app"))
	if err != nil {
		w.fail(c, err)
		return
	}
	live := 0
	for _, s := range p.Subscriptions {
		if billing.SubscriptionStatus(s.Status).Live() {
			live++
		}
	}
	w.render(c, http.StatusOK, apps.Delete(apps.DeleteProps{
		Page: w.page(c, "Delete "+p.Name, "apps"), ID: p.ID, Name: p.Name, ActiveKeys: p.ActiveKeys, Subscriptions: live,
	}))
}

// deleteApp cancels the app's subscriptions, then deletes it, which
// revokes its keys.
func (w *Console) deleteApp(c *gin.Context) {
	ctx := c.Request.Context()
	org := currentOrg(c)
	a, err := w.Tenants.App(ctx, org.ID, c.Param("app"))
	if err != nil {
		w.fail(c, err)
		return
	}
	cancelled := 0
	if w.Plans != nil {
		if cancelled, err = w.Plans.CancelForApp(ctx, org.ID, a.ID, w.actor(c)); err != nil {
			w.fail(c, err)
			return
		}
	}
	revoked, err := w.Tenants.DeleteApp(ctx, org.ID, a.ID, w.actor(c))
	if err != nil {
		w.fail(c, err)
		return
	}
	setFlash(c, "success", "App "+a.Name+" deleted: "+countOf(revoked, "key", "keys")+" revoked and "+
		countOf(cancelled, "subscription", "subscriptions")+" cancelled.")
	redirect(c, appsURL(c))
}

// countOf writes "1 key", "2 keys", "no keys".
func countOf(n int, one, many string) string {
	switch n {
	case 0:
		return "no " + many
	case 1:
		return "1 " + one
	}
	return components.Count(int64(n)) + " " + many
}

// keyExpiry reads the new-key form's expiry date: the key works until the
// end of that day, UTC. "" is no expiry.
func keyExpiry(day string) (*time.Time, error) {
	day = strings.TrimSpace(day)
	if day == "" {
		return nil, nil
	}
	t, err := time.Parse("2006-01-02", day)
	if err != nil {
		return nil, tenants.FieldError("expires_on", "Enter the expiry as a date, like 2027-01-31, or leave it empty.")
	}
	t = t.Add(24*time.Hour - time.Second)
	return &t, nil
}

// createKey issues an AK/SK key and shows its secret once, in this
// response only: never through a redirect, a flash or a cookie.
func (w *Console) createKey(c *gin.Context) {
	ctx := c.Request.Context()
	org := currentOrg(c)
	f := apps.KeyForm{Name: c.PostForm("name"), ExpiresOn: c.PostForm("expires_on")}
	exp, err := keyExpiry(f.ExpiresOn)
	var k tenants.CreatedKey
	if err == nil {
		k, err = w.Tenants.CreateAppKey(ctx, org.ID, c.Param("app"), w.actor(c), tenants.KeyInput{Name: f.Name, ExpiresAt: exp})
	}
	if err != nil && !isFormError(err) {
		w.fail(c, err)
		return
	}
	p, lerr := w.appPage(c, c.Param("app"))
	if lerr != nil {
		w.fail(c, lerr)
		return
	}
	if err != nil {
		p.KeyForm = f
		p.KeyMessage, p.KeyErrors = formErrors(err, map[string]string{"expires_at": "expires_on"})
		w.render(c, httpStatusForForm(err), apps.Detail(p))
		return
	}
	p.NewKey = &apps.CreatedKey{
		Name: k.Key.Name, AccessKey: k.AccessKey, SecretKey: k.SecretKey, Expires: formatTimePtr(k.Key.ExpiresAt, ""),
		Curl: w.curlExample(ctx, c, k.AccessKey, k.SecretKey),
	}
	p.Page.Flashes = append(p.Page.Flashes, layout.Flash{Kind: "success", Text: "Key " + k.AccessKey + " created."})
	w.render(c, http.StatusCreated, apps.Detail(p))
}

// curlExample is a request a new key can sign as it is: curl's own SigV4
// signer, the deployment's region and exampleURL.
func (w *Console) curlExample(ctx context.Context, c *gin.Context, ak, sk string) string {
	region := w.Region
	if region == "" {
		region = "local"
	}
	return `curl --aws-sigv4 "aws:amz:` + region + `:apigw" --user "` + ak + ":" + sk + `" "` + w.exampleURL(ctx, c) + `"`
}

// exampleURL is the gateway URL of the first operation of an API the app
// subscribes to, for example requests; the path is a template the user
// fills in when the app subscribes to none, and the gateway reads
// GATEWAY_URL when the console does not know its address.
func (w *Console) exampleURL(ctx context.Context, c *gin.Context) string {
	gateway := strings.TrimRight(w.GatewayURL, "/")
	if gateway == "" {
		gateway = "GATEWAY_URL"
	}
	subs, _ := w.appSubscriptions(ctx, currentOrg(c).ID, c.Param("app"))
	for _, s := range subs {
		if s.Status.Live() {
			return gateway + components.Path(s.ProviderOrgSlug, s.APISlug, s.Version) + w.examplePath(ctx, s)
		}
	}
	return gateway + "/{provider}/{api}/{version}/…"
}

// examplePath is the path of the first GET operation without path
// parameters of the subscription's version, or "/".
func (w *Console) examplePath(ctx context.Context, s billing.Subscription) string {
	if w.Market == nil {
		return "/"
	}
	d, err := w.Market.API(ctx, s.ProviderOrgSlug, s.APISlug)
	if err != nil {
		return "/"
	}
	for _, v := range d.Versions {
		if v.Version != s.Version {
			continue
		}
		for _, o := range v.Operations {
			if o.Method == http.MethodGet && !strings.Contains(o.Path, "{") && strings.HasPrefix(o.Path, "/") {
				return o.Path
			}
		}
	}
	return "/"
}

// revokeKey revokes one of an app's keys, for good.
func (w *Console) revokeKey(c *gin.Context) {
	ctx := c.Request.Context()
	err := w.Tenants.RevokeAppKey(ctx, currentOrg(c).ID, c.Param("app"), c.Param("key"), w.actor(c))
	w.flashResult(c, err, "Key "+c.Param("key")+" revoked: requests signed with it are refused from now on.")
	if c.IsAborted() {
		return
	}
	redirect(c, appsURL(c, c.Param("app"))+"#keys")
}

// createAppCode issues an app code and shows it once, in this response
// only: never through a redirect, a flash or a cookie.
func (w *Console) createAppCode(c *gin.Context) {
	ctx := c.Request.Context()
	org := currentOrg(c)
	f := apps.AppCodeForm{Name: c.PostForm("name")}
	x, err := w.Tenants.CreateAppCode(ctx, org.ID, c.Param("app"), w.actor(c), f.Name)
	if err != nil && !isFormError(err) {
		w.fail(c, err)
		return
	}
	p, lerr := w.appPage(c, c.Param("app"))
	if lerr != nil {
		w.fail(c, lerr)
		return
	}
	if err != nil {
		p.AppCodeForm = f
		p.AppCodeMessage, p.AppCodeErrors = formErrors(err, nil)
		w.render(c, httpStatusForForm(err), apps.Detail(p))
		return
	}
	p.NewAppCode = &apps.CreatedAppCode{Name: x.AppCode.Name, Code: x.Code, Curl: w.appCodeCurl(ctx, c, x.Code)}
	p.Page.Flashes = append(p.Page.Flashes, layout.Flash{Kind: "success", Text: "App code " + x.AppCode.Prefix + "… created."})
	w.render(c, http.StatusCreated, apps.Detail(p))
}

// appCodeCurl is an example request carrying an app code (see exampleURL).
func (w *Console) appCodeCurl(ctx context.Context, c *gin.Context, code string) string {
	return `curl -H "X-Portico-App-Code: ` + code + `" "` + w.exampleURL(ctx, c) + `"`
}

// revokeAppCode revokes one of an app's codes, for good.
func (w *Console) revokeAppCode(c *gin.Context) {
	ctx := c.Request.Context()
	err := w.Tenants.RevokeAppCode(ctx, currentOrg(c).ID, c.Param("app"), c.Param("code"), w.actor(c))
	w.flashResult(c, err, "App code revoked: calls carrying it are refused from now on.")
	if c.IsAborted() {
		return
	}
	redirect(c, appsURL(c, c.Param("app"))+"#app-codes")
}
