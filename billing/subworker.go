package billing

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/portico-dev/portico/tenants"
)

// GatewaySubscription is what the gateway must know about one live
// subscription to enforce it: who may call which versions of which API, how
// fast and how much.
type GatewaySubscription struct {
	ID    string `json:"id"`
	AppID string `json:"app_id"`
	// OrgID is the partner organisation.
	OrgID         string `json:"org_id"`
	ProviderOrgID string `json:"provider_org_id"`
	APIID         string `json:"api_id"`
	// Status is pending_approval, pending_payment, active or suspended. Only
	// active subscriptions may call; the others let the gateway say why not.
	Status SubscriptionStatus `json:"status"`
	PlanID string             `json:"plan_id"`
	// Versions are the API versions the plan revision grants.
	Versions      []string `json:"versions"`
	IncludedCalls int64    `json:"included_calls"`
	// OverageCentsPer1000 nil is a hard limit: calls beyond IncludedCalls
	// in a period are refused.
	OverageCentsPer1000 *int64     `json:"overage_cents_per_1000"`
	RateLimit           *RateLimit `json:"rate_limit"`
	Quota               Quota      `json:"quota"`
	// PeriodStart and PeriodEnd bound the period the included calls count
	// in.
	PeriodStart time.Time `json:"period_start"`
	PeriodEnd   time.Time `json:"period_end"`
}

