package tenants

import (
	"context"
	"errors"
	"fmt"

	"gorm.io/gorm"
)

// ListMembers returns an organisation's members ordered by join time. Any
// member may list them.
func (s *Service) ListMembers(ctx context.Context, orgID string, a Actor, p Page) (List[Member], error) {
	if _, err := s.requireMember(ctx, orgID, a.UserID); err != nil {
		return List[Member]{}, err
	}
	after, err := p.after()
	if err != nil {
		return List[Member]{}, err
	}
	// Memberships have no id of their own; users' ids are time-ordered and
	// unique within an organisation, so the user id is the cursor.
	q := s.db.WithContext(ctx).Table("memberships m").
		Select("u.id, u.email, u.name, u.email_verified_at, u.created_at, m.role, m.created_at AS joined_at").
		Joins("JOIN users u ON u.id = m.user_id").
		Where("m.org_id = ?", orgID)
	if after != "" {
		q = q.Where("u.id > ?", after)
	}
	type row struct {
		User
		Role     Role
		JoinedAt DBTime
	}
	var rows []row
	if err := q.Order("u.id").Limit(p.limit() + 1).Scan(&rows).Error; err != nil {
		return List[Member]{}, fmt.Errorf("list members: %w", err)
	}
	ms := make([]Member, len(rows))
	for i, r := range rows {
		ms[i] = Member{User: r.User, Role: r.Role, JoinedAt: r.JoinedAt.Time}
	}
	return paginate(ms, p.limit(), func(m Member) string { return m.User.ID }), nil
}

// Member returns one member of an organisation.
func (s *Service) Member(ctx context.Context, orgID string, a Actor, userID string) (Member, error) {
	if _, err := s.requireMember(ctx, orgID, a.UserID); err != nil {
		return Member{}, err
	}
	m, err := s.requireMember(ctx, orgID, userID)
	if err != nil {
		return Member{}, Errorf(ENotFound, "No such member.")
	}
	u, err := s.User(ctx, userID)
	if err != nil {
		return Member{}, err
	}
	return Member{User: u, Role: m.Role, JoinedAt: m.CreatedAt}, nil
}

// ChangeRole gives a member another role. Owners and admins manage members;
// only an owner can make or unmake an owner, and the last owner keeps the
// role.
func (s *Service) ChangeRole(ctx context.Context, orgID string, a Actor, userID string, role Role) (Member, error) {
	if !role.Valid() {
		return Member{}, FieldError("role", "Choose one of owner, admin, developer, viewer or billing.")
	}
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		actor, target, err := s.memberPair(tx, orgID, a.UserID, userID)
		if err != nil {
			return err
		}
		if target.Role == role {
			return nil
		}
		if (role == RoleOwner || target.Role == RoleOwner) && actor.Role != RoleOwner {
			return Errorf(EForbidden, "Only an owner can grant or take away the owner role.")
		}
		if target.Role == RoleOwner {
			if err := s.keepAnOwner(tx, orgID); err != nil {
				return err
			}
		}
		if err := tx.Model(&Membership{}).Where("org_id = ? AND user_id = ?", orgID, userID).
			Updates(map[string]any{"role": role, "updated_at": s.now()}).Error; err != nil {
			return fmt.Errorf("change role: %w", err)
		}
		return s.audit(tx, a, orgID, "member.role_change", "user", userID, map[string]any{"from": target.Role, "to": role})
	})
	if err != nil {
		return Member{}, err
	}
	return s.Member(ctx, orgID, a, userID)
}

// RemoveMember takes a user out of an organisation. Members may remove
// themselves (leave); owners and admins may remove others; the last owner
// cannot be removed.
func (s *Service) RemoveMember(ctx context.Context, orgID string, a Actor, userID string) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		actor, target, err := s.memberPair(tx, orgID, a.UserID, userID, true)
		if err != nil {
			return err
		}
		if target.Role == RoleOwner {
			if actor.Role != RoleOwner {
				return Errorf(EForbidden, "Only an owner can remove an owner.")
			}
			if err := s.keepAnOwner(tx, orgID); err != nil {
				return err
			}
		}
		if err := tx.Where("org_id = ? AND user_id = ?", orgID, userID).Delete(&Membership{}).Error; err != nil {
			return fmt.Errorf("remove member: %w", err)
		}
		return s.audit(tx, a, orgID, "member.remove", "user", userID, map[string]any{"role": target.Role})
	})
}

// memberPair loads the actor's and the target's memberships and checks the
// actor may manage members (or is acting on themselves, when selfOK).
func (s *Service) memberPair(tx *gorm.DB, orgID, actorID, targetID string, selfOK ...bool) (Membership, Membership, error) {
	var actor, target Membership
	err := tx.Where("org_id = ? AND user_id = ?", orgID, actorID).Take(&actor).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return actor, target, Errorf(ENotFound, "Not found.")
	}
	if err != nil {
		return actor, target, fmt.Errorf("membership: %w", err)
	}
	self := actorID == targetID && len(selfOK) > 0 && selfOK[0]
	if !self && !actor.Role.CanManageMembers() {
		return actor, target, Errorf(EForbidden, "Only owners and admins can manage members.")
	}
	err = tx.Where("org_id = ? AND user_id = ?", orgID, targetID).Take(&target).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return actor, target, Errorf(ENotFound, "No such member.")
	}
	if err != nil {
		return actor, target, fmt.Errorf("membership: %w", err)
	}
	return actor, target, nil
}

// keepAnOwner fails when the organisation has only one owner left. On
// PostgreSQL the owners' rows are locked so two concurrent demotions cannot
// both pass; SQLite transactions are already serialised.
func (s *Service) keepAnOwner(tx *gorm.DB, orgID string) error {
	q := tx.Model(&Membership{}).Where("org_id = ? AND role = ?", orgID, RoleOwner)
	if tx.Dialector.Name() == "postgres" {
		var ids []string
		if err := q.Clauses(lockingUpdate()).Pluck("user_id", &ids).Error; err != nil {
			return fmt.Errorf("count owners: %w", err)
		}
		if len(ids) <= 1 {
			return Errorf(EConflict, "An organisation needs at least one owner. Make someone else an owner first.")
		}
		return nil
	}
	var n int64
	if err := q.Count(&n).Error; err != nil {
		return fmt.Errorf("count owners: %w", err)
	}
	if n <= 1 {
		return Errorf(EConflict, "An organisation needs at least one owner. Make someone else an owner first.")
	}
	return nil
}
