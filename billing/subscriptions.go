package billing

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/portico-dev/portico/tenants"
)

const (
	objectSubscription = "subscription"
	maxMessageRunes    = 2000
	maxSearchRunes     = 100
)

// systemActor is who the background worker acts as in events and the audit
// log: no user, and an actor email that says so.
var systemActor = tenants.Actor{Email: "system"}

// Subscription is an app's subscription to a plan of an API: the plan
// revision whose terms it keeps, its status and its current monthly period.
type Subscription struct {
	ID string `json:"id"`
	// OrgID is the partner organisation, which owns the app.
	OrgID         string `json:"org_id"`
	AppID         string `json:"app_id"`
	ProviderOrgID string `json:"provider_org_id"`
	APIID         string `json:"api_id"`
	// Version is the API version subscribed through, like "v1"; the plan
	// may grant others too. When it goes offline the subscription moves to
	// another version its plan grants, or ends.
	Version string `json:"version"`
	// PlanID is the plan revision whose terms apply now.
	PlanID string `json:"plan_id"`
	// NextPlanID is a downgrade waiting for the end of the period.
	NextPlanID *string            `json:"next_plan_id"`
	Status     SubscriptionStatus `json:"status"`
	// Message is the partner's note to the provider.
	Message string `json:"message"`
	// Reason is the provider's reason for a rejection, suspension or
	// termination.
	Reason string `json:"reason"`
	// PeriodStart and PeriodEnd bound the current monthly period. A pending
	// subscription's period is provisional: it restarts when the
	// subscription becomes active (or, for a paid plan, when it is approved).
	PeriodStart time.Time `json:"period_start"`
	PeriodEnd   time.Time `json:"period_end"`
	// CancelAtPeriodEnd says a paid subscription ends at PeriodEnd.
	CancelAtPeriodEnd bool       `json:"cancel_at_period_end"`
	CreatedAt         time.Time  `json:"created_at"`
	UpdatedAt         time.Time  `json:"updated_at"`
	EndedAt           *time.Time `json:"ended_at"`
	// Notice says in a sentence what the status means for the partner,
	// such as why a paid subscription waits; "" when there is nothing to say.
	Notice string `json:"notice"`

	// Display fields, filled by every read.
	PartnerOrgName  string `json:"partner_org_name"`
	PartnerOrgSlug  string `json:"partner_org_slug"`
	AppName         string `json:"app_name"`
	ProviderOrgName string `json:"provider_org_name"`
	ProviderOrgSlug string `json:"provider_org_slug"`
	APISlug         string `json:"api_slug"`
	APIName         string `json:"api_name"`
	// Plan is the revision PlanID names; NextPlan the one NextPlanID names.
	Plan     Plan  `json:"plan"`
	NextPlan *Plan `json:"next_plan"`
}

// EventKind names what happened to a subscription.
type EventKind string

// Event kinds. Each is the partner's doing, the provider's or the system's
// (the background worker, which has no actor).
const (
	EventCreated             EventKind = "created"               // partner subscribed
	EventApproved            EventKind = "approved"              // provider approved the request
	EventRejected            EventKind = "rejected"              // provider rejected the request
	EventPlanChanged         EventKind = "plan_changed"          // upgrade now, or a downgrade at the period end
	EventPlanChangeScheduled EventKind = "plan_change_scheduled" // downgrade waits for the period end
	EventPlanChangeCancelled EventKind = "plan_change_cancelled" // partner kept the current plan after all
	EventCancelScheduled     EventKind = "cancel_scheduled"      // a paid subscription ends at the period end
	EventCancelled           EventKind = "cancelled"             // partner cancelled (or the period ended)
	EventSuspended           EventKind = "suspended"             // provider suspended
	EventResumed             EventKind = "resumed"               // provider resumed
	EventTerminated          EventKind = "terminated"            // provider terminated
	EventEnded               EventKind = "ended"                 // the version went offline
	EventVersionMoved        EventKind = "version_moved"         // the version went offline; another granted one took over
	EventRenewed             EventKind = "renewed"               // a new period began
)

// Who acted, in SubscriptionEvent.By.
const (
	ByPartner  = "partner"
	ByProvider = "provider"
	BySystem   = "system"
)

// eventSide says whose doing each kind of event is when a person caused it.
var eventSide = map[EventKind]string{
	EventCreated: ByPartner, EventPlanChanged: ByPartner, EventPlanChangeScheduled: ByPartner,
	EventPlanChangeCancelled: ByPartner, EventCancelScheduled: ByPartner, EventCancelled: ByPartner,
	EventApproved: ByProvider, EventRejected: ByProvider, EventSuspended: ByProvider, EventResumed: ByProvider,
	EventTerminated: ByProvider, EventEnded: ByProvider, EventVersionMoved: ByProvider,
	EventRenewed: BySystem,
}

