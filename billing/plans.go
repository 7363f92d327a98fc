package billing

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/portico-dev/portico/tenants"
)

const objectPlan = "plan"

// transitionAction is the audit action recorded when a revision enters a
// state.
var transitionAction = map[PlanState]string{
	PlanPublished:  "plan.publish",
	PlanDeprecated: "plan.deprecate",
	PlanClosed:     "plan.close",
}

// errRace answers a change that lost a race with another change to the same
// plan (a unique index or a state check caught it).
func errRace() error {
	return tenants.Errorf(tenants.EConflict, "The plan changed at the same time; reload it and try again.")
}

// CreatePlan creates revision 1 of a plan as a draft.
func (s *Service) CreatePlan(ctx context.Context, orgID, apiID string, a tenants.Actor, in PlanInput) (Plan, error) {
	if err := s.requireAPI(ctx, orgID, apiID); err != nil {
		return Plan{}, err
	}
	known, err := s.knownVersions(ctx, orgID, apiID)
	if err != nil {
		return Plan{}, err
	}
	in = normalize(in)
	if err := validate(in, known, true); err != nil {
		return Plan{}, err
	}
	now := s.timestamp()
	r := planRow{
		ID: newID(), OrgID: orgID, APIID: apiID, Slug: in.Slug, Revision: 1,
		State: string(PlanDraft), CreatedAt: now, UpdatedAt: now,
	}
	r.setTerms(in)
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Create(&r).Error; err != nil {
			return dbErr("create plan", err, tenants.ConflictError("slug",
				fmt.Sprintf("This API already has a plan %q; choose another name.", in.Slug)), "Plan")
		}
		return tenants.WriteAudit(tx, now, a, orgID, "plan.create", objectPlan, r.ID, map[string]any{
			"api_id": apiID, "slug": r.Slug, "revision": r.Revision, "name": r.Name,
			"price_cents": r.PriceCents, "currency": r.Currency,
		})
	})
	if err != nil {
		return Plan{}, err
	}
	return r.plan()
}

// UpdatePlan changes a plan's terms. A draft is edited in place. A published
// plan is never changed: the change becomes a new draft revision that
// supersedes it, and the published revision stays on sale until the draft is
// published. Deprecated and closed plans cannot change. A patch that changes
// nothing returns the plan as it is.
func (s *Service) UpdatePlan(ctx context.Context, orgID, apiID, slug string, a tenants.Actor, p PlanPatch) (Plan, error) {
	known, err := s.knownVersions(ctx, orgID, apiID)
	if err != nil {
		return Plan{}, err
	}
	var out Plan
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := lockPlan(tx, orgID, apiID, slug); err != nil {
			return err
		}
		cur, err := s.latest(tx, orgID, apiID, slug)
		if err != nil {
			return err
		}
		state := PlanState(cur.State)
		if state != PlanDraft && state != PlanPublished {
			return tenants.Errorf(tenants.EConflict, "A %s plan cannot be changed; create a new plan instead.", state)
		}
		curPlan, err := cur.plan()
		if err != nil {
			return err
		}
		before := curPlan.input()
		in := normalize(p.apply(before))
		if err := validate(in, known, false); err != nil {
			return err
		}
		changed := changedFields(before, in)
		if len(changed) == 0 {
			out = curPlan
			return nil
		}
		now := s.timestamp()
		next := cur
		next.setTerms(in)
		next.UpdatedAt = now
		if state == PlanDraft {
			cols := next.termColumns()
			cols["updated_at"] = now
			res := tx.Model(&planRow{}).Where("id = ? AND org_id = ? AND state = ?", cur.ID, orgID, PlanDraft).Updates(cols)
			if res.Error != nil {
				return fmt.Errorf("update plan: %w", res.Error)
			}
			if res.RowsAffected != 1 {
				return errRace()
			}
		} else {
			next.ID, next.Revision, next.State = newID(), cur.Revision+1, string(PlanDraft)
			next.SupersedesID, next.CreatedAt, next.PublishedAt = &cur.ID, now, nil
			if err := tx.Create(&next).Error; err != nil {
				return dbErr("create plan revision", err, errRace(), "Plan")
			}
		}
		if err := tenants.WriteAudit(tx, now, a, orgID, "plan.update", objectPlan, next.ID, map[string]any{
			"api_id": apiID, "slug": next.Slug, "revision": next.Revision, "changed": changed,
			"new_revision": state == PlanPublished,
		}); err != nil {
			return err
		}
		out, err = next.plan()
		return err
	})
	return out, err
}

