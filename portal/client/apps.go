package client

import (
	"context"
	"time"
)

// App is a partner's application: it holds AK/SK keys and subscriptions.
// Its environment (EnvTest or EnvProduction) is fixed at creation.
type App struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description"`
	Environment string `json:"environment"`
	// OwnerID is the member who created the app; nil once they are deleted.
	OwnerID   *string   `json:"owner_id"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// AppRequest creates an app. Names are unique in the organisation, ignoring
// case; Environment is EnvTest or EnvProduction ("" lets the server choose,
// production today).
type AppRequest struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	Environment string `json:"environment,omitempty"`
}

// AppPatch renames or re-describes an app; nil fields stay as they are.
type AppPatch struct {
	Name        *string `json:"name,omitempty"`
	Description *string `json:"description,omitempty"`
}

// Key statuses.
const (
	KeyActive  = "active"
	KeyExpired = "expired"
	KeyRevoked = "revoked"
)

// Key is an AK/SK access key as listed: never its secret. App keys (PK…)
// sign calls through the gateway; user keys (PU…) sign management API calls.
type Key struct {
	// AccessKey is the access key id, 20 characters starting PK or PU.
	AccessKey string `json:"access_key"`
	Name      string `json:"name"`
	// Status is KeyActive, KeyExpired or KeyRevoked.
	Status     string     `json:"status"`
	ExpiresAt  *time.Time `json:"expires_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	CreatedAt  time.Time  `json:"created_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
}

// NewKey is a freshly issued key with its secret, which the server returns
// only in this answer: store it at once.
type NewKey struct {
	Key
	// SecretKey is 40 characters from [A-Za-z0-9/+].
	SecretKey string `json:"secret_key"`
}

// KeyRequest names a new key (the server names it after the day when Name
// is empty) and sets when it stops working (nil: never; at most two years).
type KeyRequest struct {
	Name      string     `json:"name,omitempty"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
}

func appPath(org string, rest ...string) string {
	return path(append([]string{"orgs", org, "apps"}, rest...)...)
}

// ListApps lists the organisation's apps, newest first.
func (c *Client) ListApps(ctx context.Context, org string, opts ListOptions) (*Page[App], error) {
	return listPage[App](ctx, c, appPath(org), nil, opts)
}

// CreateApp creates an app (owners, admins and developers).
func (c *Client) CreateApp(ctx context.Context, org string, req AppRequest) (*App, error) {
	var out App
	if err := c.do(ctx, request{method: "POST", path: appPath(org), body: req, out: &out}); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetApp returns one app by id.
func (c *Client) GetApp(ctx context.Context, org, app string) (*App, error) {
	var out App
	if err := c.do(ctx, request{method: "GET", path: appPath(org, app), out: &out}); err != nil {
		return nil, err
	}
	return &out, nil
}

// UpdateApp renames or re-describes an app.
func (c *Client) UpdateApp(ctx context.Context, org, app string, p AppPatch) (*App, error) {
	var out App
	if err := c.do(ctx, request{method: "PATCH", path: appPath(org, app), body: p, out: &out}); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteApp deletes an app: its keys are revoked and its subscriptions
// cancelled.
func (c *Client) DeleteApp(ctx context.Context, org, app string) error {
	return c.do(ctx, request{method: "DELETE", path: appPath(org, app)})
}

// ListAppKeys lists an app's keys, newest first, revoked and expired ones
// included.
func (c *Client) ListAppKeys(ctx context.Context, org, app string) ([]Key, error) {
	return listAll[Key](ctx, c, appPath(org, app, "keys"), nil)
}

// CreateAppKey issues an AK/SK pair for an app (at most two active at a
// time, so that keys can be rotated without downtime).
func (c *Client) CreateAppKey(ctx context.Context, org, app string, req KeyRequest) (*NewKey, error) {
	var out NewKey
	if err := c.do(ctx, request{method: "POST", path: appPath(org, app, "keys"), body: req, out: &out}); err != nil {
		return nil, err
	}
	return &out, nil
}

// RevokeAppKey revokes an app's key for good.
func (c *Client) RevokeAppKey(ctx context.Context, org, app, accessKey string) error {
	return c.do(ctx, request{method: "DELETE", path: appPath(org, app, "keys", accessKey)})
}

// AppCode is an app code as listed: never the code. App codes authenticate
// calls (X-Portico-App-Code) to API versions that allow them; they are
// weaker than signatures.
type AppCode struct {
	ID string `json:"id"`
	// Prefix is the code's visible beginning (pac_ and eight characters).
	Prefix string `json:"prefix"`
	Name   string `json:"name"`
	// Status is KeyActive or KeyRevoked.
	Status     string     `json:"status"`
	LastUsedAt *time.Time `json:"last_used_at"`
	CreatedAt  time.Time  `json:"created_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
}

// NewAppCode is a freshly issued app code with its value, which the server
// returns only once.
type NewAppCode struct {
	AppCode
	Code string `json:"code"`
}

// AppCodeRequest names a new app code (the server names it after the day
// when Name is empty).
type AppCodeRequest struct {
	Name string `json:"name,omitempty"`
}

// ListAppCodes lists an app's codes, newest first, revoked ones included.
func (c *Client) ListAppCodes(ctx context.Context, org, app string) ([]AppCode, error) {
	return listAll[AppCode](ctx, c, appPath(org, app, "codes"), nil)
}

// CreateAppCode issues an app code (at most two active per app).
func (c *Client) CreateAppCode(ctx context.Context, org, app string, req AppCodeRequest) (*NewAppCode, error) {
	var out NewAppCode
	if err := c.do(ctx, request{method: "POST", path: appPath(org, app, "codes"), body: req, out: &out}); err != nil {
		return nil, err
	}
	return &out, nil
}

// RevokeAppCode revokes an app code, by its id, for good.
func (c *Client) RevokeAppCode(ctx context.Context, org, app, id string) error {
	return c.do(ctx, request{method: "DELETE", path: appPath(org, app, "codes", id)})
}

// ListUserKeys lists the caller's management API keys, newest first.
func (c *Client) ListUserKeys(ctx context.Context) ([]Key, error) {
	return listAll[Key](ctx, c, path("keys"), nil)
}

// CreateUserKey issues a management API AK/SK pair (PU…) for the caller;
// WithAccessKey signs requests with it.
func (c *Client) CreateUserKey(ctx context.Context, req KeyRequest) (*NewKey, error) {
	var out NewKey
	if err := c.do(ctx, request{method: "POST", path: path("keys"), body: req, out: &out}); err != nil {
		return nil, err
	}
	return &out, nil
}

// RevokeUserKey revokes one of the caller's management API keys.
func (c *Client) RevokeUserKey(ctx context.Context, accessKey string) error {
	return c.do(ctx, request{method: "DELETE", path: path("keys", accessKey)})
}