// SubscriptionEvent is one entry of a subscription's history.
type SubscriptionEvent struct {
	ID             string    `json:"id"`
	SubscriptionID string    `json:"subscription_id"`
	Kind           EventKind `json:"kind"`
	// FromStatus is "" for the event that created the subscription.
	FromStatus SubscriptionStatus `json:"from_status"`
	ToStatus   SubscriptionStatus `json:"to_status"`
	// FromPlanID and ToPlanID are the plan revisions before and after; for a
	// scheduled change ToPlanID is the plan it will move to.
	FromPlanID *string `json:"from_plan_id"`
	ToPlanID   *string `json:"to_plan_id"`
	// By is who acted: ByPartner, ByProvider or BySystem.
	By string `json:"by"`
	// ActorEmail is the member who acted. It is shown only to the
	// organisation the member acted for: the other side sees By alone.
	ActorEmail string    `json:"actor_email"`
	Note       string    `json:"note"`
	CreatedAt  time.Time `json:"created_at"`
}

// SubscribeInput is what a partner sends to subscribe an app.
type SubscribeInput struct {
	AppID string `json:"app_id"`
	// ProviderOrg, API and Plan are slugs, as the market shows them.
	ProviderOrg string `json:"provider_org"`
	API         string `json:"api"`
	// Version is the API version to subscribe through, like "v1".
	Version string `json:"version"`
	Plan    string `json:"plan"`
	// Message is an optional note to the provider, shown with a request for
	// approval.
	Message string `json:"message"`
}

// SubscriptionFilter narrows a partner's list of subscriptions; empty
// fields match everything.
type SubscriptionFilter struct {
	AppID  string
	Status SubscriptionStatus
}

// SubscriberFilter narrows a provider's list of subscribers; empty fields
// match everything.
type SubscriberFilter struct {
	Status SubscriptionStatus
	// PlanSlug matches every revision of the plan (of every API of the
	// provider that has a plan of that slug, when no API is given).
	PlanSlug string
	// Q matches part of the partner organisation's name, ignoring case.
	Q string
}

// subRow is a subscriptions row; Subscription is its API shape.
type subRow struct {
	ID                string
	OrgID             string
	AppID             string `gorm:"column:app_id"`
	ProviderOrgID     string `gorm:"column:provider_org_id"`
	APIID             string `gorm:"column:api_id"`
	Version           string
	PlanID            string  `gorm:"column:plan_id"`
	NextPlanID        *string `gorm:"column:next_plan_id"`
	Status            string
	Message           string
	Reason            string
	PeriodStart       time.Time
	PeriodEnd         time.Time
	CancelAtPeriodEnd bool
	CreatedAt         time.Time
	UpdatedAt         time.Time
	EndedAt           *time.Time
}

func (subRow) TableName() string { return "subscriptions" }

// subDetailRow is a subscription with the names a reader sees beside it.
type subDetailRow struct {
	Row             subRow `gorm:"embedded"`
	PartnerOrgName  string `gorm:"column:partner_org_name"`
	PartnerOrgSlug  string `gorm:"column:partner_org_slug"`
	AppName         string `gorm:"column:app_name"`
	ProviderOrgName string `gorm:"column:provider_org_name"`
	ProviderOrgSlug string `gorm:"column:provider_org_slug"`
	APISlug         string `gorm:"column:api_slug"`
	APIName         string `gorm:"column:api_name"`
}

// eventRow is a subscription_events row.
type eventRow struct {
	ID             string
	SubscriptionID string
	Kind           string
	FromStatus     string
	ToStatus       string
	FromPlanID     *string `gorm:"column:from_plan_id"`
	ToPlanID       *string `gorm:"column:to_plan_id"`
	ActorID        *string `gorm:"column:actor_id"`
	ActorEmail     string
	Note           string
	CreatedAt      time.Time
}

func (eventRow) TableName() string { return "subscription_events" }

// Rows of catalog and tenant tables that subscriptions read. Billing reads
// them directly rather than importing the portal.
type (
	apiRow struct {
		ID, OrgID, Slug, Name, Visibility string
	}
	versionRow struct {
		ID       string
		OrgID    string
		APIID    string `gorm:"column:api_id"`
		Version  string
		State    string
		SunsetAt *time.Time
	}
	appRow struct {
		ID, OrgID, Name string
	}
)

func (apiRow) TableName() string     { return "apis" }
func (versionRow) TableName() string { return "api_versions" }
func (appRow) TableName() string     { return "apps" }

// Catalog states and visibilities billing needs; the catalog owns them.
const (
	versionPublished  = "published"
	versionDeprecated = "deprecated"
	versionOffline    = "offline"
	visibilityPrivate = "private"
)

func lockingUpdate() clause.Expression { return clause.Locking{Strength: "UPDATE"} }

func statusStrings(ss []SubscriptionStatus) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = string(s)
	}
	return out
}

// errSubRace answers a change that lost a race with another change to the
// same subscription.
func errSubRace() error {
	return tenants.Errorf(tenants.EConflict, "The subscription changed at the same time; reload it and try again.")
}

// day formats a time as a date for messages.
func day(t time.Time) string { return t.UTC().Format("2 January 2006") }

