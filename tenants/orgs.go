package tenants

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
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
	return s.UpdateOrganization(ctx, orgID, a, OrgPatch{Name: &name})
}

// OrgPatch changes some of an organisation's settings; nil leaves a field
// alone.
type OrgPatch struct {
	Name, Description, WebsiteURL, LogoURL, BrandColor *string
}

var colorRE = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)

// UpdateOrganization changes an organisation's name and public branding
// (owners and admins).
func (s *Service) UpdateOrganization(ctx context.Context, orgID string, a Actor, p OrgPatch) (Organization, error) {
	if err := s.requireRole(ctx, orgID, a, Role.CanManageMembers, "Only owners and admins can change organisation settings."); err != nil {
		return Organization{}, err
	}
	var org Organization
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Where("id = ?", orgID).Take(&org).Error; err != nil {
			return dbErr("update organization", err, nil)
		}
		v := Validation{}
		upd := map[string]any{}
		if p.Name != nil {
			org.Name = strings.TrimSpace(*p.Name)
			validateName(v, "name", org.Name, "an organisation name")
			upd["name"] = org.Name
		}
		if p.Description != nil {
			org.Description = strings.TrimSpace(*p.Description)
			if len(org.Description) > 2000 {
				v.Add("description", "Keep the description under 2,000 characters.")
			}
			upd["description"] = org.Description
		}
		for field, pair := range map[string][2]*string{"website_url": {p.WebsiteURL, &org.WebsiteURL}, "logo_url": {p.LogoURL, &org.LogoURL}} {
			if pair[0] == nil {
				continue
			}
			val := strings.TrimSpace(*pair[0])
			if val != "" {
				u, err := url.Parse(val)
				if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || len(val) > 500 {
					v.Add(field, "Use a full http(s) URL.")
				} else if field == "logo_url" && u.Scheme != "https" {
					// Pages only load images from https hosts.
					v.Add(field, "Use an https URL for the logo: pages only load images over https.")
				}
			}
			*pair[1] = val
			upd[field] = val
		}
		if p.BrandColor != nil {
			org.BrandColor = strings.ToLower(strings.TrimSpace(*p.BrandColor))
			if org.BrandColor != "" && !colorRE.MatchString(org.BrandColor) {
				v.Add("brand_color", "Use a colour like #3355ff.")
			}
			upd["brand_color"] = org.BrandColor
		}
		if err := v.Err(); err != nil {
			return err
		}
		org.UpdatedAt = s.now()
		upd["updated_at"] = org.UpdatedAt
		if err := tx.Model(&Organization{}).Where("id = ?", orgID).Updates(upd).Error; err != nil {
			return fmt.Errorf("update organization: %w", err)
		}
		delete(upd, "updated_at")
		return s.audit(tx, a, orgID, "organization.update", "organization", orgID, upd)
	})
	return org, err
}

// OrganizationBySlug returns an organisation for its public pages (provider
// page, market), whoever asks.
func (s *Service) OrganizationBySlug(ctx context.Context, slug string) (Organization, error) {
	var org Organization
	err := s.db.WithContext(ctx).Where("slug = ?", strings.ToLower(slug)).Take(&org).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return Organization{}, Errorf(ENotFound, "No organisation %q.", slug)
	}
	return org, dbErr("get organization", err, nil)
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

// CountOrganizations returns how many organisations exist (the demo seeds
// an empty database only).
func (s *Service) CountOrganizations(ctx context.Context) (int64, error) {
	var n int64
	if err := s.db.WithContext(ctx).Model(&Organization{}).Count(&n).Error; err != nil {
		return 0, fmt.Errorf("count organizations: %w", err)
	}
	return n, nil
}
