package catalog

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/portico-dev/portico/gateway"
	"github.com/portico-dev/portico/tenants"
)

// Snapshot is everything the gateway needs to serve one version in one
// environment. It is stored with each revision and never changes.
type Snapshot struct {
	Schema      int        `json:"schema"`
	OrgID       string     `json:"org_id"`
	OrgSlug     string     `json:"org_slug"`
	APIID       string     `json:"api_id"`
	APISlug     string     `json:"api_slug"`
	APIName     string     `json:"api_name"`
	VersionID   string     `json:"version_id"`
	Version     string     `json:"version"`
	Environment string     `json:"environment"`
	State       State      `json:"state"`
	SunsetAt    *time.Time `json:"sunset_at,omitempty"`
	// DeprecatedAt is when the version was deprecated, for the gateway's
	// Deprecation header (RFC 9745). Snapshots written before it existed
	// lack it; LiveSnapshots fills it in from the version.
	DeprecatedAt *time.Time `json:"deprecated_at,omitempty"`
	Mock         bool       `json:"mock"`
	Upstream     *Upstream  `json:"upstream,omitempty"`
	Settings     Settings   `json:"settings"`
	Operations   []SnapOp   `json:"operations"`
	// BackendKeyIDs name the active backend signing keys by reference; the
	// secrets stay sealed in backend_keys.
	BackendKeyIDs []string `json:"backend_key_ids"`
}

// SnapOp is an operation as the gateway serves it.
type SnapOp struct {
	OperationID  string        `json:"operation_id"`
	Method       string        `json:"method"`
	Path         string        `json:"path"`
	TimeoutMS    *int          `json:"timeout_ms,omitempty"`
	MaxBodyBytes *int64        `json:"max_body_bytes,omitempty"`
	Billable     bool          `json:"billable"`
	Mock         *MockResponse `json:"mock,omitempty"`
}

// RevisionDetail is a revision with its snapshot and what changed from the
// revision before it.
type RevisionDetail struct {
	Revision
	Snapshot Snapshot `json:"-"`
	Live     bool     `json:"live"`
	Changes  []string `json:"changes"`
}

func validEnv(env string) bool { return env == EnvTest || env == EnvProduction }

func envError(env string) error {
	return tenants.FieldError("environment", fmt.Sprintf("Unknown environment %q; use test or production.", env))
}

// snapshotOf builds the snapshot of a version's current draft.
func (s *Service) snapshotOf(tx *gorm.DB, api API, ver Version, env string) (Snapshot, error) {
	var orgSlug string
	if err := tx.Table("organizations").Where("id = ?", api.OrgID).Pluck("slug", &orgSlug).Error; err != nil {
		return Snapshot{}, fmt.Errorf("snapshot: %w", err)
	}
	var ops []Operation
	if err := tx.Where("org_id = ? AND version_id = ?", ver.OrgID, ver.ID).Order("position, id").Find(&ops).Error; err != nil {
		return Snapshot{}, fmt.Errorf("snapshot: %w", err)
	}
	var keys []string
	if err := tx.Model(&BackendKey{}).Where("org_id = ? AND version_id = ? AND status = ?", ver.OrgID, ver.ID, "active").
		Order("created_at, id").Pluck("key_id", &keys).Error; err != nil {
		return Snapshot{}, fmt.Errorf("snapshot: %w", err)
	}
	snap := Snapshot{Schema: 1, OrgID: api.OrgID, OrgSlug: orgSlug, APIID: api.ID, APISlug: api.Slug, APIName: api.Name,
		VersionID: ver.ID, Version: ver.Version, Environment: env, State: ver.State, SunsetAt: ver.SunsetAt,
		DeprecatedAt: ver.DeprecatedAt, Mock: ver.Mock, Settings: ver.Settings, BackendKeyIDs: keys}
	if !ver.Mock {
		up := ver.Upstream
		snap.Upstream = &up
	}
	for _, o := range ops {
		so := SnapOp{OperationID: o.OperationID, Method: o.Method, Path: o.Path, TimeoutMS: o.TimeoutMS, MaxBodyBytes: o.MaxBodyBytes, Billable: o.Billable}
		if ver.Mock && o.Mock.Status != 0 {
			m := o.Mock
			so.Mock = &m
		}
		snap.Operations = append(snap.Operations, so)
	}
	return snap, nil
}