// addMonth returns the same moment one calendar month later in UTC; a day
// the next month lacks becomes its last day (31 January → 28 February).
func addMonth(t time.Time) time.Time {
	t = t.UTC()
	y, m, d := t.Date()
	if last := time.Date(y, m+2, 0, 0, 0, 0, 0, time.UTC).Day(); d > last {
		d = last
	}
	return time.Date(y, m+1, d, t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
}

func (in SubscribeInput) normalized() SubscribeInput {
	in.AppID = strings.TrimSpace(in.AppID)
	in.ProviderOrg = normSlug(in.ProviderOrg)
	in.API = normSlug(in.API)
	in.Version = strings.TrimSpace(in.Version)
	in.Plan = normSlug(in.Plan)
	in.Message = strings.TrimSpace(in.Message)
	return in
}

func (in SubscribeInput) validate() error {
	v := tenants.Validation{}
	if in.AppID == "" {
		v.Add("app_id", "Choose the app to subscribe.")
	}
	if in.ProviderOrg == "" {
		v.Add("provider_org", "Name the provider organisation.")
	}
	if in.API == "" {
		v.Add("api", "Name the API to subscribe to.")
	}
	if in.Version == "" {
		v.Add("version", "Choose the API version to subscribe to, like v1.")
	}
	if in.Plan == "" {
		v.Add("plan", "Choose a plan.")
	}
	if msg := checkText(in.Message, false); msg != "" {
		v.Add("message", msg)
	}
	return v.Err()
}

// checkText reports what is wrong with a message or reason, or "".
func checkText(s string, required bool) string {
	switch {
	case required && s == "":
		return "Give a reason; the partner sees it."
	case utf8.RuneCountInString(s) > maxMessageRunes:
		return fmt.Sprintf("Use at most %d characters.", maxMessageRunes)
	case strings.ContainsRune(s, 0):
		return "Remove the NUL character."
	}
	return ""
}

// offer is what a subscription request resolves to.
type offer struct {
	provider tenants.Organization
	api      apiRow
	version  versionRow
	plan     planRow
}

// resolveOffer finds the plan a partner asked for and checks it takes new
// subscriptions through the version asked for.
func (s *Service) resolveOffer(ctx context.Context, partnerOrgID string, in SubscribeInput) (offer, error) {
	db := s.db.WithContext(ctx)
	var o offer
	if err := db.Select("id, slug, name").Where("slug = ?", in.ProviderOrg).Take(&o.provider).Error; err != nil {
		return offer{}, dbErr("find provider", err, nil, "API")
	}
	if err := db.Where("org_id = ? AND slug = ?", o.provider.ID, in.API).Take(&o.api).Error; err != nil {
		return offer{}, dbErr("find api", err, nil, "API")
	}
	// A private API is its provider's own: only its members' apps see it.
	if o.api.Visibility == visibilityPrivate && o.provider.ID != partnerOrgID {
		return offer{}, notFound("API")
	}
	if err := db.Where("org_id = ? AND api_id = ? AND version = ?", o.provider.ID, o.api.ID, in.Version).Take(&o.version).Error; err != nil {
		return offer{}, dbErr("find version", err, nil, "Version")
	}
	switch o.version.State {
	case versionPublished:
	case versionDeprecated:
		sunset := "soon"
		if o.version.SunsetAt != nil {
			sunset = "on " + day(*o.version.SunsetAt)
		}
		return offer{}, tenants.Errorf(tenants.EConflict,
			"Version %s of %s is deprecated and goes offline %s; it takes no new subscriptions. Subscribe to a newer version.",
			o.version.Version, o.api.Name, sunset)
	case versionOffline:
		return offer{}, tenants.Errorf(tenants.ENotFound, "Version %s of %s is offline.", o.version.Version, o.api.Name)
	default: // a draft is the provider's secret
		return offer{}, notFound("Version")
	}
	var revs []planRow
	if err := db.Where("org_id = ? AND api_id = ? AND slug = ? AND state <> ?", o.provider.ID, o.api.ID, in.Plan, PlanDraft).
		Order("revision DESC").Find(&revs).Error; err != nil {
		return offer{}, fmt.Errorf("find plan: %w", err)
	}
	if len(revs) == 0 {
		return offer{}, notFound("Plan")
	}
	i := slices.IndexFunc(revs, func(r planRow) bool { return r.State == string(PlanPublished) })
	if i < 0 {
		return offer{}, tenants.Errorf(tenants.EConflict, "Plan %q is %s and takes no new subscriptions; choose another plan.", in.Plan, revs[0].State)
	}
	o.plan = revs[i]
	p, err := o.plan.plan()
	if err != nil {
		return offer{}, err
	}
	if !slices.Contains(p.Versions, o.version.Version) {
		return offer{}, tenants.FieldError("version", fmt.Sprintf("Plan %q does not grant version %s; choose a version it grants (%s).",
			p.Slug, o.version.Version, strings.Join(p.Versions, ", ")))
	}
	return o, nil
}

// Subscribe subscribes a partner's app to a plan of a published API version.
// A plan with automatic approval starts at once, unless it is paid: until
// checkout exists a paid subscription waits in pending_payment. A plan with
// manual approval makes a request the provider's owners and admins are
// emailed about. An app has at most one live (pending, active or
// suspended) subscription per API.
func (s *Service) Subscribe(ctx context.Context, partnerOrgID string, a tenants.Actor, in SubscribeInput) (Subscription, error) {
	in = in.normalized()
	if err := in.validate(); err != nil {
		return Subscription{}, err
	}
	o, err := s.resolveOffer(ctx, partnerOrgID, in)
	if err != nil {
		return Subscription{}, err
	}
	status, note := SubActive, ""
	switch {
	case o.plan.Approval == string(ApprovalManual):
		status, note = SubPendingApproval, "Waiting for the provider's approval."
	case o.plan.PriceCents > 0:
		status, note = SubPendingPayment, paymentNote
	}
	now := s.timestamp()
	var out Subscription
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		// The app's row lock makes subscriptions of one app take turns, so
		// two requests cannot both find the API free.
		var app appRow
		if err := tx.Clauses(lockingUpdate()).Where("id = ? AND org_id = ? AND deleted_at IS NULL", in.AppID, partnerOrgID).
			Take(&app).Error; err != nil {
			return dbErr("find app", err, nil, "App")
		}
		var live subRow
		err := tx.Where("app_id = ? AND api_id = ? AND status IN ?", app.ID, o.api.ID, statusStrings(liveStatuses)).Take(&live).Error
		switch {
		case err == nil:
			return tenants.Errorf(tenants.EConflict,
				"App %q already has a subscription to %s (%s, id %s); change its plan or cancel it instead.",
				app.Name, o.api.Name, SubscriptionStatus(live.Status).Label(), live.ID)
		case !errors.Is(err, gorm.ErrRecordNotFound):
			return fmt.Errorf("find subscription: %w", err)
		}
		r := subRow{
			ID: newID(), OrgID: partnerOrgID, AppID: app.ID, ProviderOrgID: o.provider.ID, APIID: o.api.ID,
			Version: o.version.Version, PlanID: o.plan.ID, Status: string(status), Message: in.Message,
			PeriodStart: now, PeriodEnd: addMonth(now), CreatedAt: now, UpdatedAt: now,
		}
		if err := tx.Create(&r).Error; err != nil {
			return fmt.Errorf("create subscription: %w", err)
		}
		if err := writeEvent(tx, r.ID, EventCreated, "", status, nil, &r.PlanID, a, note, now); err != nil {
			return err
		}
		if err := tenants.WriteAudit(tx, now, a, partnerOrgID, "subscription.create", objectSubscription, r.ID, map[string]any{
			"app_id": app.ID, "provider_org_id": o.provider.ID, "api_id": o.api.ID, "version": r.Version,
			"plan_id": r.PlanID, "plan": o.plan.Slug, "status": r.Status,
		}); err != nil {
			return err
		}
		out, err = s.detail(tx, "s.org_id = ?", partnerOrgID, r.ID)
		return err
	})
	if err != nil {
		return Subscription{}, err
	}
	s.changed(ctx)
	s.log.InfoContext(ctx, "subscription created", "subscription_id", out.ID, "org_id", partnerOrgID,
		"app_id", out.AppID, "api_id", out.APIID, "plan_id", out.PlanID, "status", out.Status)
	if out.Status == SubPendingApproval {
		s.mailRequest(ctx, out)
	}
	return out, nil
}

