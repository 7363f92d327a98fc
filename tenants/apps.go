package tenants

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"
)

// App environments. A test app calls APIs' test deployments, a production
// app their production deployments.
const (
	EnvTest       = "test"
	EnvProduction = "production"
)

// maxAppDescription bounds an app's description, in characters.
const maxAppDescription = 2000

// CanManageApps reports whether the role may create, change and delete apps
// and create and revoke their keys. Every member may read apps and key
// metadata.
func (r Role) CanManageApps() bool {
	return r == RoleOwner || r == RoleAdmin || r == RoleDeveloper
}

// App is a partner organisation's client application: the unit that holds
// AK/SK keys and subscriptions and whose calls are metered.
type App struct {
	ID          string `json:"id"`
	OrgID       string `json:"-"`
	Name        string `json:"name"`
	Description string `json:"description"`
	// Environment is "test" or "production" and is fixed at creation.
	Environment string `json:"environment"`
	// OwnerID is the member who created the app; nil once they are deleted.
	OwnerID   *string    `json:"owner_id"`
	CreatedAt time.Time  `json:"created_at"`
	UpdatedAt time.Time  `json:"updated_at"`
	DeletedAt *time.Time `json:"-"`
}

// TableName implements gorm's Tabler.
func (App) TableName() string { return "apps" }

// AppInput describes a new app.
type AppInput struct {
	Name        string
	Description string
	// Environment is "test" or "production"; "" means production.
	Environment string
}

// AppPatch changes some of an app's fields; nil leaves a field alone. The
// environment cannot change: the app's subscriptions, keys and usage history
// belong to the environment it was created for.
type AppPatch struct {
	Name        *string
	Description *string
}

// CreateApp creates an app in the organisation, owned by the actor. Expected
// role (checked by the caller): owner, admin or developer
// (Role.CanManageApps). Names are unique per organisation among apps that
// are not deleted, ignoring case.
func (s *Service) CreateApp(ctx context.Context, orgID string, a Actor, in AppInput) (App, error) {
	in.Name = strings.TrimSpace(in.Name)
	in.Description = strings.TrimSpace(in.Description)
	in.Environment = strings.ToLower(strings.TrimSpace(in.Environment))
	if in.Environment == "" {
		in.Environment = EnvProduction
	}
	v := Validation{}
	validateName(v, "name", in.Name, "a name for the app")
	validateAppDescription(v, in.Description)
	if in.Environment != EnvTest && in.Environment != EnvProduction {
		v.Add("environment", "Choose test or production.")
	}
	if err := v.Err(); err != nil {
		return App{}, err
	}
	now := s.now()
	app := App{ID: newID(), OrgID: orgID, Name: in.Name, Description: in.Description, Environment: in.Environment, CreatedAt: now, UpdatedAt: now}
	if a.UserID != "" {
		app.OwnerID = &a.UserID
	}
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := lockOrg(tx, orgID); err != nil {
			return err
		}
		if err := checkAppName(tx, orgID, "", in.Name); err != nil {
			return err
		}
		if err := tx.Create(&app).Error; err != nil {
			return fmt.Errorf("create app: %w", err)
		}
		return s.audit(tx, a, orgID, "app.create", "app", app.ID, map[string]any{"name": app.Name, "environment": app.Environment})
	})
	if err != nil {
		return App{}, err
	}
	return app, nil
}

// UpdateApp changes an app's name or description. Expected role (checked by
// the caller): owner, admin or developer (Role.CanManageApps).
func (s *Service) UpdateApp(ctx context.Context, orgID, appID string, a Actor, p AppPatch) (App, error) {
	var app App
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if p.Name != nil {
			// Renames serialise on the organisation, like creations, so two
			// apps never end up with the same name.
			if err := lockOrg(tx, orgID); err != nil {
				return err
			}
		}
		var err error
		if app, err = lockApp(tx, orgID, appID); err != nil {
			return err
		}
		v := Validation{}
		upd := map[string]any{}
		changed := []string{}
		if p.Name != nil {
			name := strings.TrimSpace(*p.Name)
			validateName(v, "name", name, "a name for the app")
			if name != app.Name {
				app.Name = name
				upd["name"] = name
				changed = append(changed, "name")
			}
		}
		if p.Description != nil {
			desc := strings.TrimSpace(*p.Description)
			validateAppDescription(v, desc)
			if desc != app.Description {
				app.Description = desc
				upd["description"] = desc
				changed = append(changed, "description")
			}
		}
		if err := v.Err(); err != nil {
			return err
		}
		if len(upd) == 0 {
			return nil
		}
		if _, ok := upd["name"]; ok {
			if err := checkAppName(tx, orgID, app.ID, app.Name); err != nil {
				return err
			}
		}
		app.UpdatedAt = s.now()
		upd["updated_at"] = app.UpdatedAt
		if err := tx.Model(&App{}).Where("id = ? AND org_id = ?", app.ID, orgID).Updates(upd).Error; err != nil {
			return fmt.Errorf("update app: %w", err)
		}
		return s.audit(tx, a, orgID, "app.update", "app", app.ID, map[string]any{"name": app.Name, "changed": changed})
	})
	if err != nil {
		return App{}, err
	}
	return app, nil
}