// PublishPlan puts the plan's draft revision on sale. If a published revision
// exists it becomes deprecated: its subscribers keep its terms, new
// subscriptions get the new revision. At least one version the plan grants
// must still exist.
func (s *Service) PublishPlan(ctx context.Context, orgID, apiID, slug string, a tenants.Actor) (Plan, error) {
	known, err := s.knownVersions(ctx, orgID, apiID)
	if err != nil {
		return Plan{}, err
	}
	var out Plan
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := lockPlan(tx, orgID, apiID, slug); err != nil {
			return err
		}
		cur, err := s.latest(tx, orgID, apiID, slug)
		if err != nil {
			return err
		}
		if err := CheckTransition(PlanState(cur.State), PlanPublished); err != nil {
			return err
		}
		curPlan, err := cur.plan()
		if err != nil {
			return err
		}
		if !slices.ContainsFunc(curPlan.Versions, func(v string) bool { return slices.Contains(known, v) }) {
			return tenants.FieldError("versions", "None of the versions this plan grants exists any more; grant one that does, then publish.")
		}
		now := s.timestamp()
		// Deprecate the revision on sale first: at most one revision of a
		// plan is published at any moment (a unique index says so).
		var live []planRow
		if err := tx.Where("org_id = ? AND api_id = ? AND slug = ? AND state = ?", orgID, apiID, cur.Slug, PlanPublished).
			Find(&live).Error; err != nil {
			return fmt.Errorf("publish plan: %w", err)
		}
		deprecated := make([]int, 0, len(live))
		for _, old := range live {
			if err := s.transition(tx, a, old, PlanDeprecated, now, map[string]any{"superseded_by": cur.ID, "superseded_by_revision": cur.Revision}); err != nil {
				return err
			}
			deprecated = append(deprecated, old.Revision)
		}
		details := map[string]any{}
		if len(deprecated) > 0 {
			details["deprecated_revisions"] = deprecated
		}
		if err := s.transition(tx, a, cur, PlanPublished, now, details); err != nil {
			return err
		}
		cur.State, cur.UpdatedAt, cur.PublishedAt = string(PlanPublished), now, &now
		out, err = cur.plan()
		return err
	})
	if err == nil {
		s.log.InfoContext(ctx, "plan published", "org_id", orgID, "api_id", apiID, "plan_id", out.ID, "slug", out.Slug, "revision", out.Revision)
	}
	return out, err
}

// DeprecatePlan stops new subscriptions to the plan's published revision;
// existing subscribers keep it. A draft of pending changes is discarded with
// it: a plan that is no longer sold has no next revision.
func (s *Service) DeprecatePlan(ctx context.Context, orgID, apiID, slug string, a tenants.Actor) (Plan, error) {
	return s.retire(ctx, orgID, apiID, slug, a, PlanDeprecated)
}

// ClosePlan ends the plan for good: its published and deprecated revisions
// become closed, so nobody may subscribe or keep using them. A draft of
// pending changes is discarded. It returns the newest closed revision.
func (s *Service) ClosePlan(ctx context.Context, orgID, apiID, slug string, a tenants.Actor) (Plan, error) {
	return s.retire(ctx, orgID, apiID, slug, a, PlanClosed)
}