// Subscription returns one of the partner's subscriptions.
func (s *Service) Subscription(ctx context.Context, partnerOrgID, id string) (Subscription, error) {
	return s.detail(s.db.WithContext(ctx), "s.org_id = ?", partnerOrgID, id)
}

// ListSubscriptions returns the partner's subscriptions, newest first.
func (s *Service) ListSubscriptions(ctx context.Context, partnerOrgID string, f SubscriptionFilter, p tenants.Page) (tenants.List[Subscription], error) {
	if err := checkStatusFilter(f.Status); err != nil {
		return tenants.List[Subscription]{}, err
	}
	db := s.db.WithContext(ctx)
	q := subDetails(db).Where("s.org_id = ?", partnerOrgID)
	if f.AppID != "" {
		q = q.Where("s.app_id = ?", f.AppID)
	}
	if f.Status != "" {
		q = q.Where("s.status = ?", f.Status)
	}
	return s.list(db, q, p, false)
}

// SubscriptionHistory returns a subscription's events, oldest first. Both
// the partner and the provider may read it; each sees the emails of its own
// members only.
func (s *Service) SubscriptionHistory(ctx context.Context, orgID, id string) ([]SubscriptionEvent, error) {
	db := s.db.WithContext(ctx)
	var sub subRow
	if err := db.Where("id = ? AND (org_id = ? OR provider_org_id = ?)", id, orgID, orgID).Take(&sub).Error; err != nil {
		return nil, dbErr("get subscription", err, nil, "Subscription")
	}
	var rows []eventRow
	if err := db.Where("subscription_id = ?", sub.ID).Order("id").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("list subscription events: %w", err)
	}
	out := make([]SubscriptionEvent, len(rows))
	for i, r := range rows {
		e := SubscriptionEvent{
			ID: r.ID, SubscriptionID: r.SubscriptionID, Kind: EventKind(r.Kind),
			FromStatus: SubscriptionStatus(r.FromStatus), ToStatus: SubscriptionStatus(r.ToStatus),
			FromPlanID: r.FromPlanID, ToPlanID: r.ToPlanID, Note: r.Note, CreatedAt: r.CreatedAt.UTC(),
			By: BySystem, ActorEmail: r.ActorEmail,
		}
		if r.ActorID != nil {
			e.By = eventSide[e.Kind]
			mine := (e.By == ByPartner && sub.OrgID == orgID) || (e.By == ByProvider && sub.ProviderOrgID == orgID)
			if !mine {
				e.ActorEmail = ""
			}
		}
		out[i] = e
	}
	return out, nil
}