// readyToDeploy says why a version cannot be deployed, or nil.
func readyToDeploy(ver Version, snap Snapshot) error {
	v := tenants.Validation{}
	if ver.State == Offline {
		return tenants.Errorf(tenants.EConflict, "Version %s is offline; create a new version instead.", ver.Version)
	}
	if len(snap.Operations) == 0 {
		v.Add("operations", "The version has no operations: import an OpenAPI document or add operations first.")
	}
	if !snap.Mock && (snap.Upstream == nil || len(snap.Upstream.Targets) == 0) {
		v.Add("upstream", "The version has no upstream: add a target URL or use a mock backend.")
	}
	if len(snap.BackendKeyIDs) == 0 {
		v.Add("backend_keys", "The version has no active backend signing key; rotate to create one.")
	}
	// The gateway's router has the last word on what it can serve (two
	// templates that differ only in a parameter's name are one route).
	ops := make([]gateway.Operation, len(snap.Operations))
	for i, o := range snap.Operations {
		ops[i] = gateway.Operation{Method: o.Method, Path: o.Path}
	}
	if err := gateway.CheckOperations(ops); err != nil {
		v.Add("operations", "The gateway cannot route these operations: "+err.Error()+". Change or remove one of them.")
	}
	if err := v.Err(); err != nil {
		e := err.(*tenants.Error)
		e.Code = tenants.EConflict
		return e
	}
	return nil
}

// Deploy publishes the version's current draft to an environment as a new
// immutable revision. The first deployment to production publishes a draft
// version.
func (s *Service) Deploy(ctx context.Context, orgID, apiSlug, version, env string, a tenants.Actor, note string) (RevisionDetail, error) {
	if !validEnv(env) {
		return RevisionDetail{}, envError(env)
	}
	api, ver, err := s.Version(ctx, orgID, apiSlug, version)
	if err != nil {
		return RevisionDetail{}, err
	}
	var out RevisionDetail
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if env == EnvProduction && ver.State == Draft {
			ver.State = Published
		}
		snap, err := s.snapshotOf(tx, api, ver, env)
		if err != nil {
			return err
		}
		if err := readyToDeploy(ver, snap); err != nil {
			return err
		}
		prev, _, err := s.liveRevision(tx, orgID, ver.ID, env)
		if err != nil {
			return err
		}
		if out, err = s.addRevision(tx, orgID, ver.ID, env, "deploy", nil, snap, a, note); err != nil {
			return err
		}
		if prev != nil {
			out.Changes = Diff(prev.Snapshot, snap)
		} else {
			out.Changes = []string{"first deployment to " + env}
		}
		if env == EnvProduction {
			if err := tx.Model(&Version{}).Where("id = ? AND state = ?", ver.ID, Draft).Update("state", Published).Error; err != nil {
				return fmt.Errorf("deploy: %w", err)
			}
		}
		return tenants.WriteAudit(tx, out.CreatedAt, a, orgID, "version.deploy", "api_version", ver.ID,
			map[string]any{"api": api.Slug, "version": ver.Version, "environment": env, "revision": out.Number})
	})
	if err == nil {
		s.changed(ctx)
	}
	return out, err
}