// LiveSubscriptions returns every subscription the gateway must know about
// — active ones, and pending and suspended ones so it can say why a call is
// refused — with the terms of their plan revisions, ordered by id.
// Subscriptions of deleted apps are left out.
func (s *Service) LiveSubscriptions(ctx context.Context) ([]GatewaySubscription, error) {
	db := s.db.WithContext(ctx)
	// The gateway compiles this on every change and there may be hundreds
	// of thousands: the rows are scanned by hand, several times faster than
	// gorm's reflection.
	rows, err := db.Table("subscriptions s").
		Select("s.id, s.org_id, s.app_id, s.provider_org_id, s.api_id, s.plan_id, s.status, s.period_start, s.period_end").
		Joins("JOIN apps a ON a.id = s.app_id").
		Where("s.status IN ? AND a.deleted_at IS NULL", statusStrings(liveStatuses)).Rows() // sorted below, off the database
	if err != nil {
		return nil, fmt.Errorf("live subscriptions: %w", err)
	}
	defer rows.Close()
	// Rows are scanned straight into the result and the plans' terms
	// filled in afterwards: one slice of a hundred thousand, not two. The
	// ids that repeat across rows (organisations, apps, APIs, plans) and
	// the statuses are kept once, where the driver returns one per row: a
	// gateway holds the result beside the configuration it serves while it
	// rebuilds.
	one := tenants.Interner{}.Intern
	var out []GatewaySubscription
	var (
		g          GatewaySubscription
		status     string
		start, end tenants.DBTime
	)
	for rows.Next() {
		g = GatewaySubscription{}
		if err := rows.Scan(&g.ID, &g.OrgID, &g.AppID, &g.ProviderOrgID, &g.APIID, &g.PlanID, &status, &start, &end); err != nil {
			return nil, fmt.Errorf("live subscriptions: %w", err)
		}
		g.OrgID, g.AppID, g.ProviderOrgID, g.APIID, g.PlanID = one(g.OrgID), one(g.AppID), one(g.ProviderOrgID), one(g.APIID), one(g.PlanID)
		g.Status, g.PeriodStart, g.PeriodEnd = SubscriptionStatus(one(status)), start.Time.UTC(), end.Time.UTC()
		out = append(out, g)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("live subscriptions: %w", err)
	}
	slices.SortFunc(out, func(a, b GatewaySubscription) int { return strings.Compare(a.ID, b.ID) })
	// Plan revisions are never deleted while a subscription names them, and
	// the terms of a revision in use never change, so reading them apart is
	// safe.
	seen := map[string]bool{}
	var ids []string
	for i := range out {
		if id := out[i].PlanID; !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	byID := make(map[string]Plan, len(ids))
	for chunk := range slices.Chunk(ids, 500) {
		var prs []planRow
		if err := db.Where("id IN ?", chunk).Find(&prs).Error; err != nil {
			return nil, fmt.Errorf("live subscription plans: %w", err)
		}
		for _, r := range prs {
			p, err := r.plan()
			if err != nil {
				return nil, err
			}
			byID[p.ID] = p
		}
	}
	for i := range out {
		g := &out[i]
		p, ok := byID[g.PlanID]
		if !ok {
			return nil, fmt.Errorf("live subscriptions: subscription %s names missing plan %s", g.ID, g.PlanID)
		}
		g.PlanID, g.Versions, g.IncludedCalls = p.ID, p.Versions, p.IncludedCalls
		g.OverageCentsPer1000, g.RateLimit, g.Quota = p.OverageCentsPer1000, p.RateLimit, p.Quota
	}
	return out, nil
}

// RollPeriods starts the next period of every active or suspended
// subscription whose period ended by now, and returns how many it changed.
// A subscription cancelled at the period end becomes cancelled instead; a
// downgrade scheduled for the period end takes effect (unless its plan was
// closed or no longer grants the subscription's version, when it is
// dropped). A subscription whose periods ended several times over (the
// worker was down) skips to the period that contains now.
//
// It is the background worker's job and safe to repeat or run on several
// nodes at once: each subscription is changed in its own transaction, which
// checks under a row lock that its period really ended.
func (s *Service) RollPeriods(ctx context.Context, now time.Time) (int, error) {
	now = now.UTC().Truncate(time.Microsecond)
	var ids []string
	err := s.db.WithContext(ctx).Model(&subRow{}).
		Where("status IN ? AND period_end <= ?", []string{string(SubActive), string(SubSuspended)}, now).
		Order("period_end, id").Pluck("id", &ids).Error
	if err != nil {
		return 0, fmt.Errorf("find ended periods: %w", err)
	}
	n := 0
	defer func() {
		if n > 0 {
			// One announcement for the whole batch, even a cut-short one:
			// the gateway rebuilds once.
			s.changed(ctx)
		}
	}()
	var errs []error
	for _, id := range ids {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		done, err := s.rollPeriod(ctx, id, now)
		if err != nil {
			errs = append(errs, fmt.Errorf("roll period of subscription %s: %w", id, err))
			continue
		}
		if done {
			n++
		}
	}
	return n, errors.Join(errs...)
}

// rollPeriod handles one subscription for RollPeriods.
func (s *Service) rollPeriod(ctx context.Context, id string, now time.Time) (bool, error) {
	done := false
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var cur subRow
		if err := tx.Clauses(lockingUpdate()).Where("id = ?", id).Take(&cur).Error; err != nil {
			return dbErr("get subscription", err, nil, "Subscription")
		}
		st := SubscriptionStatus(cur.Status)
		if (st != SubActive && st != SubSuspended) || cur.PeriodEnd.After(now) {
			return nil // another worker got here first
		}
		done = true
		if cur.CancelAtPeriodEnd {
			return s.apply(tx, systemActor, cur, change{
				to: SubCancelled, kind: EventCancelled, action: "subscription.cancel", auditOrg: cur.OrgID,
				cols: map[string]any{"ended_at": cur.PeriodEnd, "next_plan_id": nil},
				note: "Ended at the end of the paid period, as the subscriber asked.",
			}, now)
		}
		start, end := cur.PeriodEnd, addMonth(cur.PeriodEnd)
		for !end.After(now) {
			start, end = end, addMonth(end)
		}
		ch := change{
			keep: true, kind: EventRenewed, action: "subscription.renew", auditOrg: cur.OrgID,
			cols: map[string]any{"period_start": start, "period_end": end},
			note: fmt.Sprintf("New period from %s to %s.", day(start), day(end)),
		}
		if cur.NextPlanID != nil {
			next, err := loadPlan(tx, *cur.NextPlanID)
			if err != nil {
				return err
			}
			ch.cols["next_plan_id"] = nil
			switch {
			case next.State == PlanClosed:
				ch.note += fmt.Sprintf(" The scheduled move to plan %s was dropped: the plan was closed.", next.Name)
			case !slices.Contains(next.Versions, cur.Version):
				ch.note += fmt.Sprintf(" The scheduled move to plan %s was dropped: it no longer grants version %s.", next.Name, cur.Version)
			default:
				ch.kind, ch.action, ch.toPlan = EventPlanChanged, "subscription.change_plan", &next.ID
				ch.cols["plan_id"] = next.ID
				ch.note += fmt.Sprintf(" The scheduled move to plan %s took effect.", next.Name)
			}
		}
		return s.apply(tx, systemActor, cur, ch, now)
	})
	return done, err
}