// ChangePlan moves an active subscription to another published plan of the
// same API, keeping its app (and so its keys). An upgrade — a higher monthly
// price, or the same price with more included calls — applies at once; any
// other change waits for the end of the period. Choosing the current plan
// again withdraws a scheduled change. A plan that needs the provider's
// approval is refused: the partner cancels and subscribes again. So is a
// move from a free to a paid plan, until checkout exists.
func (s *Service) ChangePlan(ctx context.Context, partnerOrgID, id string, a tenants.Actor, planSlug string) (Subscription, error) {
	planSlug = normSlug(planSlug)
	if planSlug == "" {
		return Subscription{}, tenants.FieldError("plan", "Choose a plan.")
	}
	var out Subscription
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		cur, err := lockSub(tx, "org_id = ?", partnerOrgID, id)
		if err != nil {
			return err
		}
		if cur.Status != string(SubActive) {
			return tenants.Errorf(tenants.EConflict, "Only an active subscription can change plan; this one is %s.", SubscriptionStatus(cur.Status).Label())
		}
		if cur.CancelAtPeriodEnd {
			return tenants.Errorf(tenants.EConflict, "This subscription ends on %s and can no longer change plan.", day(cur.PeriodEnd))
		}
		curPlan, err := loadPlan(tx, cur.PlanID)
		if err != nil {
			return err
		}
		target, err := s.changeTarget(tx, cur, curPlan, planSlug)
		if err != nil {
			return err
		}
		now := s.timestamp()
		ch := change{auditOrg: cur.OrgID, details: map[string]any{"from_plan": curPlan.Slug, "to_plan": target.Slug}}
		switch {
		case target.ID == curPlan.ID && cur.NextPlanID != nil:
			ch.kind, ch.action, ch.toPlan = EventPlanChangeCancelled, "subscription.cancel_plan_change", &curPlan.ID
			ch.cols = map[string]any{"next_plan_id": nil}
			ch.note = fmt.Sprintf("Stays on plan %s; the scheduled change was withdrawn.", curPlan.Name)
		case target.ID == curPlan.ID:
			return tenants.Errorf(tenants.EConflict, "The subscription is already on plan %q.", target.Slug)
		case isUpgrade(curPlan, target):
			ch.kind, ch.action, ch.toPlan = EventPlanChanged, "subscription.change_plan", &target.ID
			ch.cols = map[string]any{"plan_id": target.ID, "next_plan_id": nil}
			ch.note = fmt.Sprintf("Upgraded from plan %s to %s, effective at once.", curPlan.Name, target.Name)
		default:
			ch.kind, ch.action, ch.toPlan = EventPlanChangeScheduled, "subscription.schedule_plan_change", &target.ID
			ch.cols = map[string]any{"next_plan_id": target.ID}
			ch.note = fmt.Sprintf("Moves from plan %s to %s at the end of the period, on %s.", curPlan.Name, target.Name, day(cur.PeriodEnd))
		}
		ch.keep = true
		if err := s.apply(tx, a, cur, ch, now); err != nil {
			return err
		}
		out, err = s.detail(tx, "s.org_id = ?", partnerOrgID, cur.ID)
		return err
	})
	if err == nil {
		s.changed(ctx)
	}
	return out, err
}