// addRevision stores a revision and makes it the environment's live one.
func (s *Service) addRevision(tx *gorm.DB, orgID, versionID, env, kind string, source *int, snap Snapshot, a tenants.Actor, note string) (RevisionDetail, error) {
	var maxN int
	if err := tx.Model(&Revision{}).Where("org_id = ? AND version_id = ? AND environment = ?", orgID, versionID, env).
		Select("COALESCE(MAX(number), 0)").Scan(&maxN).Error; err != nil {
		return RevisionDetail{}, fmt.Errorf("revision: %w", err)
	}
	b, err := json.Marshal(snap)
	if err != nil {
		return RevisionDetail{}, fmt.Errorf("revision: %w", err)
	}
	sum := sha256.Sum256(b)
	now := s.now()
	if len(note) > 500 {
		note = note[:500]
	}
	r := Revision{ID: newID(), OrgID: orgID, VersionID: versionID, Environment: env, Number: maxN + 1, Kind: kind, SourceNumber: source,
		Snapshot: string(b), SnapshotSHA256: hex.EncodeToString(sum[:]), CreatedByEmail: a.Email, Note: strings.TrimSpace(note), CreatedAt: now}
	if a.UserID != "" {
		r.CreatedBy = &a.UserID
	}
	if err := tx.Create(&r).Error; err != nil {
		if errors.Is(err, gorm.ErrDuplicatedKey) {
			return RevisionDetail{}, tenants.Errorf(tenants.EConflict, "Another deployment to %s happened at the same moment; try again.", env)
		}
		return RevisionDetail{}, fmt.Errorf("revision: %w", err)
	}
	d := Deployment{VersionID: versionID, Environment: env, OrgID: orgID, RevisionID: r.ID, UpdatedAt: now}
	res := tx.Model(&Deployment{}).Where("version_id = ? AND environment = ?", versionID, env).Updates(map[string]any{"revision_id": r.ID, "updated_at": now})
	if res.Error != nil {
		return RevisionDetail{}, fmt.Errorf("deployment: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		if err := tx.Create(&d).Error; err != nil {
			return RevisionDetail{}, fmt.Errorf("deployment: %w", err)
		}
	}
	return RevisionDetail{Revision: r, Snapshot: snap, Live: true}, nil
}

// liveRevision returns the environment's live revision, or nil.
func (s *Service) liveRevision(tx *gorm.DB, orgID, versionID, env string) (*RevisionDetail, *Deployment, error) {
	var d Deployment
	err := tx.Where("org_id = ? AND version_id = ? AND environment = ?", orgID, versionID, env).Take(&d).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("live revision: %w", err)
	}
	var r Revision
	if err := tx.Where("id = ? AND org_id = ?", d.RevisionID, orgID).Take(&r).Error; err != nil {
		return nil, nil, fmt.Errorf("live revision: %w", err)
	}
	rd, err := detail(r)
	return &rd, &d, err
}

func detail(r Revision) (RevisionDetail, error) {
	rd := RevisionDetail{Revision: r}
	if err := json.Unmarshal([]byte(r.Snapshot), &rd.Snapshot); err != nil {
		return rd, fmt.Errorf("revision %d: snapshot: %w", r.Number, err)
	}
	return rd, nil
}

// Revisions lists an environment's revisions, newest first, each with the
// changes from the one before and whether it is live.
func (s *Service) Revisions(ctx context.Context, orgID, apiSlug, version, env string) ([]RevisionDetail, error) {
	if env != "" && !validEnv(env) {
		return nil, envError(env)
	}
	_, ver, err := s.Version(ctx, orgID, apiSlug, version)
	if err != nil {
		return nil, err
	}
	q := s.db.WithContext(ctx).Where("org_id = ? AND version_id = ?", orgID, ver.ID)
	if env != "" {
		q = q.Where("environment = ?", env)
	}
	var rows []Revision
	if err := q.Order("environment, number").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("revisions: %w", err)
	}
	var deps []Deployment
	if err := s.db.WithContext(ctx).Where("org_id = ? AND version_id = ?", orgID, ver.ID).Find(&deps).Error; err != nil {
		return nil, fmt.Errorf("revisions: %w", err)
	}
	live := map[string]bool{}
	for _, d := range deps {
		live[d.RevisionID] = true
	}
	out := make([]RevisionDetail, 0, len(rows))
	prev := map[string]*Snapshot{}
	for _, r := range rows {
		rd, err := detail(r)
		if err != nil {
			return nil, err
		}
		rd.Live = live[r.ID]
		if p := prev[r.Environment]; p != nil {
			rd.Changes = Diff(*p, rd.Snapshot)
		} else {
			rd.Changes = []string{"first deployment to " + r.Environment}
		}
		snap := rd.Snapshot
		prev[r.Environment] = &snap
		out = append(out, rd)
	}
	slices.SortStableFunc(out, func(a, b RevisionDetail) int {
		if c := strings.Compare(b.Environment, a.Environment); c != 0 {
			return c // production first
		}
		return b.Number - a.Number
	})
	return out, nil
}

