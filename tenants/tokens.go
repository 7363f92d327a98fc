package tenants

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
)

// TokenPrefix starts every personal access token, so secret scanners can
// recognise leaked ones.
const TokenPrefix = "pat_"

// MaxTokenLifetime bounds how long a personal access token may live.
const MaxTokenLifetime = 366 * 24 * time.Hour

// CreatedToken is a new token together with its secret value, which is
// returned once and never stored.
type CreatedToken struct {
	PersonalToken
	Token string
}

// CreateToken issues a personal access token for the actor. ttl 0 means no
// expiry.
func (s *Service) CreateToken(ctx context.Context, a Actor, name string, ttl time.Duration) (CreatedToken, error) {
	name = strings.TrimSpace(name)
	v := Validation{}
	validateName(v, "name", name, "a name for the token")
	if ttl < 0 || ttl > MaxTokenLifetime {
		v.Add("expires_in_days", "Choose an expiry between 1 and 366 days, or none.")
	}
	if err := v.Err(); err != nil {
		return CreatedToken{}, err
	}
	tok := randomToken(TokenPrefix, 32)
	now := s.now()
	pt := PersonalToken{ID: newID(), UserID: a.UserID, Name: name, TokenHash: hashToken(tok), Hint: tok[len(tok)-4:], CreatedAt: now}
	if ttl > 0 {
		exp := now.Add(ttl)
		pt.ExpiresAt = &exp
	}
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Create(&pt).Error; err != nil {
			return fmt.Errorf("create token: %w", err)
		}
		return s.audit(tx, a, "", "token.create", "token", pt.ID, map[string]any{"name": name})
	})
	if err != nil {
		return CreatedToken{}, err
	}
	return CreatedToken{PersonalToken: pt, Token: tok}, nil
}

// ListTokens returns the actor's tokens, newest first, without secrets.
func (s *Service) ListTokens(ctx context.Context, a Actor, p Page) (List[PersonalToken], error) {
	after, err := p.after()
	if err != nil {
		return List[PersonalToken]{}, err
	}
	q := s.db.WithContext(ctx).Where("user_id = ?", a.UserID)
	if after != "" {
		q = q.Where("id < ?", after)
	}
	var rows []PersonalToken
	if err := q.Order("id DESC").Limit(p.limit() + 1).Find(&rows).Error; err != nil {
		return List[PersonalToken]{}, fmt.Errorf("list tokens: %w", err)
	}
	return paginate(rows, p.limit(), func(t PersonalToken) string { return t.ID }), nil
}

// RevokeToken revokes one of the actor's tokens. Another user's token id
// answers not found.
func (s *Service) RevokeToken(ctx context.Context, a Actor, id string) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var pt PersonalToken
		if err := tx.Where("id = ? AND user_id = ?", id, a.UserID).Take(&pt).Error; err != nil {
			return dbErr("revoke token", err, nil)
		}
		if pt.RevokedAt != nil {
			return nil
		}
		if err := tx.Model(&PersonalToken{}).Where("id = ? AND user_id = ?", id, a.UserID).Update("revoked_at", s.now()).Error; err != nil {
			return fmt.Errorf("revoke token: %w", err)
		}
		return s.audit(tx, a, "", "token.revoke", "token", id, map[string]any{"name": pt.Name})
	})
}

// lastUsedResolution is how stale a token's last-used time may be: writing it
// on every request would turn every read into a write.
const lastUsedResolution = time.Minute

// AuthenticateToken returns the user a bearer token belongs to.
func (s *Service) AuthenticateToken(ctx context.Context, tok string) (User, PersonalToken, error) {
	unauthorized := Errorf(EUnauthorized, "The token is not valid, expired or revoked.")
	if !strings.HasPrefix(tok, TokenPrefix) || len(tok) > 200 {
		return User{}, PersonalToken{}, unauthorized
	}
	var pt PersonalToken
	err := s.db.WithContext(ctx).Where("token_hash = ?", hashToken(tok)).Take(&pt).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return User{}, PersonalToken{}, unauthorized
	}
	if err != nil {
		return User{}, PersonalToken{}, fmt.Errorf("authenticate token: %w", err)
	}
	now := s.now()
	if !pt.Active(now) {
		return User{}, PersonalToken{}, unauthorized
	}
	u, err := s.User(ctx, pt.UserID)
	if err != nil {
		return User{}, PersonalToken{}, unauthorized
	}
	if pt.LastUsedAt == nil || now.Sub(*pt.LastUsedAt) >= lastUsedResolution {
		if err := s.db.WithContext(ctx).Model(&PersonalToken{}).Where("id = ?", pt.ID).Update("last_used_at", now).Error; err != nil {
			s.log.WarnContext(ctx, "token last-used update failed", "token_id", pt.ID, "err", err)
		}
		pt.LastUsedAt = &now
	}
	return u, pt, nil
}
