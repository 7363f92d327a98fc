package tenants

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
)

// SignUpInput is what a person gives to create an account. Organisation is
// required unless InvitationToken names a pending invitation, in which case
// the new user joins that organisation instead of creating one.
type SignUpInput struct {
	Name            string
	Email           string
	Password        string
	OrgName         string
	OrgSlug         string
	InvitationToken string
}

// SignUpResult is the new user and the organisation they own or joined.
type SignUpResult struct {
	User User
	Org  Organization
	Role Role
}

// Lifetimes of one-time links sent by email.
const (
	verifyTokenTTL     = 72 * time.Hour
	resetTokenTTL      = time.Hour
	invitationTokenTTL = 7 * 24 * time.Hour
)

// SignUp creates a user and either a new organisation they own or a
// membership from an invitation. A verification email is sent unless the
// invitation link already proved the address.
func (s *Service) SignUp(ctx context.Context, in SignUpInput, ip string) (SignUpResult, error) {
	in.Email = NormalizeEmail(in.Email)
	in.Name = strings.TrimSpace(in.Name)
	in.OrgName = strings.TrimSpace(in.OrgName)
	in.OrgSlug = strings.ToLower(strings.TrimSpace(in.OrgSlug))
	v := Validation{}
	validateName(v, "name", in.Name, "your name")
	validateEmail(v, "email", in.Email)
	validatePassword(v, "password", in.Password)
	if in.InvitationToken == "" {
		validateName(v, "organization.name", in.OrgName, "an organisation name")
		if msg := ValidateSlug(in.OrgSlug); msg != "" {
			v.Add("organization.slug", msg)
		}
	}
	if err := v.Err(); err != nil {
		return SignUpResult{}, err
	}
	hash, err := hashPassword(in.Password, s.pw)
	if err != nil {
		return SignUpResult{}, fmt.Errorf("sign up: %w", err)
	}
	now := s.now()
	u := User{ID: newID(), Email: in.Email, Name: in.Name, PasswordHash: hash, PasswordChangedAt: now, CreatedAt: now, UpdatedAt: now}
	var res SignUpResult
	var verifyToken string
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		actor := Actor{UserID: u.ID, Email: u.Email, IP: ip}
		var inv *Invitation
		if in.InvitationToken != "" {
			i, err := s.pendingInvitation(tx, in.InvitationToken)
			if err != nil {
				return err
			}
			if i.Email != in.Email {
				return FieldError("email", "This invitation was sent to a different email address.")
			}
			inv = &i
			u.EmailVerifiedAt = &now // the invitation link proved the address
		}
		if err := tx.Create(&u).Error; err != nil {
			return dbErr("create user", err, ConflictError("email", "An account with this email already exists. Log in instead."))
		}
		if err := s.audit(tx, actor, "", "user.signup", "user", u.ID, nil); err != nil {
			return err
		}
		if inv != nil {
			org, role, err := s.acceptInvitation(tx, *inv, u, actor)
			if err != nil {
				return err
			}
			res = SignUpResult{User: u, Org: org, Role: role}
			return nil
		}
		org, err := s.createOrg(tx, actor, in.OrgName, in.OrgSlug)
		if err != nil {
			return err
		}
		res = SignUpResult{User: u, Org: org, Role: RoleOwner}
		if verifyToken, err = s.newEmailToken(tx, u.ID, "verify_email", verifyTokenTTL); err != nil {
			return err
		}
		return nil
	})
	if err != nil {
		return SignUpResult{}, err
	}
	if verifyToken != "" {
		s.sendVerification(ctx, u, verifyToken)
	}
	return res, nil
}