// App returns one of the organisation's apps. Deleted apps and other
// organisations' apps are not found. Any member may read apps.
func (s *Service) App(ctx context.Context, orgID, appID string) (App, error) {
	var app App
	err := s.db.WithContext(ctx).Where("id = ? AND org_id = ? AND deleted_at IS NULL", appID, orgID).Take(&app).Error
	if err != nil {
		return App{}, appErr("get app", err)
	}
	return app, nil
}

// ListApps returns the organisation's apps that are not deleted, newest
// first. Any member may list apps.
func (s *Service) ListApps(ctx context.Context, orgID string, p Page) (List[App], error) {
	after, err := p.after()
	if err != nil {
		return List[App]{}, err
	}
	q := s.db.WithContext(ctx).Where("org_id = ? AND deleted_at IS NULL", orgID)
	if after != "" {
		q = q.Where("id < ?", after)
	}
	var rows []App
	if err := q.Order("id DESC").Limit(p.limit() + 1).Find(&rows).Error; err != nil {
		return List[App]{}, fmt.Errorf("list apps: %w", err)
	}
	return paginate(rows, p.limit(), func(a App) string { return a.ID }), nil
}

// DeleteApp deletes an app and revokes every key and app code it still has, in one
// transaction, and returns how many keys it revoked (expired keys that were
// not yet revoked included). The row stays, marked deleted, for billing
// history; the app disappears from every other method. Expected role
// (checked by the caller): owner, admin or developer (Role.CanManageApps).
// The caller cancels the app's subscriptions through billing; OnChange
// refreshes the gateway's key snapshot.
func (s *Service) DeleteApp(ctx context.Context, orgID, appID string, a Actor) (revokedKeys int, err error) {
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		app, err := lockApp(tx, orgID, appID)
		if err != nil {
			return err
		}
		now := s.now()
		res := tx.Model(&accessKeyRow{}).
			Where("kind = ? AND org_id = ? AND app_id = ? AND status = ?", KindApp, orgID, app.ID, KeyActive).
			Updates(map[string]any{"status": KeyRevoked, "revoked_at": now})
		if res.Error != nil {
			return fmt.Errorf("delete app: revoke keys: %w", res.Error)
		}
		revokedKeys = int(res.RowsAffected)
		codes, err := revokeAppCodes(tx, orgID, app.ID, now)
		if err != nil {
			return fmt.Errorf("delete app: revoke app codes: %w", err)
		}
		if err := tx.Model(&App{}).Where("id = ? AND org_id = ?", app.ID, orgID).
			Updates(map[string]any{"deleted_at": now, "updated_at": now}).Error; err != nil {
			return fmt.Errorf("delete app: %w", err)
		}
		return s.audit(tx, a, orgID, "app.delete", "app", app.ID, map[string]any{"name": app.Name, "revoked_keys": revokedKeys, "revoked_app_codes": codes})
	})
	if err != nil {
		return 0, err
	}
	s.changed(ctx)
	return revokedKeys, nil
}

func validateAppDescription(v Validation, desc string) {
	if utf8.RuneCountInString(desc) > maxAppDescription {
		v.Add("description", "Keep the description under 2,000 characters.")
	}
}

// lockOrg locks the organisation's row for the rest of tx, which serialises
// changes that must see each other (app names are unique, but no index says
// so case-insensitively on both dialects). An unknown organisation is not
// found.
func lockOrg(tx *gorm.DB, orgID string) error {
	var org Organization
	if err := tx.Clauses(lockingUpdate()).Select("id").Where("id = ?", orgID).Take(&org).Error; err != nil {
		return dbErr("lock organization", err, nil)
	}
	return nil
}

// lockApp returns the organisation's live app and locks its row for the rest
// of tx, so key creation, revocation and deletion of one app happen one at
// a time.
func lockApp(tx *gorm.DB, orgID, appID string) (App, error) {
	var app App
	if err := tx.Clauses(lockingUpdate()).Where("id = ? AND org_id = ? AND deleted_at IS NULL", appID, orgID).Take(&app).Error; err != nil {
		return App{}, appErr("get app", err)
	}
	return app, nil
}

// checkAppName reports a conflict when another live app of the organisation
// (not exceptID) has name, ignoring case. The comparison happens here rather
// than in SQL because SQLite's lower() folds only ASCII; the caller holds the
// organisation's lock.
func checkAppName(tx *gorm.DB, orgID, exceptID, name string) error {
	var names []string
	q := tx.Model(&App{}).Where("org_id = ? AND deleted_at IS NULL", orgID)
	if exceptID != "" {
		q = q.Where("id <> ?", exceptID)
	}
	if err := q.Pluck("name", &names).Error; err != nil {
		return fmt.Errorf("check app name: %w", err)
	}
	for _, n := range names {
		if strings.EqualFold(n, name) {
			return ConflictError("name", "An app with this name already exists; choose another.")
		}
	}
	return nil
}

// appErr maps a missing app to ENotFound with a message naming it.
func appErr(op string, err error) error {
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return Errorf(ENotFound, "No such app.")
	}
	return dbErr(op, err, nil)
}