// changeTarget finds the revision a plan change moves to and checks the
// move is allowed.
func (s *Service) changeTarget(tx *gorm.DB, cur subRow, curPlan Plan, slug string) (Plan, error) {
	var revs []planRow
	if err := tx.Where("org_id = ? AND api_id = ? AND slug = ? AND state <> ?", cur.ProviderOrgID, cur.APIID, slug, PlanDraft).
		Order("revision DESC").Find(&revs).Error; err != nil {
		return Plan{}, fmt.Errorf("find plan: %w", err)
	}
	if len(revs) == 0 {
		return Plan{}, tenants.FieldError("plan", fmt.Sprintf("This API has no plan %q; choose one of its plans.", slug))
	}
	i := slices.IndexFunc(revs, func(r planRow) bool { return r.State == string(PlanPublished) })
	if i < 0 {
		return Plan{}, tenants.Errorf(tenants.EConflict, "Plan %q is %s and takes no new subscribers; choose another plan.", slug, revs[0].State)
	}
	target, err := revs[i].plan()
	if err != nil {
		return Plan{}, err
	}
	if target.ID == curPlan.ID {
		return target, nil
	}
	switch {
	case !slices.Contains(target.Versions, cur.Version):
		return Plan{}, tenants.FieldError("plan", fmt.Sprintf("Plan %q does not grant version %s, which this subscription uses.", slug, cur.Version))
	case target.Approval == ApprovalManual:
		return Plan{}, tenants.Errorf(tenants.EConflict,
			"Plan %q needs the provider's approval: cancel this subscription and subscribe again to request it.", slug)
	case target.PriceCents > 0 && curPlan.PriceCents > 0 && target.Currency != curPlan.Currency:
		return Plan{}, tenants.Errorf(tenants.EConflict, "Plan %q is priced in %s, this subscription in %s; cancel and subscribe again instead.",
			slug, strings.ToUpper(target.Currency), strings.ToUpper(curPlan.Currency))
	case target.PriceCents > 0 && curPlan.PriceCents == 0:
		return Plan{}, tenants.Errorf(tenants.EConflict,
			"Plan %q is paid and paying by checkout is not available yet, so a free subscription cannot move to it.", slug)
	}
	return target, nil
}

// isUpgrade reports whether moving from one plan to another gives more for
// more (or the same) money, and so applies at once.
func isUpgrade(from, to Plan) bool {
	return to.PriceCents > from.PriceCents || (to.PriceCents == from.PriceCents && to.IncludedCalls > from.IncludedCalls)
}

// Cancel ends a subscription at the partner's request. A pending request is
// withdrawn and a free subscription ends at once; a paid one stays active
// until the end of the period it was paid for (CancelAtPeriodEnd), which
// also drops any scheduled plan change. Cancelling a paid subscription
// twice changes nothing.
func (s *Service) Cancel(ctx context.Context, partnerOrgID, id string, a tenants.Actor) (Subscription, error) {
	var out Subscription
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		cur, err := lockSub(tx, "org_id = ?", partnerOrgID, id)
		if err != nil {
			return err
		}
		now := s.timestamp()
		ch := change{to: SubCancelled, kind: EventCancelled, action: "subscription.cancel", auditOrg: cur.OrgID,
			cols: map[string]any{"ended_at": now, "next_plan_id": nil}, note: "Cancelled by the subscriber."}
		switch SubscriptionStatus(cur.Status) {
		case SubPendingApproval:
			ch.note = "Request withdrawn by the subscriber."
		case SubActive, SubSuspended:
			plan, err := loadPlan(tx, cur.PlanID)
			if err != nil {
				return err
			}
			if plan.PriceCents > 0 {
				if cur.CancelAtPeriodEnd {
					out, err = s.detail(tx, "s.org_id = ?", partnerOrgID, cur.ID)
					return err
				}
				ch = change{keep: true, kind: EventCancelScheduled, action: "subscription.schedule_cancel", auditOrg: cur.OrgID,
					cols: map[string]any{"cancel_at_period_end": true, "next_plan_id": nil},
					note: fmt.Sprintf("Ends at the end of the paid period, on %s.", day(cur.PeriodEnd))}
			}
		}
		if err := s.apply(tx, a, cur, ch, now); err != nil {
			return err
		}
		out, err = s.detail(tx, "s.org_id = ?", partnerOrgID, cur.ID)
		return err
	})
	if err == nil {
		s.changed(ctx)
	}
	return out, err
}

// CancelForApp cancels every live subscription of one of the partner's apps
// at once, whatever the plan, and returns how many it cancelled. Call it
// when an app is deleted (before or after the app's row is marked deleted).
func (s *Service) CancelForApp(ctx context.Context, partnerOrgID, appID string, a tenants.Actor) (int, error) {
	n := 0
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		// Locking the app keeps a racing Subscribe from adding one more.
		var app appRow
		if err := tx.Clauses(lockingUpdate()).Where("id = ? AND org_id = ?", appID, partnerOrgID).Take(&app).Error; err != nil {
			return dbErr("find app", err, nil, "App")
		}
		var subs []subRow
		if err := tx.Clauses(lockingUpdate()).Where("org_id = ? AND app_id = ? AND status IN ?", partnerOrgID, app.ID,
			statusStrings(liveStatuses)).Order("id").Find(&subs).Error; err != nil {
			return fmt.Errorf("find subscriptions: %w", err)
		}
		now := s.timestamp()
		for _, cur := range subs {
			if err := s.apply(tx, a, cur, change{
				to: SubCancelled, kind: EventCancelled, action: "subscription.cancel", auditOrg: cur.OrgID,
				cols: map[string]any{"ended_at": now, "next_plan_id": nil},
				note: "Cancelled at once with every subscription of the app.", details: map[string]any{"with_app": true},
			}, now); err != nil {
				return err
			}
		}
		n = len(subs)
		return nil
	})
	if err == nil && n > 0 {
		s.changed(ctx)
	}
	return n, err
}