// Authenticate checks an email and password. Unknown emails cost the same
// time as wrong passwords, and both get the same error.
func (s *Service) Authenticate(ctx context.Context, email, password string) (User, error) {
	email = NormalizeEmail(email)
	var u User
	err := s.db.WithContext(ctx).Where("email = ?", email).Take(&u).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		checkPassword(password, s.dummy)
		return User{}, Errorf(EUnauthorized, "The email or password is not correct.")
	}
	if err != nil {
		return User{}, fmt.Errorf("authenticate: %w", err)
	}
	if !checkPassword(password, u.PasswordHash) {
		return User{}, Errorf(EUnauthorized, "The email or password is not correct.")
	}
	return u, nil
}

// User returns a user by id.
func (s *Service) User(ctx context.Context, id string) (User, error) {
	var u User
	err := s.db.WithContext(ctx).Where("id = ?", id).Take(&u).Error
	return u, dbErr("get user", err, nil)
}

// CreateSession starts a console session for a user who just authenticated.
func (s *Service) CreateSession(ctx context.Context, u User, ip, userAgent string, ttl time.Duration) (Session, error) {
	now := s.now()
	if len(userAgent) > 255 {
		userAgent = userAgent[:255]
	}
	sess := Session{ID: newID(), UserID: u.ID, IP: ip, UserAgent: userAgent, ExpiresAt: now.Add(ttl), CreatedAt: now}
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Create(&sess).Error; err != nil {
			return fmt.Errorf("create session: %w", err)
		}
		// Housekeeping: a user's expired sessions go when they log in again.
		if err := tx.Where("user_id = ? AND expires_at < ?", u.ID, now).Delete(&Session{}).Error; err != nil {
			return fmt.Errorf("create session: %w", err)
		}
		return s.audit(tx, Actor{UserID: u.ID, Email: u.Email, IP: ip}, "", "user.login", "session", sess.ID, nil)
	})
	return sess, err
}

// SessionUser returns the user of a live session, or EUnauthorized when the
// session ended (logout, password change) or expired.
func (s *Service) SessionUser(ctx context.Context, sessionID, userID string) (User, error) {
	var sess Session
	err := s.db.WithContext(ctx).Where("id = ? AND user_id = ?", sessionID, userID).Take(&sess).Error
	if errors.Is(err, gorm.ErrRecordNotFound) || (err == nil && !s.now().Before(sess.ExpiresAt)) {
		return User{}, Errorf(EUnauthorized, "Your session has ended; log in again.")
	}
	if err != nil {
		return User{}, fmt.Errorf("session: %w", err)
	}
	u, err := s.User(ctx, userID)
	if ErrorCode(err) == ENotFound {
		return User{}, Errorf(EUnauthorized, "Your session has ended; log in again.")
	}
	return u, err
}

// EndSession deletes a session (logout).
func (s *Service) EndSession(ctx context.Context, sessionID string, a Actor) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Where("id = ? AND user_id = ?", sessionID, a.UserID).Delete(&Session{}).Error; err != nil {
			return fmt.Errorf("end session: %w", err)
		}
		return s.audit(tx, a, "", "user.logout", "session", sessionID, nil)
	})
}

// UpdateProfile changes the user's display name.
func (s *Service) UpdateProfile(ctx context.Context, a Actor, name string) (User, error) {
	name = strings.TrimSpace(name)
	v := Validation{}
	validateName(v, "name", name, "your name")
	if err := v.Err(); err != nil {
		return User{}, err
	}
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Model(&User{}).Where("id = ?", a.UserID).Updates(map[string]any{"name": name, "updated_at": s.now()}).Error; err != nil {
			return fmt.Errorf("update profile: %w", err)
		}
		return s.audit(tx, a, "", "user.update", "user", a.UserID, map[string]any{"name": name})
	})
	if err != nil {
		return User{}, err
	}
	return s.User(ctx, a.UserID)
}

// ChangePassword replaces the password after checking the current one, and
// ends every session of the user; the caller starts a fresh one.
func (s *Service) ChangePassword(ctx context.Context, a Actor, current, next string) error {
	u, err := s.User(ctx, a.UserID)
	if err != nil {
		return err
	}
	v := Validation{}
	if !checkPassword(current, u.PasswordHash) {
		v.Add("current_password", "The current password is not correct.")
	}
	validatePassword(v, "new_password", next)
	if err := v.Err(); err != nil {
		return err
	}
	return s.setPassword(ctx, u, next, a, "user.password_change")
}