// Rollback makes an earlier revision live again, as a new revision that
// records what it restored.
func (s *Service) Rollback(ctx context.Context, orgID, apiSlug, version, env string, number int, a tenants.Actor) (RevisionDetail, error) {
	if !validEnv(env) {
		return RevisionDetail{}, envError(env)
	}
	api, ver, err := s.Version(ctx, orgID, apiSlug, version)
	if err != nil {
		return RevisionDetail{}, err
	}
	if ver.State == Offline {
		return RevisionDetail{}, tenants.Errorf(tenants.EConflict, "Version %s is offline; it cannot be rolled back.", ver.Version)
	}
	var out RevisionDetail
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var target Revision
		if err := tx.Where("org_id = ? AND version_id = ? AND environment = ? AND number = ?", orgID, ver.ID, env, number).Take(&target).Error; err != nil {
			if errors.Is(err, gorm.ErrRecordNotFound) {
				return tenants.Errorf(tenants.ENotFound, "There is no revision %d in %s.", number, env)
			}
			return fmt.Errorf("rollback: %w", err)
		}
		td, err := detail(target)
		if err != nil {
			return err
		}
		prev, _, err := s.liveRevision(tx, orgID, ver.ID, env)
		if err != nil {
			return err
		}
		if prev != nil && (prev.Number == number || (prev.SourceNumber != nil && *prev.SourceNumber == number)) {
			return tenants.Errorf(tenants.EConflict, "Revision %d is already live in %s.", number, env)
		}
		snap := td.Snapshot
		// Lifecycle facts are not rolled back: a deprecated version stays
		// deprecated, whatever the old revision said.
		snap.State, snap.SunsetAt, snap.DeprecatedAt = ver.State, ver.SunsetAt, ver.DeprecatedAt
		n := number
		if out, err = s.addRevision(tx, orgID, ver.ID, env, "rollback", &n, snap, a, fmt.Sprintf("rollback to revision %d", number)); err != nil {
			return err
		}
		if prev != nil {
			out.Changes = Diff(prev.Snapshot, snap)
		}
		return tenants.WriteAudit(tx, out.CreatedAt, a, orgID, "version.rollback", "api_version", ver.ID,
			map[string]any{"api": api.Slug, "version": ver.Version, "environment": env, "to": number, "revision": out.Number})
	})
	if err == nil {
		s.changed(ctx)
	}
	return out, err
}

// Deprecate marks a published version deprecated with a sunset date. New
// subscriptions stop; the gateway sends Deprecation and Sunset headers from
// the new lifecycle revision it writes to each live environment.
func (s *Service) Deprecate(ctx context.Context, orgID, apiSlug, version string, sunset time.Time, a tenants.Actor) (Version, error) {
	if !sunset.After(s.now()) {
		return Version{}, tenants.FieldError("sunset_at", "The sunset date must be in the future.")
	}
	return s.transition(ctx, orgID, apiSlug, version, Deprecated, &sunset, a)
}

