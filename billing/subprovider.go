package billing

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	"gorm.io/gorm"

	"github.com/portico-dev/portico/tenants"
)

// The provider's side of subscriptions. Every method takes the provider
// organisation's id and reads only subscriptions to its APIs; a subscription
// to another provider's API is not found. Providers see their subscribers'
// organisations and apps, never their keys (billing holds none).

const providerScope = "provider_org_id = ?"

// ProviderSubscription returns one subscription to the provider's APIs.
func (s *Service) ProviderSubscription(ctx context.Context, providerOrgID, id string) (Subscription, error) {
	return s.detail(s.db.WithContext(ctx), "s.provider_org_id = ?", providerOrgID, id)
}

// ListSubscribers returns the subscriptions to one of the provider's APIs,
// newest first; an empty apiID lists those of all its APIs.
func (s *Service) ListSubscribers(ctx context.Context, providerOrgID, apiID string, f SubscriberFilter, p tenants.Page) (tenants.List[Subscription], error) {
	if err := checkStatusFilter(f.Status); err != nil {
		return tenants.List[Subscription]{}, err
	}
	q := strings.TrimSpace(f.Q)
	if utf8.RuneCountInString(q) > maxSearchRunes {
		return tenants.List[Subscription]{}, tenants.FieldError("q", fmt.Sprintf("Search with at most %d characters.", maxSearchRunes))
	}
	db := s.db.WithContext(ctx)
	query := subDetails(db).Where("s.provider_org_id = ?", providerOrgID)
	if apiID != "" {
		if err := s.requireAPI(ctx, providerOrgID, apiID); err != nil {
			return tenants.List[Subscription]{}, err
		}
		query = query.Where("s.api_id = ?", apiID)
	}
	if f.Status != "" {
		query = query.Where("s.status = ?", f.Status)
	}
	if slug := normSlug(f.PlanSlug); slug != "" {
		query = query.Where("s.plan_id IN (SELECT id FROM plans WHERE org_id = ? AND slug = ?)", providerOrgID, slug)
	}
	if q != "" {
		query = query.Where(`LOWER(po.name) LIKE ? ESCAPE '\'`, "%"+likeEscape(strings.ToLower(q))+"%")
	}
	return s.list(db, query, p, false)
}

// likeEscape makes LIKE's wildcards in s match themselves.
func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// ApprovalQueue returns the requests waiting for the provider's approval
// across its APIs, oldest first, with the partner's organisation, app,
// requested plan and message.
func (s *Service) ApprovalQueue(ctx context.Context, providerOrgID string, p tenants.Page) (tenants.List[Subscription], error) {
	db := s.db.WithContext(ctx)
	q := subDetails(db).Where("s.provider_org_id = ? AND s.status = ?", providerOrgID, SubPendingApproval)
	return s.list(db, q, p, true)
}

// Approve grants a request: a free plan becomes active and its first period
// starts now; a paid one moves on to pending_payment. The partner's owners
// and admins are emailed. A request already decided is a conflict.
func (s *Service) Approve(ctx context.Context, providerOrgID, id string, a tenants.Actor) (Subscription, error) {
	return s.decide(ctx, providerOrgID, id, a, func(tx *gorm.DB, cur subRow) (change, error) {
		plan, err := loadPlan(tx, cur.PlanID)
		if err != nil {
			return change{}, err
		}
		if plan.State == PlanClosed {
			return change{}, tenants.Errorf(tenants.EConflict, "Plan %q was closed since the request; reject it instead.", plan.Slug)
		}
		now := s.timestamp()
		ch := change{to: SubActive, kind: EventApproved, action: "subscription.approve",
			cols: map[string]any{"period_start": now, "period_end": addMonth(now)}, note: "Approved."}
		if plan.PriceCents > 0 {
			ch.to, ch.note = SubPendingPayment, "Approved; "+paymentNote
		}
		return ch, nil
	})
}