func (s *Service) setPassword(ctx context.Context, u User, pw string, a Actor, action string) error {
	hash, err := hashPassword(pw, s.pw)
	if err != nil {
		return fmt.Errorf("set password: %w", err)
	}
	now := s.now()
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Model(&User{}).Where("id = ?", u.ID).Updates(map[string]any{
			"password_hash": hash, "password_changed_at": now, "updated_at": now,
		}).Error; err != nil {
			return fmt.Errorf("set password: %w", err)
		}
		if err := tx.Where("user_id = ?", u.ID).Delete(&Session{}).Error; err != nil {
			return fmt.Errorf("set password: end sessions: %w", err)
		}
		if err := tx.Model(&emailToken{}).Where("user_id = ? AND purpose = ? AND used_at IS NULL", u.ID, "reset_password").
			Update("used_at", now).Error; err != nil {
			return fmt.Errorf("set password: %w", err)
		}
		return s.audit(tx, a, "", action, "user", u.ID, nil)
	})
}

// newEmailToken stores the hash of a fresh one-time token and returns the
// token itself, which only ever travels in the email.
func (s *Service) newEmailToken(tx *gorm.DB, userID, purpose string, ttl time.Duration) (string, error) {
	tok := randomToken("", 32)
	now := s.now()
	row := emailToken{ID: newID(), UserID: userID, Purpose: purpose, TokenHash: hashToken(tok), ExpiresAt: now.Add(ttl), CreatedAt: now}
	if err := tx.Create(&row).Error; err != nil {
		return "", fmt.Errorf("email token: %w", err)
	}
	return tok, nil
}

// useEmailToken consumes a one-time token of the given purpose.
func (s *Service) useEmailToken(tx *gorm.DB, tok, purpose string) (emailToken, error) {
	var row emailToken
	err := tx.Where("token_hash = ? AND purpose = ?", hashToken(tok), purpose).Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) || (err == nil && (row.UsedAt != nil || !s.now().Before(row.ExpiresAt))) {
		return emailToken{}, Errorf(EInvalid, "This link is invalid or has expired. Ask for a new one.")
	}
	if err != nil {
		return emailToken{}, fmt.Errorf("email token: %w", err)
	}
	now := s.now()
	res := tx.Model(&emailToken{}).Where("id = ? AND used_at IS NULL", row.ID).Update("used_at", now)
	if res.Error != nil {
		return emailToken{}, fmt.Errorf("email token: %w", res.Error)
	}
	if res.RowsAffected != 1 { // raced with another use
		return emailToken{}, Errorf(EInvalid, "This link is invalid or has expired. Ask for a new one.")
	}
	return row, nil
}

func (s *Service) sendVerification(ctx context.Context, u User, tok string) {
	s.send(ctx, Email{
		To:      u.Email,
		Subject: "Confirm your email address for Portico",
		Text: fmt.Sprintf("Hello %s,\n\nConfirm your email address by opening this link:\n\n%s/verify-email?token=%s\n\n"+
			"The link works for 72 hours. If you did not sign up for Portico, ignore this email.\n", u.Name, s.baseURL, tok),
	})
}

// ResendVerification sends a new verification link to an unverified user.
func (s *Service) ResendVerification(ctx context.Context, a Actor) error {
	u, err := s.User(ctx, a.UserID)
	if err != nil {
		return err
	}
	if u.Verified() {
		return Errorf(EConflict, "Your email address is already confirmed.")
	}
	var tok string
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var err error
		tok, err = s.newEmailToken(tx, u.ID, "verify_email", verifyTokenTTL)
		return err
	})
	if err != nil {
		return err
	}
	s.sendVerification(ctx, u, tok)
	return nil
}

