package tenants

import (
	"context"
	"errors"
	"fmt"

	"gorm.io/gorm"
)

// InvitationDetails is a pending invitation as its recipient sees it.
type InvitationDetails struct {
	Invitation  Invitation
	Org         Organization
	InviterName string
}

// Invite invites an email address into the organisation. Owners and admins
// invite; only owners invite owners. Inviting an address that already has a
// pending invitation replaces it (the old link stops working).
func (s *Service) Invite(ctx context.Context, orgID string, a Actor, email string, role Role) (Invitation, error) {
	email = NormalizeEmail(email)
	v := Validation{}
	validateEmail(v, "email", email)
	if !role.Valid() {
		v.Add("role", "Choose one of owner, admin, developer, viewer or billing.")
	}
	if err := v.Err(); err != nil {
		return Invitation{}, err
	}
	var inv Invitation
	var org Organization
	var tok string
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		actor, err := s.requireMemberTx(tx, orgID, a.UserID)
		if err != nil {
			return err
		}
		if !actor.Role.CanManageMembers() {
			return Errorf(EForbidden, "Only owners and admins can invite members.")
		}
		if role == RoleOwner && actor.Role != RoleOwner {
			return Errorf(EForbidden, "Only an owner can invite another owner.")
		}
		var n int64
		if err := tx.Table("memberships m").Joins("JOIN users u ON u.id = m.user_id").
			Where("m.org_id = ? AND u.email = ?", orgID, email).Count(&n).Error; err != nil {
			return fmt.Errorf("invite: %w", err)
		}
		if n > 0 {
			return &Error{Code: EConflict, Message: email + " is already a member.", Fields: map[string]string{"email": "Already a member."}}
		}
		now := s.now()
		if err := tx.Model(&Invitation{}).Where("org_id = ? AND email = ? AND accepted_at IS NULL AND revoked_at IS NULL", orgID, email).
			Update("revoked_at", now).Error; err != nil {
			return fmt.Errorf("invite: %w", err)
		}
		if err := tx.Where("id = ?", orgID).Take(&org).Error; err != nil {
			return dbErr("invite", err, nil)
		}
		tok = randomToken("", 32)
		inv = Invitation{ID: newID(), OrgID: orgID, Email: email, Role: role, TokenHash: hashToken(tok), InvitedBy: &a.UserID, ExpiresAt: now.Add(invitationTokenTTL), CreatedAt: now}
		if err := tx.Create(&inv).Error; err != nil {
			return fmt.Errorf("invite: %w", err)
		}
		return s.audit(tx, a, orgID, "invitation.create", "invitation", inv.ID, map[string]any{"email": email, "role": role})
	})
	if err != nil {
		return Invitation{}, err
	}
	s.send(ctx, Email{
		To:      email,
		Subject: fmt.Sprintf("You are invited to join %s on Portico", org.Name),
		Text: fmt.Sprintf("Hello,\n\n%s invited you to join the organisation %s on Portico as %s.\n\nAccept the invitation here:\n\n%s/invitations/%s\n\n"+
			"The invitation is valid for 7 days.\n", a.Email, org.Name, role, s.baseURL, tok),
	})
	return inv, nil
}

// ListInvitations returns an organisation's invitations, newest first.
func (s *Service) ListInvitations(ctx context.Context, orgID string, a Actor, p Page) (List[Invitation], error) {
	if _, err := s.requireMember(ctx, orgID, a.UserID); err != nil {
		return List[Invitation]{}, err
	}
	after, err := p.after()
	if err != nil {
		return List[Invitation]{}, err
	}
	q := s.db.WithContext(ctx).Where("org_id = ?", orgID)
	if after != "" {
		q = q.Where("id < ?", after)
	}
	var rows []Invitation
	if err := q.Order("id DESC").Limit(p.limit() + 1).Find(&rows).Error; err != nil {
		return List[Invitation]{}, fmt.Errorf("list invitations: %w", err)
	}
	return paginate(rows, p.limit(), func(i Invitation) string { return i.ID }), nil
}

// RevokeInvitation withdraws a pending invitation.
func (s *Service) RevokeInvitation(ctx context.Context, orgID string, a Actor, id string) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		actor, err := s.requireMemberTx(tx, orgID, a.UserID)
		if err != nil {
			return err
		}
		if !actor.Role.CanManageMembers() {
			return Errorf(EForbidden, "Only owners and admins can revoke invitations.")
		}
		var inv Invitation
		if err := tx.Where("id = ? AND org_id = ?", id, orgID).Take(&inv).Error; err != nil {
			return dbErr("revoke invitation", err, nil)
		}
		if st := inv.Status(s.now()); st != "pending" {
			return Errorf(EConflict, "This invitation is %s and can no longer be revoked.", st)
		}
		if err := tx.Model(&Invitation{}).Where("id = ? AND org_id = ?", id, orgID).Update("revoked_at", s.now()).Error; err != nil {
			return fmt.Errorf("revoke invitation: %w", err)
		}
		return s.audit(tx, a, orgID, "invitation.revoke", "invitation", id, map[string]any{"email": inv.Email})
	})
}