// change is one change to a locked subscription: the status it moves to (or
// none), the columns to set, and what to record about it.
type change struct {
	// to is the status the change moves to; keep says the status stays as
	// it is (a plan change, a scheduled cancellation, a new period).
	to   SubscriptionStatus
	keep bool
	cols map[string]any
	kind EventKind
	// toPlan is the plan after the change for the event; nil means the
	// current plan.
	toPlan *string
	note   string
	// auditOrg is the organisation whose audit log records the change: the
	// partner's for its actions, the provider's for the provider's.
	auditOrg string
	action   string
	details  map[string]any
}

// apply makes one change to a subscription locked in tx and records it in
// the subscription's history and the audit log.
func (s *Service) apply(tx *gorm.DB, a tenants.Actor, cur subRow, ch change, now time.Time) error {
	from := SubscriptionStatus(cur.Status)
	if ch.keep {
		ch.to = from
	} else if err := CheckSubscriptionTransition(from, ch.to); err != nil {
		return err
	}
	cols := map[string]any{"status": string(ch.to), "updated_at": now}
	maps.Copy(cols, ch.cols)
	res := tx.Model(&subRow{}).Where("id = ? AND status = ?", cur.ID, cur.Status).Updates(cols)
	if res.Error != nil {
		return fmt.Errorf("update subscription: %w", res.Error)
	}
	if res.RowsAffected != 1 {
		return errSubRace()
	}
	toPlan := ch.toPlan
	if toPlan == nil {
		toPlan = &cur.PlanID
	}
	if err := writeEvent(tx, cur.ID, ch.kind, from, ch.to, &cur.PlanID, toPlan, a, ch.note, now); err != nil {
		return err
	}
	d := map[string]any{
		"app_id": cur.AppID, "api_id": cur.APIID, "version": cur.Version, "plan_id": cur.PlanID,
		"from": string(from), "to": string(ch.to),
	}
	if *toPlan != cur.PlanID {
		d["to_plan_id"] = *toPlan
	}
	maps.Copy(d, ch.details)
	return tenants.WriteAudit(tx, now, a, ch.auditOrg, ch.action, objectSubscription, cur.ID, d)
}

// writeEvent adds one entry to a subscription's history.
func writeEvent(tx *gorm.DB, subID string, kind EventKind, from, to SubscriptionStatus, fromPlan, toPlan *string, a tenants.Actor, note string, now time.Time) error {
	e := eventRow{
		ID: newID(), SubscriptionID: subID, Kind: string(kind), FromStatus: string(from), ToStatus: string(to),
		FromPlanID: clone(fromPlan), ToPlanID: clone(toPlan), ActorEmail: a.Email, Note: note, CreatedAt: now,
	}
	if a.UserID != "" {
		e.ActorID = &a.UserID
	}
	if err := tx.Create(&e).Error; err != nil {
		return fmt.Errorf("record subscription event: %w", err)
	}
	return nil
}

// lockSub reads a subscription for change and locks its row for the rest of
// tx. scope names the organisation column the caller is allowed through,
// like "org_id = ?" for the partner.
func lockSub(tx *gorm.DB, scope, orgID, id string) (subRow, error) {
	var r subRow
	err := tx.Clauses(lockingUpdate()).Where("id = ?", id).Where(scope, orgID).Take(&r).Error
	return r, dbErr("get subscription", err, nil, "Subscription")
}

// loadPlan returns one plan revision by id.
func loadPlan(db *gorm.DB, id string) (Plan, error) {
	var r planRow
	if err := db.Where("id = ?", id).Take(&r).Error; err != nil {
		return Plan{}, fmt.Errorf("get subscription plan: %w", err)
	}
	return r.plan()
}

// subDetails selects subscriptions (as s) with their display names.
func subDetails(db *gorm.DB) *gorm.DB {
	return db.Table("subscriptions s").
		Select(`s.*, po.name AS partner_org_name, po.slug AS partner_org_slug, a.name AS app_name,
			pr.name AS provider_org_name, pr.slug AS provider_org_slug, x.slug AS api_slug, x.name AS api_name`).
		Joins("JOIN organizations po ON po.id = s.org_id").
		Joins("JOIN apps a ON a.id = s.app_id").
		Joins("JOIN organizations pr ON pr.id = s.provider_org_id").
		Joins("JOIN apis x ON x.id = s.api_id")
}

// detail returns one subscription seen through scope, like "s.org_id = ?".
func (s *Service) detail(db *gorm.DB, scope, orgID, id string) (Subscription, error) {
	var rows []subDetailRow
	if err := subDetails(db).Where("s.id = ?", id).Where(scope, orgID).Limit(1).Scan(&rows).Error; err != nil {
		return Subscription{}, fmt.Errorf("get subscription: %w", err)
	}
	if len(rows) == 0 {
		return Subscription{}, notFound("Subscription")
	}
	out, err := s.decorate(db, rows)
	if err != nil {
		return Subscription{}, err
	}
	return out[0], nil
}