// TakeOffline ends a version: the gateway answers 410 Gone and the market
// no longer lists it. It is final.
func (s *Service) TakeOffline(ctx context.Context, orgID, apiSlug, version string, a tenants.Actor) (Version, error) {
	v, err := s.transition(ctx, orgID, apiSlug, version, Offline, nil, a)
	if err == nil && s.onOffline != nil {
		if err = s.onOffline(ctx, orgID, v.APIID, v.Version, a); err == nil {
			s.changed(ctx)
		}
	}
	return v, err
}

func (s *Service) transition(ctx context.Context, orgID, apiSlug, version string, to State, sunset *time.Time, a tenants.Actor) (Version, error) {
	api, ver, err := s.Version(ctx, orgID, apiSlug, version)
	if err != nil {
		return Version{}, err
	}
	if !CanTransition(ver.State, to) {
		return Version{}, transitionError(ver.State, to)
	}
	now := s.now()
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		upd := map[string]any{"state": to, "updated_at": now}
		switch to {
		case Deprecated:
			upd["deprecated_at"], upd["sunset_at"] = now, sunset.UTC()
			ver.DeprecatedAt, ver.SunsetAt = &now, sunset
		case Offline:
			upd["offline_at"] = now
			ver.OfflineAt = &now
		}
		res := tx.Model(&Version{}).Where("id = ? AND org_id = ? AND state = ?", ver.ID, orgID, ver.State).Updates(upd)
		if res.Error != nil {
			return fmt.Errorf("%s: %w", to, res.Error)
		}
		if res.RowsAffected != 1 {
			return tenants.Errorf(tenants.EConflict, "The version changed state meanwhile; reload and try again.")
		}
		ver.State = to
		// Re-issue each live revision with the new lifecycle facts.
		for _, env := range []string{EnvProduction, EnvTest} {
			live, _, err := s.liveRevision(tx, orgID, ver.ID, env)
			if err != nil {
				return err
			}
			if live == nil {
				continue
			}
			snap := live.Snapshot
			snap.State, snap.SunsetAt, snap.DeprecatedAt = ver.State, ver.SunsetAt, ver.DeprecatedAt
			if _, err := s.addRevision(tx, orgID, ver.ID, env, "lifecycle", nil, snap, a, string(to)); err != nil {
				return err
			}
		}
		details := map[string]any{"api": api.Slug, "version": ver.Version}
		if sunset != nil {
			details["sunset_at"] = sunset.UTC().Format(time.RFC3339)
		}
		return tenants.WriteAudit(tx, now, a, orgID, "version."+string(to), "api_version", ver.ID, details)
	})
	if err == nil {
		s.changed(ctx)
	}
	return ver, err
}