// EndForVersion acts on the live subscriptions made through a version of a
// provider's API that went offline: each whose plan revision grants another
// version that is still published or deprecated moves to that version;
// the rest end, and their partners' owners and admins are emailed. It
// returns how many ended. Call it after the catalog takes the version
// offline; a version that is not offline is a conflict.
func (s *Service) EndForVersion(ctx context.Context, providerOrgID, apiID, version string, a tenants.Actor) (int, error) {
	var ended []string
	changed := 0
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var ver versionRow
		if err := tx.Where("org_id = ? AND api_id = ? AND version = ?", providerOrgID, apiID, version).Take(&ver).Error; err != nil {
			return dbErr("get version", err, nil, "Version")
		}
		if ver.State != versionOffline {
			return tenants.Errorf(tenants.EConflict, "Version %s is %s; only an offline version ends its subscriptions.", version, ver.State)
		}
		var alive []string
		if err := tx.Model(&versionRow{}).Where("org_id = ? AND api_id = ? AND state IN ?", providerOrgID, apiID,
			[]string{versionPublished, versionDeprecated}).Pluck("version", &alive).Error; err != nil {
			return fmt.Errorf("list live versions: %w", err)
		}
		var subs []subRow
		if err := tx.Clauses(lockingUpdate()).Where("provider_org_id = ? AND api_id = ? AND version = ? AND status IN ?",
			providerOrgID, apiID, version, statusStrings(liveStatuses)).Order("id").Find(&subs).Error; err != nil {
			return fmt.Errorf("find subscriptions: %w", err)
		}
		now := s.timestamp()
		for _, cur := range subs {
			plan, err := loadPlan(tx, cur.PlanID)
			if err != nil {
				return err
			}
			ch := change{to: SubEnded, kind: EventEnded, action: "subscription.end", auditOrg: providerOrgID,
				cols: map[string]any{"ended_at": now, "next_plan_id": nil}, note: fmt.Sprintf("Version %s went offline.", version)}
			if i := slices.IndexFunc(plan.Versions, func(v string) bool { return slices.Contains(alive, v) }); i >= 0 {
				other := plan.Versions[i]
				ch = change{keep: true, kind: EventVersionMoved, action: "subscription.move_version",
					auditOrg: providerOrgID, cols: map[string]any{"version": other}, details: map[string]any{"to_version": other},
					note: fmt.Sprintf("Version %s went offline; the subscription continues through %s, which its plan also grants.", version, other)}
			} else {
				ended = append(ended, cur.ID)
			}
			if err := s.apply(tx, a, cur, ch, now); err != nil {
				return err
			}
		}
		changed = len(subs)
		return nil
	})
	if err != nil {
		return 0, err
	}
	if changed > 0 {
		s.changed(ctx)
	}
	for _, id := range ended {
		sub, err := s.ProviderSubscription(ctx, providerOrgID, id)
		if err != nil {
			s.log.ErrorContext(ctx, "read ended subscription", "subscription_id", id, "err", err)
			continue
		}
		s.mailDecision(ctx, sub, EventEnded)
	}
	if len(ended) > 0 {
		s.log.InfoContext(ctx, "subscriptions ended", "provider_org_id", providerOrgID, "api_id", apiID, "version", version, "count", len(ended))
	}
	return len(ended), nil
}

// EndVersionSubscriptions is EndForVersion in the shape of the catalog's
// offline hook.
func (s *Service) EndVersionSubscriptions(ctx context.Context, providerOrgID, apiID, version string, a tenants.Actor) error {
	_, err := s.EndForVersion(ctx, providerOrgID, apiID, version, a)
	return err
}