// Reject refuses a request with a reason the partner sees (required). The
// partner's owners and admins are emailed.
func (s *Service) Reject(ctx context.Context, providerOrgID, id string, a tenants.Actor, reason string) (Subscription, error) {
	reason, err := checkReason(reason)
	if err != nil {
		return Subscription{}, err
	}
	return s.decide(ctx, providerOrgID, id, a, func(_ *gorm.DB, _ subRow) (change, error) {
		return change{to: SubRejected, kind: EventRejected, action: "subscription.reject", note: reason,
			cols: map[string]any{"reason": reason, "ended_at": s.timestamp()}}, nil
	})
}

// decide approves or rejects a pending request.
func (s *Service) decide(ctx context.Context, providerOrgID, id string, a tenants.Actor, how func(*gorm.DB, subRow) (change, error)) (Subscription, error) {
	return s.providerChange(ctx, providerOrgID, id, a, func(tx *gorm.DB, cur subRow) (change, error) {
		if cur.Status != string(SubPendingApproval) {
			return change{}, tenants.Errorf(tenants.EConflict, "This request was already decided: the subscription is %s.",
				SubscriptionStatus(cur.Status).Label())
		}
		return how(tx, cur)
	})
}

// Suspend stops an active subscription's calls for a reason the partner
// sees (required), until Resume. Its periods keep running.
func (s *Service) Suspend(ctx context.Context, providerOrgID, id string, a tenants.Actor, reason string) (Subscription, error) {
	reason, err := checkReason(reason)
	if err != nil {
		return Subscription{}, err
	}
	return s.providerChange(ctx, providerOrgID, id, a, func(*gorm.DB, subRow) (change, error) {
		return change{to: SubSuspended, kind: EventSuspended, action: "subscription.suspend", note: reason,
			cols: map[string]any{"reason": reason}}, nil
	})
}

// Resume lets a suspended subscription call again.
func (s *Service) Resume(ctx context.Context, providerOrgID, id string, a tenants.Actor) (Subscription, error) {
	return s.providerChange(ctx, providerOrgID, id, a, func(*gorm.DB, subRow) (change, error) {
		return change{to: SubActive, kind: EventResumed, action: "subscription.resume", note: "Resumed.",
			cols: map[string]any{"reason": ""}}, nil
	})
}

// Terminate ends a subscription for good, at once, for a reason the partner
// sees (required).
func (s *Service) Terminate(ctx context.Context, providerOrgID, id string, a tenants.Actor, reason string) (Subscription, error) {
	reason, err := checkReason(reason)
	if err != nil {
		return Subscription{}, err
	}
	return s.providerChange(ctx, providerOrgID, id, a, func(*gorm.DB, subRow) (change, error) {
		return change{to: SubTerminated, kind: EventTerminated, action: "subscription.terminate", note: reason,
			cols: map[string]any{"reason": reason, "ended_at": s.timestamp(), "next_plan_id": nil}}, nil
	})
}

// providerChange makes the change how returns to one subscription to the
// provider's APIs, records it in the provider's audit log and emails the
// partner's owners and admins.
func (s *Service) providerChange(ctx context.Context, providerOrgID, id string, a tenants.Actor, how func(*gorm.DB, subRow) (change, error)) (Subscription, error) {
	var out Subscription
	var kind EventKind
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		cur, err := lockSub(tx, providerScope, providerOrgID, id)
		if err != nil {
			return err
		}
		ch, err := how(tx, cur)
		if err != nil {
			return err
		}
		ch.auditOrg, kind = cur.ProviderOrgID, ch.kind
		if err := s.apply(tx, a, cur, ch, s.timestamp()); err != nil {
			return err
		}
		out, err = s.detail(tx, "s.provider_org_id = ?", providerOrgID, cur.ID)
		return err
	})
	if err != nil {
		return Subscription{}, err
	}
	s.changed(ctx)
	s.log.InfoContext(ctx, "subscription "+string(kind), "subscription_id", out.ID, "provider_org_id", providerOrgID, "status", out.Status)
	s.mailDecision(ctx, out, kind)
	return out, nil
}

// checkReason trims a provider's reason and requires one.
func checkReason(reason string) (string, error) {
	reason = strings.TrimSpace(reason)
	if msg := checkText(reason, true); msg != "" {
		return "", tenants.FieldError("reason", msg)
	}
	return reason, nil
}