// retire moves every revision that may become state (the published one for
// deprecated; the published and deprecated ones for closed) to it.
func (s *Service) retire(ctx context.Context, orgID, apiID, slug string, a tenants.Actor, to PlanState) (Plan, error) {
	var out Plan
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := lockPlan(tx, orgID, apiID, slug); err != nil {
			return err
		}
		revs, err := s.revisions(tx, orgID, apiID, slug)
		if err != nil {
			return err
		}
		var targets []planRow
		var draft *planRow
		from := PlanState("") // the state the plan is in, for the error
		for i, r := range revs {
			st := PlanState(r.State)
			switch {
			case st == PlanDraft:
				draft = &revs[i]
			case from == "":
				from = st
			}
			if st.CanBecome(to) {
				targets = append(targets, r)
			}
		}
		if from == "" {
			from = PlanDraft
		}
		if len(targets) == 0 {
			return CheckTransition(from, to)
		}
		now := s.timestamp()
		details := map[string]any{}
		if draft != nil {
			res := tx.Where("id = ? AND org_id = ? AND state = ?", draft.ID, orgID, PlanDraft).Delete(&planRow{})
			if res.Error != nil {
				return fmt.Errorf("discard plan draft: %w", res.Error)
			}
			if res.RowsAffected != 1 {
				return errRace()
			}
			details["discarded_draft_revision"] = draft.Revision
		}
		for _, r := range targets {
			if err := s.transition(tx, a, r, to, now, details); err != nil {
				return err
			}
		}
		newest := targets[0]
		newest.State, newest.UpdatedAt = string(to), now
		out, err = newest.plan()
		return err
	})
	return out, err
}

// transition moves one revision from the state it was read in to another and
// records it, failing if someone moved it first.
func (s *Service) transition(tx *gorm.DB, a tenants.Actor, r planRow, to PlanState, now time.Time, details map[string]any) error {
	from := PlanState(r.State)
	if err := CheckTransition(from, to); err != nil {
		return err
	}
	cols := map[string]any{"state": string(to), "updated_at": now}
	if to == PlanPublished {
		cols["published_at"] = now
	}
	res := tx.Model(&planRow{}).Where("id = ? AND org_id = ? AND state = ?", r.ID, r.OrgID, from).Updates(cols)
	if res.Error != nil {
		// The one-published-revision index catches two publishes racing.
		return dbErr("change plan state", res.Error, errRace(), "Plan")
	}
	if res.RowsAffected != 1 {
		return errRace()
	}
	d := map[string]any{"api_id": r.APIID, "slug": r.Slug, "revision": r.Revision, "from": string(from), "to": string(to)}
	for k, v := range details {
		d[k] = v
	}
	return tenants.WriteAudit(tx, now, a, r.OrgID, transitionAction[to], objectPlan, r.ID, d)
}

// Plan returns the latest revision of a plan: its pending draft if it has
// one (SupersedesID then names the revision on sale), else its newest
// published, deprecated or closed revision.
func (s *Service) Plan(ctx context.Context, orgID, apiID, slug string) (Plan, error) {
	r, err := s.latest(s.db.WithContext(ctx), orgID, apiID, slug)
	if err != nil {
		return Plan{}, err
	}
	return r.plan()
}

// PlanRevision returns one revision by id, whatever its state: a
// subscription names the revision whose terms it keeps.
func (s *Service) PlanRevision(ctx context.Context, orgID, planID string) (Plan, error) {
	var r planRow
	err := s.db.WithContext(ctx).Where("id = ? AND org_id = ?", planID, orgID).Take(&r).Error
	if err != nil {
		return Plan{}, dbErr("get plan revision", err, nil, "Plan")
	}
	return r.plan()
}

// PlanRevisions returns every revision of a plan, newest first.
func (s *Service) PlanRevisions(ctx context.Context, orgID, apiID, slug string) ([]Plan, error) {
	rows, err := s.revisions(s.db.WithContext(ctx), orgID, apiID, slug)
	if err != nil {
		return nil, err
	}
	return plans(rows)
}