// list returns one page of q (built on subDetails(db)) ordered by id: newest
// first, or oldest first when ascending.
func (s *Service) list(db, q *gorm.DB, p tenants.Page, ascending bool) (tenants.List[Subscription], error) {
	after, err := tenants.DecodeCursor(p.Cursor)
	if err != nil {
		return tenants.List[Subscription]{}, err
	}
	order, cmp := "s.id DESC", "s.id < ?"
	if ascending {
		order, cmp = "s.id", "s.id > ?"
	}
	if after != "" {
		q = q.Where(cmp, after)
	}
	limit := pageLimit(p)
	var rows []subDetailRow
	if err := q.Order(order).Limit(limit + 1).Scan(&rows).Error; err != nil {
		return tenants.List[Subscription]{}, fmt.Errorf("list subscriptions: %w", err)
	}
	items, err := s.decorate(db, rows)
	if err != nil {
		return tenants.List[Subscription]{}, err
	}
	return paginate(items, limit, func(x Subscription) string { return x.ID }), nil
}

// decorate converts rows and fills in their plans.
func (s *Service) decorate(db *gorm.DB, rows []subDetailRow) ([]Subscription, error) {
	ids := make([]string, 0, len(rows))
	for _, r := range rows {
		ids = append(ids, r.Row.PlanID)
		if r.Row.NextPlanID != nil {
			ids = append(ids, *r.Row.NextPlanID)
		}
	}
	byID := map[string]Plan{}
	if len(ids) > 0 {
		var prs []planRow
		if err := db.Where("id IN ?", ids).Find(&prs).Error; err != nil {
			return nil, fmt.Errorf("get subscription plans: %w", err)
		}
		for _, r := range prs {
			p, err := r.plan()
			if err != nil {
				return nil, err
			}
			byID[p.ID] = p
		}
	}
	out := make([]Subscription, len(rows))
	for i, r := range rows {
		sub := r.subscription()
		sub.Plan = byID[sub.PlanID]
		if sub.NextPlanID != nil {
			if p, ok := byID[*sub.NextPlanID]; ok {
				sub.NextPlan = &p
			}
		}
		sub.Notice = notice(sub)
		out[i] = sub
	}
	return out, nil
}

func (d subDetailRow) subscription() Subscription {
	r := d.Row
	return Subscription{
		ID: r.ID, OrgID: r.OrgID, AppID: r.AppID, ProviderOrgID: r.ProviderOrgID, APIID: r.APIID,
		Version: r.Version, PlanID: r.PlanID, NextPlanID: clone(r.NextPlanID), Status: SubscriptionStatus(r.Status),
		Message: r.Message, Reason: r.Reason, PeriodStart: r.PeriodStart.UTC(), PeriodEnd: r.PeriodEnd.UTC(),
		CancelAtPeriodEnd: r.CancelAtPeriodEnd, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
		EndedAt: utcPtr(r.EndedAt), PartnerOrgName: d.PartnerOrgName, PartnerOrgSlug: d.PartnerOrgSlug,
		AppName: d.AppName, ProviderOrgName: d.ProviderOrgName, ProviderOrgSlug: d.ProviderOrgSlug,
		APISlug: d.APISlug, APIName: d.APIName,
	}
}

// paymentNote explains why a paid subscription waits.
const paymentNote = "This is a paid plan. Paying by checkout is not available yet, so the subscription waits for payment " +
	"and its app cannot call the API until it is paid."

// notice says what a subscription's status means for the partner.
func notice(sub Subscription) string {
	switch sub.Status {
	case SubPendingApproval:
		return fmt.Sprintf("Waiting for %s to approve the request.", sub.ProviderOrgName)
	case SubPendingPayment:
		return paymentNote
	case SubActive:
		switch {
		case sub.CancelAtPeriodEnd:
			return fmt.Sprintf("Cancelled: ends on %s, at the end of the paid period.", day(sub.PeriodEnd))
		case sub.NextPlan != nil:
			return fmt.Sprintf("Moves to plan %s on %s.", sub.NextPlan.Name, day(sub.PeriodEnd))
		}
	case SubSuspended:
		return fmt.Sprintf("Suspended by %s: %s", sub.ProviderOrgName, sub.Reason)
	case SubRejected:
		return fmt.Sprintf("Rejected by %s: %s", sub.ProviderOrgName, sub.Reason)
	case SubTerminated:
		return fmt.Sprintf("Terminated by %s: %s", sub.ProviderOrgName, sub.Reason)
	case SubEnded:
		return fmt.Sprintf("Ended: version %s of %s went offline.", sub.Version, sub.APIName)
	}
	return ""
}

// checkStatusFilter refuses a status filter that names no status.
func checkStatusFilter(st SubscriptionStatus) error {
	if st == "" || st.Valid() {
		return nil
	}
	names := statusStrings(SubscriptionStatuses)
	return tenants.FieldError("status", "Filter by one of "+orList(names)+".")
}
