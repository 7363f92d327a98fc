package tenants

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// audit writes one audit event inside tx. orgID may be "" for events that
// belong to a user rather than an organisation (password change, login).
func (s *Service) audit(tx *gorm.DB, a Actor, orgID, action, objectType, objectID string, details map[string]any) error {
	return WriteAudit(tx, s.now(), a, orgID, action, objectType, objectID, details)
}

// WriteAudit records one audit event inside tx, so the event commits or rolls
// back with the change it describes. Other services (catalog, billing) call
// it for their changes. Details must hold no secrets.
func WriteAudit(tx *gorm.DB, at time.Time, a Actor, orgID, action, objectType, objectID string, details map[string]any) error {
	d := "{}"
	if len(details) > 0 {
		b, err := json.Marshal(details)
		if err != nil {
			return fmt.Errorf("audit: %w", err)
		}
		d = string(b)
	}
	ev := AuditEvent{
		ID: newID(), ActorEmail: a.Email, Action: action, ObjectType: objectType, ObjectID: objectID,
		IP: a.IP, Details: d, CreatedAt: at.UTC(),
	}
	if a.UserID != "" {
		ev.ActorID = &a.UserID
	}
	if orgID != "" {
		ev.OrgID = &orgID
	}
	if err := tx.Create(&ev).Error; err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	return nil
}

// ListAudit returns an organisation's audit log, newest first. The actor must
// be an owner or admin of the organisation.
func (s *Service) ListAudit(ctx context.Context, orgID string, a Actor, p Page) (List[AuditEvent], error) {
	m, err := s.requireMember(ctx, orgID, a.UserID)
	if err != nil {
		return List[AuditEvent]{}, err
	}
	if !m.Role.CanReadAudit() {
		return List[AuditEvent]{}, Errorf(EForbidden, "Only owners and admins can read the audit log.")
	}
	after, err := p.after()
	if err != nil {
		return List[AuditEvent]{}, err
	}
	q := s.db.WithContext(ctx).Where("org_id = ?", orgID)
	if after != "" {
		q = q.Where("id < ?", after)
	}
	var rows []AuditEvent
	if err := q.Order("id DESC").Limit(p.limit() + 1).Find(&rows).Error; err != nil {
		return List[AuditEvent]{}, fmt.Errorf("list audit: %w", err)
	}
	return paginate(rows, p.limit(), func(e AuditEvent) string { return e.ID }), nil
}

// ListUserAudit returns the events a user caused or that concern their
// account (logins, password changes), newest first.
func (s *Service) ListUserAudit(ctx context.Context, userID string, p Page) (List[AuditEvent], error) {
	after, err := p.after()
	if err != nil {
		return List[AuditEvent]{}, err
	}
	q := s.db.WithContext(ctx).Where("actor_id = ? AND org_id IS NULL", userID)
	if after != "" {
		q = q.Where("id < ?", after)
	}
	var rows []AuditEvent
	if err := q.Order("id DESC").Limit(p.limit() + 1).Find(&rows).Error; err != nil {
		return List[AuditEvent]{}, fmt.Errorf("list user audit: %w", err)
	}
	return paginate(rows, p.limit(), func(e AuditEvent) string { return e.ID }), nil
}