// ListPlans returns the latest revision of each of an API's plans, by slug.
func (s *Service) ListPlans(ctx context.Context, orgID, apiID string, p tenants.Page) (tenants.List[Plan], error) {
	after, err := tenants.DecodeCursor(p.Cursor)
	if err != nil {
		return tenants.List[Plan]{}, err
	}
	if err := s.requireAPI(ctx, orgID, apiID); err != nil {
		return tenants.List[Plan]{}, err
	}
	limit := pageLimit(p)
	q := s.db.WithContext(ctx).Where("org_id = ? AND api_id = ?", orgID, apiID).
		Where("revision = (SELECT MAX(l.revision) FROM plans l WHERE l.api_id = plans.api_id AND l.slug = plans.slug)")
	if after != "" {
		q = q.Where("slug > ?", after)
	}
	var rows []planRow
	if err := q.Order("slug").Limit(limit + 1).Find(&rows).Error; err != nil {
		return tenants.List[Plan]{}, fmt.Errorf("list plans: %w", err)
	}
	items, err := plans(rows)
	if err != nil {
		return tenants.List[Plan]{}, err
	}
	return paginate(items, limit, func(p Plan) string { return p.Slug }), nil
}

// PublishedPlans returns the revisions of an API that take new subscriptions,
// cheapest first, for the market. It does not check the API is listed: the
// market does that before it shows the API at all.
func (s *Service) PublishedPlans(ctx context.Context, apiID string) ([]Plan, error) {
	var rows []planRow
	err := s.db.WithContext(ctx).Where("api_id = ? AND state = ?", apiID, PlanPublished).
		Order("price_cents, included_calls, slug").Limit(1000).Find(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("list published plans: %w", err)
	}
	return plans(rows)
}

// requireAPI answers not found unless the API belongs to the organisation.
func (s *Service) requireAPI(ctx context.Context, orgID, apiID string) error {
	var n int64
	if err := s.db.WithContext(ctx).Table("apis").Where("id = ? AND org_id = ?", apiID, orgID).Count(&n).Error; err != nil {
		return fmt.Errorf("find api: %w", err)
	}
	if n == 0 {
		return notFound("API")
	}
	return nil
}

// lockPlan makes changes to one plan take turns. It must be the first
// statement of the transaction, and it is a write, not SELECT ... FOR
// UPDATE: on PostgreSQL it locks the plan's rows like FOR UPDATE would, and
// on SQLite (which ignores FOR UPDATE) a write is what takes the database
// write lock, waiting on busy_timeout. A transaction that read first and
// wrote later would instead fail with SQLITE_BUSY_SNAPSHOT when another
// writer committed in between, because the SQLite driver starts
// transactions DEFERRED (the _txlock=immediate in the DSN is ignored when
// _time_format is also given).
func lockPlan(tx *gorm.DB, orgID, apiID, slug string) error {
	err := tx.Exec("UPDATE plans SET updated_at = updated_at WHERE org_id = ? AND api_id = ? AND slug = ?",
		orgID, apiID, normSlug(slug)).Error
	if err != nil {
		return fmt.Errorf("lock plan: %w", err)
	}
	return nil
}

// latest returns the newest revision of a plan.
func (s *Service) latest(db *gorm.DB, orgID, apiID, slug string) (planRow, error) {
	var r planRow
	err := db.Where("org_id = ? AND api_id = ? AND slug = ?", orgID, apiID, normSlug(slug)).
		Order("revision DESC").Take(&r).Error
	return r, dbErr("get plan", err, nil, "Plan")
}

// revisions returns every revision of a plan, newest first; not found when
// there is none.
func (s *Service) revisions(db *gorm.DB, orgID, apiID, slug string) ([]planRow, error) {
	var rows []planRow
	err := db.Where("org_id = ? AND api_id = ? AND slug = ?", orgID, apiID, normSlug(slug)).
		Order("revision DESC").Find(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("list plan revisions: %w", err)
	}
	if len(rows) == 0 {
		return nil, notFound("Plan")
	}
	return rows, nil
}

func normSlug(s string) string { return strings.ToLower(strings.TrimSpace(s)) }