// InvitationByToken returns a pending invitation for its recipient to look
// at before accepting.
func (s *Service) InvitationByToken(ctx context.Context, tok string) (InvitationDetails, error) {
	inv, err := s.pendingInvitation(s.db.WithContext(ctx), tok)
	if err != nil {
		return InvitationDetails{}, err
	}
	var d InvitationDetails
	d.Invitation = inv
	if err := s.db.WithContext(ctx).Where("id = ?", inv.OrgID).Take(&d.Org).Error; err != nil {
		return InvitationDetails{}, dbErr("invitation", err, nil)
	}
	if inv.InvitedBy != nil {
		var u User
		if s.db.WithContext(ctx).Where("id = ?", *inv.InvitedBy).Take(&u).Error == nil {
			d.InviterName = u.Name
		}
	}
	return d, nil
}

// AcceptInvitation makes the logged-in user a member. The user's email must
// be the one invited, so a forwarded link cannot be used by someone else.
func (s *Service) AcceptInvitation(ctx context.Context, a Actor, tok string) (Organization, Role, error) {
	var org Organization
	var role Role
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		inv, err := s.pendingInvitation(tx, tok)
		if err != nil {
			return err
		}
		var u User
		if err := tx.Where("id = ?", a.UserID).Take(&u).Error; err != nil {
			return dbErr("accept invitation", err, nil)
		}
		if u.Email != inv.Email {
			return Errorf(EForbidden, "This invitation was sent to %s; log in with that address to accept it.", inv.Email)
		}
		org, role, err = s.acceptInvitation(tx, inv, u, a)
		return err
	})
	return org, role, err
}

func (s *Service) acceptInvitation(tx *gorm.DB, inv Invitation, u User, a Actor) (Organization, Role, error) {
	now := s.now()
	res := tx.Model(&Invitation{}).Where("id = ? AND accepted_at IS NULL AND revoked_at IS NULL", inv.ID).
		Updates(map[string]any{"accepted_at": now, "accepted_by": u.ID})
	if res.Error != nil {
		return Organization{}, "", fmt.Errorf("accept invitation: %w", res.Error)
	}
	if res.RowsAffected != 1 {
		return Organization{}, "", Errorf(EConflict, "This invitation was already used.")
	}
	m := Membership{OrgID: inv.OrgID, UserID: u.ID, Role: inv.Role, CreatedAt: now, UpdatedAt: now}
	if err := tx.Create(&m).Error; err != nil {
		return Organization{}, "", dbErr("accept invitation", err, Errorf(EConflict, "You are already a member of this organisation."))
	}
	if u.EmailVerifiedAt == nil { // the link proved the address
		if err := tx.Model(&User{}).Where("id = ?", u.ID).Update("email_verified_at", now).Error; err != nil {
			return Organization{}, "", fmt.Errorf("accept invitation: %w", err)
		}
	}
	var org Organization
	if err := tx.Where("id = ?", inv.OrgID).Take(&org).Error; err != nil {
		return Organization{}, "", dbErr("accept invitation", err, nil)
	}
	if err := s.audit(tx, a, inv.OrgID, "invitation.accept", "invitation", inv.ID, map[string]any{"email": u.Email, "role": inv.Role}); err != nil {
		return Organization{}, "", err
	}
	return org, inv.Role, nil
}

func (s *Service) pendingInvitation(tx *gorm.DB, tok string) (Invitation, error) {
	var inv Invitation
	err := tx.Where("token_hash = ?", hashToken(tok)).Take(&inv).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return Invitation{}, Errorf(ENotFound, "This invitation link is not valid.")
	}
	if err != nil {
		return Invitation{}, fmt.Errorf("invitation: %w", err)
	}
	if st := inv.Status(s.now()); st != "pending" {
		return Invitation{}, Errorf(EConflict, "This invitation is %s. Ask the organisation for a new one.", st)
	}
	return inv, nil
}

func (s *Service) requireMemberTx(tx *gorm.DB, orgID, userID string) (Membership, error) {
	var m Membership
	err := tx.Where("org_id = ? AND user_id = ?", orgID, userID).Take(&m).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return Membership{}, Errorf(ENotFound, "Not found.")
	}
	if err != nil {
		return Membership{}, fmt.Errorf("membership: %w", err)
	}
	return m, nil
}
