package tenants

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"gorm.io/gorm"
)

// CreateOrganization creates an organisation owned by the actor.
func (s *Service) CreateOrganization(ctx context.Context, a Actor, name, slug string) (Organization, error) {
	name = strings.TrimSpace(name)
	slug = strings.ToLower(strings.TrimSpace(slug))
	v := Validation{}
	validateName(v, "name", name, "an organisation name")
	if msg := ValidateSlug(slug); msg != "" {
		v.Add("slug", msg)
	}
	if err := v.Err(); err != nil {
		return Organization{}, err
	}
	var org Organization
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var err error
		org, err = s.createOrg(tx, a, name, slug)
		return err
	})
	return org, err
}

func (s *Service) createOrg(tx *gorm.DB, a Actor, name, slug string) (Organization, error) {
	now := s.now()
	org := Organization{ID: newID(), Slug: slug, Name: name, CreatedAt: now, UpdatedAt: now}
	if err := tx.Create(&org).Error; err != nil {
		// The signup form nests the organisation; the org form does not.
		return Organization{}, dbErr("create organization", err, &Error{
			Code: EConflict, Message: "The organisation name \"" + slug + "\" is taken; choose another.",
			Fields: map[string]string{"organization.slug": "This name is taken; choose another.", "slug": "This name is taken; choose another."},
		})
	}
	m := Membership{OrgID: org.ID, UserID: a.UserID, Role: RoleOwner, CreatedAt: now, UpdatedAt: now}
	if err := tx.Create(&m).Error; err != nil {
		return Organization{}, fmt.Errorf("create organization: owner: %w", err)
	}
	if err := s.audit(tx, a, org.ID, "organization.create", "organization", org.ID, map[string]any{"slug": slug, "name": name}); err != nil {
		return Organization{}, err
	}
	return org, nil
}

// OrganizationForMember returns the organisation with this slug and the
// user's role in it. Anyone who is not a member gets ENotFound, exactly as if
// the organisation did not exist.
func (s *Service) OrganizationForMember(ctx context.Context, userID, slug string) (Organization, Role, error) {
	type row struct {
		Organization
		Role Role
	}
	var r row
	err := s.db.WithContext(ctx).Table("organizations o").
		Select("o.*, m.role").
		Joins("JOIN memberships m ON m.org_id = o.id AND m.user_id = ?", userID).
		Where("o.slug = ?", strings.ToLower(slug)).Take(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return Organization{}, "", Errorf(ENotFound, "No organisation %q.", slug)
	}
	if err != nil {
		return Organization{}, "", fmt.Errorf("get organization: %w", err)
	}
	return r.Organization, r.Role, nil
}

// ListOrganizations returns every organisation the user belongs to, by name.
func (s *Service) ListOrganizations(ctx context.Context, userID string) ([]OrgMembership, error) {
	type row struct {
		Organization
		Role Role
	}
	var rows []row
	err := s.db.WithContext(ctx).Table("organizations o").
		Select("o.*, m.role").
		Joins("JOIN memberships m ON m.org_id = o.id AND m.user_id = ?", userID).
		Order("o.name, o.slug").Limit(1000).Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("list organizations: %w", err)
	}
	out := make([]OrgMembership, len(rows))
	for i, r := range rows {
		out[i] = OrgMembership{Org: r.Organization, Role: r.Role}
	}
	return out, nil
}

// RenameOrganization changes an organisation's display name (owners and
// admins). The slug is permanent: URLs and gateway routes contain it.
func (s *Service) RenameOrganization(ctx context.Context, orgID string, a Actor, name string) (Organization, error) {
	name = strings.TrimSpace(name)
	v := Validation{}
	validateName(v, "name", name, "an organisation name")
	if err := v.Err(); err != nil {
		return Organization{}, err
	}
	if err := s.requireRole(ctx, orgID, a, Role.CanManageMembers, "Only owners and admins can change organisation settings."); err != nil {
		return Organization{}, err
	}
	var org Organization
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Model(&Organization{}).Where("id = ?", orgID).Updates(map[string]any{"name": name, "updated_at": s.now()}).Error; err != nil {
			return fmt.Errorf("rename organization: %w", err)
		}
		if err := tx.Where("id = ?", orgID).Take(&org).Error; err != nil {
			return dbErr("rename organization", err, nil)
		}
		return s.audit(tx, a, orgID, "organization.update", "organization", orgID, map[string]any{"name": name})
	})
	return org, err
}

// requireMember returns the user's membership of the organisation, or
// ENotFound when there is none.
func (s *Service) requireMember(ctx context.Context, orgID, userID string) (Membership, error) {
	var m Membership
	err := s.db.WithContext(ctx).Where("org_id = ? AND user_id = ?", orgID, userID).Take(&m).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return Membership{}, Errorf(ENotFound, "Not found.")
	}
	if err != nil {
		return Membership{}, fmt.Errorf("membership: %w", err)
	}
	return m, nil
}

func (s *Service) requireRole(ctx context.Context, orgID string, a Actor, allowed func(Role) bool, msg string) error {
	m, err := s.requireMember(ctx, orgID, a.UserID)
	if err != nil {
		return err
	}
	if !allowed(m.Role) {
		return Errorf(EForbidden, "%s", msg)
	}
	return nil
}
