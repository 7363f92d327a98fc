package tenants

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"
)

// AppCodePrefix starts every app code, so people and secret scanners can
// recognise one, and tells an app code's usage apart from an access key's.
const AppCodePrefix = "pac_"

// MaxActiveAppCodes is how many active codes an app may hold at once: two,
// so a code can be rotated without downtime, as with access keys.
const MaxActiveAppCodes = 2

// appCodeBytes is the random part of a code (256 bits), and appCodeShown how
// many of its characters the visible prefix keeps after AppCodePrefix.
const (
	appCodeBytes = 32
	appCodeShown = 8
)

// AppCode is an app code's metadata. App codes are the weaker credential of
// signing.md ("opt-in app code"): a bearer value sent as X-Portico-App-Code,
// accepted only by API versions that allow it. Only a hash of the code is
// stored; the code itself is shown once, at creation.
type AppCode struct {
	ID    string `json:"id"`
	OrgID string `json:"-"`
	AppID string `json:"app_id"`
	Name  string `json:"name"`
	// Prefix is the code's first characters (pac_ and eight more): enough to
	// recognise it, useless to call with.
	Prefix string `json:"prefix"`
	// Status is active or revoked. Revoked is final.
	Status     string     `json:"status"`
	LastUsedAt *time.Time `json:"last_used_at"`
	CreatedAt  time.Time  `json:"created_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
}

// CreatedAppCode is a new code with its value, which is returned here once
// and can never be read back.
type CreatedAppCode struct {
	Code    string  `json:"code"`
	AppCode AppCode `json:"app_code"`
}

// AppCodeMaterial is an active code as the gateway needs it: the hash it
// compares against, never the code.
type AppCodeMaterial struct {
	// Hash is the hex SHA-256 of the code.
	Hash   string
	Prefix string
	OrgID  string
	AppID  string
	// Environment is the app's environment (test or production).
	Environment string
}

// appCodeRow is the stored form of a code.
type appCodeRow struct {
	ID         string
	OrgID      string
	AppID      string
	Name       string
	Prefix     string
	CodeHash   string
	Status     string
	LastUsedAt *time.Time
	CreatedAt  time.Time
	RevokedAt  *time.Time
}

func (appCodeRow) TableName() string { return "app_codes" }

// appCodeColumns are the columns listings read: everything but the hash.
var appCodeColumns = []string{"id", "org_id", "app_id", "name", "prefix", "status", "last_used_at", "created_at", "revoked_at"}

func (r *appCodeRow) public() AppCode {
	return AppCode{ID: r.ID, OrgID: r.OrgID, AppID: r.AppID, Name: r.Name, Prefix: r.Prefix, Status: r.Status,
		LastUsedAt: r.LastUsedAt, CreatedAt: r.CreatedAt, RevokedAt: r.RevokedAt}
}

// HashAppCode returns the hex SHA-256 of a code, as stored and as the
// gateway looks codes up.
func HashAppCode(code string) string { return hashToken(code) }

// CreateAppCode issues an app code for one of the organisation's apps and
// returns it, once. An app holds at most MaxActiveAppCodes active codes.
// Expected role (checked by the caller): owner, admin or developer
// (Role.CanManageApps). The caller refreshes the gateway's configuration.
func (s *Service) CreateAppCode(ctx context.Context, orgID, appID string, a Actor, name string) (CreatedAppCode, error) {
	now := s.now()
	name = strings.TrimSpace(name)
	if name == "" {
		name = "Code " + now.Format("2006-01-02")
	}
	v := Validation{}
	validateName(v, "name", name, "a name for the code")
	if err := v.Err(); err != nil {
		return CreatedAppCode{}, err
	}
	var created CreatedAppCode
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		app, err := lockApp(tx, orgID, appID)
		if err != nil {
			return err
		}
		var n int64
		if err := tx.Model(&appCodeRow{}).Where("org_id = ? AND app_id = ? AND status = ?", orgID, app.ID, KeyActive).
			Count(&n).Error; err != nil {
			return fmt.Errorf("create app code: %w", err)
		}
		if n >= MaxActiveAppCodes {
			return Errorf(EConflict, "An app has at most two active app codes: revoke one first.")
		}
		row := appCodeRow{ID: newID(), OrgID: orgID, AppID: app.ID, Name: name, Status: KeyActive, CreatedAt: now}
		code, err := insertAppCode(tx, &row)
		if err != nil {
			return fmt.Errorf("create app code: %w", err)
		}
		created = CreatedAppCode{Code: code, AppCode: row.public()}
		return s.audit(tx, a, orgID, "app_code.create", "app_code", row.ID, appCodeAuditDetails(&row))
	})
	if err != nil {
		return CreatedAppCode{}, err
	}
	s.changed(ctx)
	return created, nil
}

// insertAppCode stores row with a fresh code and returns the code. The
// prefix and hash columns are unique; on the (astronomically unlikely)
// collision the insert is rolled back to a savepoint and retried.
func insertAppCode(tx *gorm.DB, row *appCodeRow) (string, error) {
	const attempts = 5
	for range attempts {
		code := randomToken(AppCodePrefix, appCodeBytes)
		row.Prefix = code[:len(AppCodePrefix)+appCodeShown]
		row.CodeHash = HashAppCode(code)
		err := tx.Transaction(func(tx *gorm.DB) error { return tx.Create(row).Error })
		if !errors.Is(err, gorm.ErrDuplicatedKey) {
			return code, err
		}
	}
	return "", fmt.Errorf("no unique app code after %d attempts", attempts)
}

// ListAppCodes returns an app's codes, newest first, revoked ones included,
// without their hashes. Any member may list them.
func (s *Service) ListAppCodes(ctx context.Context, orgID, appID string) ([]AppCode, error) {
	app, err := s.App(ctx, orgID, appID)
	if err != nil {
		return nil, err
	}
	var rows []appCodeRow
	if err := s.db.WithContext(ctx).Select(appCodeColumns).Where("org_id = ? AND app_id = ?", orgID, app.ID).
		Order("created_at DESC, id DESC").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("list app codes: %w", err)
	}
	out := make([]AppCode, len(rows))
	for i := range rows {
		out[i] = rows[i].public()
	}
	return out, nil
}

// RevokeAppCode revokes one of an app's codes, for good. Revoking a revoked
// code changes nothing and succeeds (no second audit event). A code of
// another app or organisation is not found. Expected role (checked by the
// caller): owner, admin or developer (Role.CanManageApps). The caller
// refreshes the gateway's configuration.
func (s *Service) RevokeAppCode(ctx context.Context, orgID, appID, codeID string, a Actor) error {
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		app, err := lockApp(tx, orgID, appID)
		if err != nil {
			return err
		}
		var row appCodeRow
		if err := tx.Select(appCodeColumns).Where("id = ? AND org_id = ? AND app_id = ?", codeID, orgID, app.ID).Take(&row).Error; err != nil {
			if errors.Is(err, gorm.ErrRecordNotFound) {
				return Errorf(ENotFound, "No such app code.")
			}
			return fmt.Errorf("revoke app code: %w", err)
		}
		if row.Status != KeyActive {
			return nil
		}
		res := tx.Model(&appCodeRow{}).Where("id = ? AND status = ?", row.ID, KeyActive).
			Updates(map[string]any{"status": KeyRevoked, "revoked_at": s.now()})
		if res.Error != nil {
			return fmt.Errorf("revoke app code: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return nil
		}
		return s.audit(tx, a, orgID, "app_code.revoke", "app_code", row.ID, appCodeAuditDetails(&row))
	})
	if err == nil {
		s.changed(ctx)
	}
	return err
}

// revokeAppCodes revokes every active code of an app (the app is being
// deleted) and returns how many it revoked.
func revokeAppCodes(tx *gorm.DB, orgID, appID string, now time.Time) (int, error) {
	res := tx.Model(&appCodeRow{}).Where("org_id = ? AND app_id = ? AND status = ?", orgID, appID, KeyActive).
		Updates(map[string]any{"status": KeyRevoked, "revoked_at": now})
	return int(res.RowsAffected), res.Error
}

// ActiveAppCodes returns every active code of an app that is not deleted,
// as hashes, for the gateway's configuration.
func (s *Service) ActiveAppCodes(ctx context.Context) ([]AppCodeMaterial, error) {
	var rows []struct {
		CodeHash    string
		Prefix      string
		OrgID       string
		AppID       string
		Environment string
	}
	if err := s.db.WithContext(ctx).Table("app_codes c").
		Select("c.code_hash, c.prefix, c.org_id, c.app_id, a.environment").
		Joins("JOIN apps a ON a.id = c.app_id AND a.org_id = c.org_id AND a.deleted_at IS NULL").
		Where("c.status = ?", KeyActive).Order("c.prefix").Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("active app codes: %w", err)
	}
	out := make([]AppCodeMaterial, len(rows))
	for i, r := range rows {
		out[i] = AppCodeMaterial{Hash: r.CodeHash, Prefix: r.Prefix, OrgID: r.OrgID, AppID: r.AppID, Environment: r.Environment}
	}
	return out, nil
}

// touchAppCodes records app codes' last use by prefix, with the same rules
// as TouchKeys (forward only, at most once a minute).
func (s *Service) touchAppCodes(ctx context.Context, prefixes []string, usedAt map[string]time.Time) error {
	slices.Sort(prefixes)
	for batch := range slices.Chunk(prefixes, touchBatch) {
		err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			for _, p := range batch {
				t := usedAt[p].UTC()
				if err := tx.Model(&appCodeRow{}).
					Where("prefix = ? AND (last_used_at IS NULL OR last_used_at <= ?)", p, t.Add(-lastUsedResolution)).
					Update("last_used_at", t).Error; err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("touch app codes: %w", err)
		}
	}
	return nil
}

func appCodeAuditDetails(r *appCodeRow) map[string]any {
	return map[string]any{"prefix": r.Prefix, "name": r.Name, "app_id": r.AppID}
}