// LiveSnapshots returns the live snapshot of every deployed version of every
// organisation — the input the gateway's configuration is compiled from.
func (s *Service) LiveSnapshots(ctx context.Context) ([]Snapshot, error) {
	var rows []Revision
	err := s.db.WithContext(ctx).Table("revisions r").Select("r.*").
		Joins("JOIN deployments d ON d.revision_id = r.id").Order("r.id").Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("live snapshots: %w", err)
	}
	out := make([]Snapshot, 0, len(rows))
	var undated []string
	for _, r := range rows {
		d, err := detail(r)
		if err != nil {
			return nil, err
		}
		if d.Snapshot.State == Deprecated && d.Snapshot.DeprecatedAt == nil {
			undated = append(undated, d.Snapshot.VersionID)
		}
		out = append(out, d.Snapshot)
	}
	if len(undated) > 0 {
		if err := s.dateDeprecations(ctx, out, undated); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// dateDeprecations fills in DeprecatedAt of deprecated snapshots written
// before snapshots carried it, from their versions' deprecated_at (or, were
// that ever missing, the time the version last changed), since the
// Deprecation header needs a date.
func (s *Service) dateDeprecations(ctx context.Context, snaps []Snapshot, versionIDs []string) error {
	var vers []Version
	if err := s.db.WithContext(ctx).Select("id", "deprecated_at", "updated_at").Where("id IN ?", versionIDs).Find(&vers).Error; err != nil {
		return fmt.Errorf("live snapshots: deprecation dates: %w", err)
	}
	when := make(map[string]time.Time, len(vers))
	for _, v := range vers {
		when[v.ID] = v.UpdatedAt
		if v.DeprecatedAt != nil {
			when[v.ID] = *v.DeprecatedAt
		}
	}
	for i := range snaps {
		if t, ok := when[snaps[i].VersionID]; ok && snaps[i].State == Deprecated && snaps[i].DeprecatedAt == nil {
			snaps[i].DeprecatedAt = &t
		}
	}
	return nil
}

// Diff lists, in readable lines, what changed between two snapshots; an
// empty list means nothing did.
func Diff(a, b Snapshot) []string {
	var out []string
	add := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	if a.State != b.State {
		add("state: %s → %s", a.State, b.State)
	}
	if !timeEq(a.SunsetAt, b.SunsetAt) {
		add("sunset: %s → %s", fmtTime(a.SunsetAt), fmtTime(b.SunsetAt))
	}
	if a.Mock != b.Mock {
		add("backend: %s → %s", backendName(a.Mock), backendName(b.Mock))
	}
	if au, bu := jsonOf(a.Upstream), jsonOf(b.Upstream); au != bu && !a.Mock && !b.Mock {
		if a.Upstream != nil && b.Upstream != nil {
			if ta, tb := jsonOf(a.Upstream.Targets), jsonOf(b.Upstream.Targets); ta != tb {
				add("upstream targets: %s → %s", targetsText(a.Upstream.Targets), targetsText(b.Upstream.Targets))
			}
			if a.Upstream.TimeoutMS != b.Upstream.TimeoutMS {
				add("upstream timeout: %d → %d ms", a.Upstream.TimeoutMS, b.Upstream.TimeoutMS)
			}
			if a.Upstream.ConnectTimeoutMS != b.Upstream.ConnectTimeoutMS {
				add("upstream connect timeout: %d → %d ms", a.Upstream.ConnectTimeoutMS, b.Upstream.ConnectTimeoutMS)
			}
			if a.Upstream.Retries != b.Upstream.Retries {
				add("upstream retries: %d → %d", a.Upstream.Retries, b.Upstream.Retries)
			}
			if a.Upstream.HealthCheckPath != b.Upstream.HealthCheckPath {
				add("upstream health check: %q → %q", a.Upstream.HealthCheckPath, b.Upstream.HealthCheckPath)
			}
		}
	}
	if !a.Settings.Equal(b.Settings) {
		if a.Settings.MaxBodyBytes != b.Settings.MaxBodyBytes {
			add("max body: %d → %d bytes", a.Settings.MaxBodyBytes, b.Settings.MaxBodyBytes)
		}
		if a.Settings.RequireNonce != b.Settings.RequireNonce {
			add("require nonce: %t → %t", a.Settings.RequireNonce, b.Settings.RequireNonce)
		}
		if a.Settings.AllowAppCode != b.Settings.AllowAppCode {
			add("app code: %t → %t", a.Settings.AllowAppCode, b.Settings.AllowAppCode)
		}
		if a.Settings.Public != b.Settings.Public {
			add("public (no key needed): %t → %t", a.Settings.Public, b.Settings.Public)
		}
		if oa, ob := strings.Join(a.Settings.CORSOrigins, " "), strings.Join(b.Settings.CORSOrigins, " "); oa != ob {
			add("CORS origins: [%s] → [%s]", oa, ob)
		}
		if ma, mb := a.Settings.MaxAge(), b.Settings.MaxAge(); ma != mb && ma >= 0 && mb >= 0 {
			add("CORS max age: %d → %d s", ma, mb)
		}
	}
	if ka, kb := strings.Join(a.BackendKeyIDs, ","), strings.Join(b.BackendKeyIDs, ","); ka != kb {
		add("backend keys: [%s] → [%s]", ka, kb)
	}
	ops := func(s Snapshot) map[string]SnapOp {
		m := map[string]SnapOp{}
		for _, o := range s.Operations {
			if a.Mock != b.Mock {
				o.Mock = nil // the backend line above already says it
			}
			m[o.Method+" "+o.Path] = o
		}
		return m
	}
	oa, ob := ops(a), ops(b)
	keys := make([]string, 0, len(oa)+len(ob))
	for k := range oa {
		keys = append(keys, k)
	}
	for k := range ob {
		if _, ok := oa[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		x, inA := oa[k]
		y, inB := ob[k]
		switch {
		case !inA:
			add("+ %s", k)
		case !inB:
			add("- %s", k)
		case jsonOf(x) != jsonOf(y):
			var parts []string
			if !intPtrEq(x.TimeoutMS, y.TimeoutMS) {
				parts = append(parts, fmt.Sprintf("timeout %s → %s", optMS(x.TimeoutMS), optMS(y.TimeoutMS)))
			}
			if !int64PtrEq(x.MaxBodyBytes, y.MaxBodyBytes) {
				parts = append(parts, fmt.Sprintf("max body %s → %s", optBytes(x.MaxBodyBytes), optBytes(y.MaxBodyBytes)))
			}
			if x.Billable != y.Billable {
				parts = append(parts, fmt.Sprintf("billable %t → %t", x.Billable, y.Billable))
			}
			if x.OperationID != y.OperationID {
				parts = append(parts, fmt.Sprintf("operation id %s → %s", x.OperationID, y.OperationID))
			}
			if jsonOf(x.Mock) != jsonOf(y.Mock) {
				parts = append(parts, "mock answer changed")
			}
			add("~ %s: %s", k, strings.Join(parts, ", "))
		}
	}
	if out == nil {
		out = []string{} // nothing changed: callers show "No changes"
	}
	return out
}

func jsonOf(v any) string { b, _ := json.Marshal(v); return string(b) }

func backendName(mock bool) string {
	if mock {
		return "mock"
	}
	return "upstream"
}

func targetsText(ts []Target) string {
	parts := make([]string, len(ts))
	for i, t := range ts {
		parts[i] = fmt.Sprintf("%s (weight %d)", t.URL, t.Weight)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

func timeEq(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}

func fmtTime(t *time.Time) string {
	if t == nil {
		return "none"
	}
	return t.UTC().Format("2006-01-02")
}

func intPtrEq(a, b *int) bool { return (a == nil && b == nil) || (a != nil && b != nil && *a == *b) }
func int64PtrEq(a, b *int64) bool {
	return (a == nil && b == nil) || (a != nil && b != nil && *a == *b)
}

func optMS(p *int) string {
	if p == nil {
		return "default"
	}
	return fmt.Sprintf("%d ms", *p)
}

func optBytes(p *int64) string {
	if p == nil {
		return "default"
	}
	return fmt.Sprintf("%d bytes", *p)
}

// PendingChanges lists what deploying the version's current draft to env
// would change, compared with the live revision. live is false when the
// environment has no deployment yet (everything would be new).
func (s *Service) PendingChanges(ctx context.Context, orgID, apiSlug, version, env string) (changes []string, live bool, err error) {
	if !validEnv(env) {
		return nil, false, envError(env)
	}
	api, ver, err := s.Version(ctx, orgID, apiSlug, version)
	if err != nil {
		return nil, false, err
	}
	tx := s.db.WithContext(ctx)
	cur, _, err := s.liveRevision(tx, orgID, ver.ID, env)
	if err != nil || cur == nil {
		return nil, false, err
	}
	if env == EnvProduction && ver.State == Draft {
		ver.State = Published
	}
	draft, err := s.snapshotOf(tx, api, ver, env)
	if err != nil {
		return nil, true, err
	}
	return Diff(cur.Snapshot, draft), true, nil
}