// VerifyEmail confirms the address the token was sent to.
func (s *Service) VerifyEmail(ctx context.Context, tok, ip string) (User, error) {
	var u User
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		row, err := s.useEmailToken(tx, tok, "verify_email")
		if err != nil {
			return err
		}
		if err := tx.Where("id = ?", row.UserID).Take(&u).Error; err != nil {
			return dbErr("verify email", err, nil)
		}
		if u.EmailVerifiedAt == nil {
			now := s.now()
			u.EmailVerifiedAt = &now
			if err := tx.Model(&User{}).Where("id = ?", u.ID).Update("email_verified_at", now).Error; err != nil {
				return fmt.Errorf("verify email: %w", err)
			}
		}
		return s.audit(tx, Actor{UserID: u.ID, Email: u.Email, IP: ip}, "", "user.verify_email", "user", u.ID, nil)
	})
	return u, err
}

// RequestPasswordReset emails a reset link if the address has an account.
// It answers the same either way so addresses cannot be probed.
func (s *Service) RequestPasswordReset(ctx context.Context, email, ip string) error {
	email = NormalizeEmail(email)
	v := Validation{}
	validateEmail(v, "email", email)
	if err := v.Err(); err != nil {
		return err
	}
	var u User
	err := s.db.WithContext(ctx).Where("email = ?", email).Take(&u).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		s.log.InfoContext(ctx, "password reset requested for unknown email")
		return nil
	}
	if err != nil {
		return fmt.Errorf("request reset: %w", err)
	}
	var tok string
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var err error
		if tok, err = s.newEmailToken(tx, u.ID, "reset_password", resetTokenTTL); err != nil {
			return err
		}
		return s.audit(tx, Actor{UserID: u.ID, Email: u.Email, IP: ip}, "", "user.password_reset_request", "user", u.ID, nil)
	})
	if err != nil {
		return err
	}
	s.send(ctx, Email{
		To:      u.Email,
		Subject: "Reset your Portico password",
		Text: fmt.Sprintf("Hello %s,\n\nSomeone (hopefully you) asked to reset the password of your Portico account.\n"+
			"Choose a new password here:\n\n%s/reset-password?token=%s\n\nThe link works for one hour and only once. "+
			"If you did not ask for this, ignore this email; your password stays as it is.\n", u.Name, s.baseURL, tok),
	})
	return nil
}

// CheckResetToken reports whether a reset link is still usable, without
// using it, so the form is only shown for links that work.
func (s *Service) CheckResetToken(ctx context.Context, tok string) error {
	var row emailToken
	err := s.db.WithContext(ctx).Where("token_hash = ? AND purpose = ?", hashToken(tok), "reset_password").Take(&row).Error
	if err != nil || row.UsedAt != nil || !s.now().Before(row.ExpiresAt) {
		return Errorf(EInvalid, "This link is invalid or has expired. Ask for a new one.")
	}
	return nil
}

// ResetPassword sets a new password from a reset link, ends every session and
// marks the email verified (the link proved the address).
func (s *Service) ResetPassword(ctx context.Context, tok, pw, ip string) (User, error) {
	v := Validation{}
	validatePassword(v, "password", pw)
	if err := v.Err(); err != nil {
		return User{}, err
	}
	var u User
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		row, err := s.useEmailToken(tx, tok, "reset_password")
		if err != nil {
			return err
		}
		if err := tx.Where("id = ?", row.UserID).Take(&u).Error; err != nil {
			return dbErr("reset password", err, nil)
		}
		if u.EmailVerifiedAt == nil {
			if err := tx.Model(&User{}).Where("id = ?", u.ID).Update("email_verified_at", s.now()).Error; err != nil {
				return fmt.Errorf("reset password: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return User{}, err
	}
	if err := s.setPassword(ctx, u, pw, Actor{UserID: u.ID, Email: u.Email, IP: ip}, "user.password_reset"); err != nil {
		return User{}, err
	}
	return s.User(ctx, u.ID)
}
