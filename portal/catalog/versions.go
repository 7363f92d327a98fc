package catalog

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/portico-dev/portico/tenants"
)

// VersionInput creates a version: an OpenAPI document (JSON or YAML bytes)
// and/or hand-made operations, and an upstream or a mock backend.
type VersionInput struct {
	Version    string
	OpenAPI    []byte
	Operations []OperationInput
	Upstream   *Upstream
	Mock       bool
	Settings   *Settings
}

// VersionPatch edits a version's draft; nil leaves a field alone. Nothing
// live changes until the next deployment.
type VersionPatch struct {
	OpenAPI  []byte
	Upstream *Upstream
	Mock     *bool
	Settings *Settings
}

// OperationInput defines an operation by hand.
type OperationInput struct {
	OperationID  string
	Method       string
	Path         string
	Summary      string
	TimeoutMS    *int
	MaxBodyBytes *int64
	Billable     *bool
}

// OperationPatch overrides an operation's gateway settings.
type OperationPatch struct {
	TimeoutMS    **int
	MaxBodyBytes **int64
	Billable     *bool
}

// NewBackendKey is a freshly created backend signing key with its secret,
// which is returned only here.
type NewBackendKey struct {
	BackendKey
	Secret string
}

// CreateVersion adds a version to an API in the draft state, with a first
// backend signing key.
func (s *Service) CreateVersion(ctx context.Context, orgID, apiSlug string, a tenants.Actor, in VersionInput) (Version, NewBackendKey, error) {
	api, err := s.API(ctx, orgID, apiSlug)
	if err != nil {
		return Version{}, NewBackendKey{}, err
	}
	now := s.now()
	ver := Version{ID: newID(), OrgID: orgID, APIID: api.ID, Version: strings.TrimSpace(in.Version), State: Draft, Mock: in.Mock, CreatedAt: now, UpdatedAt: now}
	v := tenants.Validation{}
	if !versionRE.MatchString(ver.Version) {
		v.Add("version", "Use a version like v1, v2 or v2.1.")
	}
	var ops []Operation
	if len(in.OpenAPI) > 0 {
		spec, err := ParseSpec(ctx, in.OpenAPI)
		if err != nil {
			return Version{}, NewBackendKey{}, err
		}
		ver.OpenAPI, ops = spec.JSON, spec.Operations
	}
	manual, err := manualOperations(in.Operations, len(ops))
	if err != nil {
		return Version{}, NewBackendKey{}, err
	}
	ops = append(ops, manual...)
	if err := s.setBackend(ctx, &ver, in.Upstream, in.Mock, v); err != nil {
		return Version{}, NewBackendKey{}, err
	}
	set := Settings{}
	if in.Settings != nil {
		set = *in.Settings
	}
	if ver.Settings, err = normalizeSettings(set); err != nil {
		return Version{}, NewBackendKey{}, err
	}
	if err := v.Err(); err != nil {
		return Version{}, NewBackendKey{}, err
	}
	var key NewBackendKey
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Create(&ver).Error; err != nil {
			if errors.Is(err, gorm.ErrDuplicatedKey) {
				return tenants.ConflictError("version", "Version "+ver.Version+" already exists for this API.")
			}
			return fmt.Errorf("create version: %w", err)
		}
		if err := insertOperations(tx, orgID, ver.ID, ops); err != nil {
			return err
		}
		var err error
		if key, err = s.newBackendKey(tx, orgID, ver.ID, now); err != nil {
			return err
		}
		return tenants.WriteAudit(tx, now, a, orgID, "version.create", "api_version", ver.ID,
			map[string]any{"api": api.Slug, "version": ver.Version, "operations": len(ops), "mock": ver.Mock})
	})
	return ver, key, err
}

// setBackend validates and sets the upstream or mock backend of a version.
func (s *Service) setBackend(ctx context.Context, ver *Version, up *Upstream, mock bool, v tenants.Validation) error {
	ver.Mock = mock
	switch {
	case mock:
		ver.Upstream = Upstream{}
		if up != nil && len(up.Targets) > 0 {
			v.Add("upstream", "Choose either an upstream or a mock backend, not both.")
		}
	case up == nil:
		ver.Upstream = Upstream{}
	default:
		n, err := s.guard.normalizeUpstream(ctx, *up)
		if err != nil {
			for k, m := range tenants.ErrorFields(err) {
				v.Add(k, m)
			}
			return nil
		}
		ver.Upstream = n
	}
	return nil
}

var methodRE = regexp.MustCompile(`^(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS|\*)$`)

// manualOperations validates hand-made operations. Method "*" with path
// "/*" is a catch-all.
func manualOperations(in []OperationInput, start int) ([]Operation, error) {
	v := tenants.Validation{}
	var ops []Operation
	for i, o := range in {
		f := fmt.Sprintf("operations[%d]", i)
		m := strings.ToUpper(strings.TrimSpace(o.Method))
		if !methodRE.MatchString(m) {
			v.Add(f+".method", "Use GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS or * (any).")
		}
		if msg := checkPathTemplate(o.Path); msg != "" {
			v.Add(f+".path", msg)
		}
		id := o.OperationID
		if id == "" {
			id = strings.Trim(opIDRE.ReplaceAllString(strings.ToLower(strings.ReplaceAll(m, "*", "any"))+"_"+o.Path, "_"), "_")
		}
		op := Operation{OperationID: id, Method: m, Path: o.Path, Summary: firstLine(o.Summary), Source: "manual", TimeoutMS: o.TimeoutMS, MaxBodyBytes: o.MaxBodyBytes, Billable: true, Position: start + i}
		if o.Billable != nil {
			op.Billable = *o.Billable
		}
		checkOverrides(v, f, op.TimeoutMS, op.MaxBodyBytes)
		ops = append(ops, op)
	}
	return ops, v.Err()
}

func checkOverrides(v tenants.Validation, f string, timeout *int, maxBody *int64) {
	if timeout != nil && (*timeout < 1 || *timeout > maxTimeoutMS) {
		v.Add(f+".timeout_ms", "Use 1 to 300000 milliseconds.")
	}
	if maxBody != nil && (*maxBody < 0 || *maxBody > 1<<30) {
		v.Add(f+".max_body_bytes", "Use 0 bytes to 1 GiB.")
	}
}

// checkPathTemplate validates an operation path like /pets/{id} or /*.
func checkPathTemplate(p string) string {
	if !strings.HasPrefix(p, "/") || len(p) > 1000 || strings.ContainsAny(p, " ?#\r\n\t") {
		return "Use a path starting with /, like /pets/{id}, without query or spaces."
	}
	depth := 0
	for _, c := range p {
		switch c {
		case '{':
			depth++
		case '}':
			depth--
		}
		if depth < 0 || depth > 1 {
			return "Braces in the path must pair up, like /pets/{id}."
		}
	}
	if depth != 0 {
		return "Braces in the path must pair up, like /pets/{id}."
	}
	if i := strings.Index(p, "*"); i >= 0 && p[i:] != "*" {
		return "A wildcard * may only end the path, like /files/*."
	}
	return ""
}

func insertOperations(tx *gorm.DB, orgID, versionID string, ops []Operation) error {
	seen := map[string]bool{}
	for i := range ops {
		k := ops[i].Method + " " + ops[i].Path
		if seen[k] {
			return tenants.FieldError("operations", "The operation "+k+" is defined twice.")
		}
		seen[k] = true
		ops[i].ID, ops[i].OrgID, ops[i].VersionID = newID(), orgID, versionID
	}
	if len(ops) == 0 {
		return nil
	}
	if err := tx.CreateInBatches(ops, 200).Error; err != nil {
		return fmt.Errorf("insert operations: %w", err)
	}
	return nil
}

// Version returns an API and one of its versions.
func (s *Service) Version(ctx context.Context, orgID, apiSlug, version string) (API, Version, error) {
	api, err := s.API(ctx, orgID, apiSlug)
	if err != nil {
		return API{}, Version{}, err
	}
	var ver Version
	err = s.db.WithContext(ctx).Where("org_id = ? AND api_id = ? AND version = ?", orgID, api.ID, version).Take(&ver).Error
	return api, ver, dbErr("get version", err, "version")
}

// ListVersions returns an API's versions, oldest first.
func (s *Service) ListVersions(ctx context.Context, orgID, apiSlug string) ([]Version, error) {
	api, err := s.API(ctx, orgID, apiSlug)
	if err != nil {
		return nil, err
	}
	var vs []Version
	if err := s.db.WithContext(ctx).Where("org_id = ? AND api_id = ?", orgID, api.ID).Order("created_at, id").Find(&vs).Error; err != nil {
		return nil, fmt.Errorf("list versions: %w", err)
	}
	return vs, nil
}

// VersionNames lists an API's version names (for plans that grant them).
func (s *Service) VersionNames(ctx context.Context, orgID, apiID string) ([]string, error) {
	var names []string
	err := s.db.WithContext(ctx).Model(&Version{}).Where("org_id = ? AND api_id = ? AND state <> ?", orgID, apiID, Offline).
		Order("created_at").Pluck("version", &names).Error
	if err != nil {
		return nil, fmt.Errorf("version names: %w", err)
	}
	return names, nil
}

// Operations lists a version's operations in order.
func (s *Service) Operations(ctx context.Context, orgID, versionID string) ([]Operation, error) {
	var ops []Operation
	if err := s.db.WithContext(ctx).Where("org_id = ? AND version_id = ?", orgID, versionID).Order("position, id").Find(&ops).Error; err != nil {
		return nil, fmt.Errorf("list operations: %w", err)
	}
	return ops, nil
}

// UpdateVersion edits a version's draft. A new OpenAPI document replaces the
// operations it defines, keeping the gateway overrides of those that remain
// and every hand-made operation.
func (s *Service) UpdateVersion(ctx context.Context, orgID, apiSlug, version string, a tenants.Actor, p VersionPatch) (Version, error) {
	api, ver, err := s.Version(ctx, orgID, apiSlug, version)
	if err != nil {
		return Version{}, err
	}
	if ver.State == Offline {
		return Version{}, tenants.Errorf(tenants.EConflict, "Version %s is offline and can no longer change; create a new version.", ver.Version)
	}
	var spec *Spec
	if p.OpenAPI != nil {
		if spec, err = ParseSpec(ctx, p.OpenAPI); err != nil {
			return Version{}, err
		}
		ver.OpenAPI = spec.JSON
	}
	v := tenants.Validation{}
	up, mock := &ver.Upstream, ver.Mock
	if p.Upstream != nil {
		up = p.Upstream
		if p.Mock == nil {
			mock = false
		}
	}
	if p.Mock != nil {
		mock = *p.Mock
		if mock && p.Upstream == nil {
			up = nil
		}
	}
	if p.Upstream != nil || p.Mock != nil {
		if err := s.setBackend(ctx, &ver, up, mock, v); err != nil {
			return Version{}, err
		}
	}
	if p.Settings != nil {
		if ver.Settings, err = normalizeSettings(*p.Settings); err != nil {
			return Version{}, err
		}
	}
	if err := v.Err(); err != nil {
		return Version{}, err
	}
	ver.UpdatedAt = s.now()
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Model(&Version{}).Where("id = ? AND org_id = ?", ver.ID, orgID).Updates(map[string]any{
			"openapi": ver.OpenAPI, "upstream": ver.Upstream, "mock": ver.Mock, "settings": ver.Settings, "updated_at": ver.UpdatedAt,
		}).Error; err != nil {
			return fmt.Errorf("update version: %w", err)
		}
		if spec != nil {
			if err := replaceSpecOperations(tx, orgID, ver.ID, spec.Operations); err != nil {
				return err
			}
		}
		return tenants.WriteAudit(tx, ver.UpdatedAt, a, orgID, "version.update", "api_version", ver.ID,
			map[string]any{"api": api.Slug, "version": ver.Version, "openapi": spec != nil, "upstream": p.Upstream != nil, "mock": p.Mock != nil, "settings": p.Settings != nil})
	})
	return ver, err
}

// replaceSpecOperations swaps the spec-derived operations for a new set,
// carrying over overrides of operations that keep their method and path.
func replaceSpecOperations(tx *gorm.DB, orgID, versionID string, ops []Operation) error {
	var old []Operation
	if err := tx.Where("org_id = ? AND version_id = ?", orgID, versionID).Find(&old).Error; err != nil {
		return fmt.Errorf("replace operations: %w", err)
	}
	prev := map[string]Operation{}
	var manual []Operation
	for _, o := range old {
		if o.Source == "manual" {
			manual = append(manual, o)
			continue
		}
		prev[o.Method+" "+o.Path] = o
	}
	if err := tx.Where("org_id = ? AND version_id = ? AND source = ?", orgID, versionID, "openapi").Delete(&Operation{}).Error; err != nil {
		return fmt.Errorf("replace operations: %w", err)
	}
	taken := map[string]bool{}
	for _, m := range manual {
		taken[m.Method+" "+m.Path] = true
	}
	var keep []Operation
	for _, o := range ops {
		k := o.Method + " " + o.Path
		if taken[k] {
			continue // a hand-made operation wins
		}
		if p, ok := prev[k]; ok {
			o.TimeoutMS, o.MaxBodyBytes, o.Billable = p.TimeoutMS, p.MaxBodyBytes, p.Billable
		}
		keep = append(keep, o)
	}
	return insertOperations(tx, orgID, versionID, keep)
}

// UpdateOperation changes one operation's gateway overrides.
func (s *Service) UpdateOperation(ctx context.Context, orgID, apiSlug, version, operationID string, a tenants.Actor, p OperationPatch) (Operation, error) {
	_, ver, err := s.Version(ctx, orgID, apiSlug, version)
	if err != nil {
		return Operation{}, err
	}
	var op Operation
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Where("org_id = ? AND version_id = ? AND operation_id = ?", orgID, ver.ID, operationID).Take(&op).Error; err != nil {
			return dbErr("update operation", err, "operation")
		}
		if p.TimeoutMS != nil {
			op.TimeoutMS = *p.TimeoutMS
		}
		if p.MaxBodyBytes != nil {
			op.MaxBodyBytes = *p.MaxBodyBytes
		}
		if p.Billable != nil {
			op.Billable = *p.Billable
		}
		v := tenants.Validation{}
		checkOverrides(v, "operation", op.TimeoutMS, op.MaxBodyBytes)
		if err := v.Err(); err != nil {
			return err
		}
		if err := tx.Model(&Operation{}).Where("id = ?", op.ID).Updates(map[string]any{
			"timeout_ms": op.TimeoutMS, "max_body_bytes": op.MaxBodyBytes, "billable": op.Billable,
		}).Error; err != nil {
			return fmt.Errorf("update operation: %w", err)
		}
		return tenants.WriteAudit(tx, s.now(), a, orgID, "operation.update", "operation", op.ID, map[string]any{"operation_id": operationID})
	})
	return op, err
}

// newBackendKey creates an active backend signing key and returns its
// secret once.
func (s *Service) newBackendKey(tx *gorm.DB, orgID, versionID string, now time.Time) (NewBackendKey, error) {
	if s.kr == nil {
		return NewBackendKey{}, errors.New("backend key: no keyring configured")
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return NewBackendKey{}, fmt.Errorf("backend key: %w", err)
	}
	secret := base64.RawURLEncoding.EncodeToString(raw)
	idb := make([]byte, 9)
	rand.Read(idb)
	keyID := "bk_" + base64.RawURLEncoding.EncodeToString(idb)
	k := BackendKey{ID: newID(), OrgID: orgID, VersionID: versionID, KeyID: keyID, Status: "active", CreatedAt: now,
		SecretSealed: s.kr.Seal([]byte(secret), SealedBackendKeys.Context(keyID))}
	if err := tx.Create(&k).Error; err != nil {
		return NewBackendKey{}, fmt.Errorf("backend key: %w", err)
	}
	return NewBackendKey{BackendKey: k, Secret: secret}, nil
}

// BackendKeys lists a version's backend signing keys, newest first.
func (s *Service) BackendKeys(ctx context.Context, orgID, versionID string) ([]BackendKey, error) {
	var ks []BackendKey
	if err := s.db.WithContext(ctx).Where("org_id = ? AND version_id = ?", orgID, versionID).Order("created_at DESC, id DESC").Find(&ks).Error; err != nil {
		return nil, fmt.Errorf("backend keys: %w", err)
	}
	return ks, nil
}

// RotateBackendKey adds a new active backend key. At most two are active:
// the oldest active key is retired when a third would appear, so a backend
// that accepts both the current and the new key never sees a failed call.
func (s *Service) RotateBackendKey(ctx context.Context, orgID, apiSlug, version string, a tenants.Actor) (NewBackendKey, error) {
	_, ver, err := s.Version(ctx, orgID, apiSlug, version)
	if err != nil {
		return NewBackendKey{}, err
	}
	if ver.State == Offline {
		return NewBackendKey{}, tenants.Errorf(tenants.EConflict, "Version %s is offline.", ver.Version)
	}
	var key NewBackendKey
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		now := s.now()
		var active []BackendKey
		if err := tx.Where("org_id = ? AND version_id = ? AND status = ?", orgID, ver.ID, "active").Order("created_at, id").Find(&active).Error; err != nil {
			return fmt.Errorf("rotate backend key: %w", err)
		}
		for i := 0; i < len(active)-1; i++ {
			if err := tx.Model(&BackendKey{}).Where("id = ?", active[i].ID).Updates(map[string]any{"status": "retired", "retired_at": now}).Error; err != nil {
				return fmt.Errorf("rotate backend key: %w", err)
			}
		}
		var err error
		if key, err = s.newBackendKey(tx, orgID, ver.ID, now); err != nil {
			return err
		}
		return tenants.WriteAudit(tx, now, a, orgID, "backend_key.rotate", "api_version", ver.ID, map[string]any{"key_id": key.KeyID})
	})
	if err == nil {
		s.changed(ctx)
	}
	return key, err
}

// RetireBackendKey retires one key; the last active key cannot be retired.
func (s *Service) RetireBackendKey(ctx context.Context, orgID, apiSlug, version, keyID string, a tenants.Actor) error {
	_, ver, err := s.Version(ctx, orgID, apiSlug, version)
	if err != nil {
		return err
	}
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var k BackendKey
		if err := tx.Where("org_id = ? AND version_id = ? AND key_id = ?", orgID, ver.ID, keyID).Take(&k).Error; err != nil {
			return dbErr("retire backend key", err, "backend key")
		}
		if k.Status != "active" {
			return tenants.Errorf(tenants.EConflict, "This key is already retired.")
		}
		var n int64
		tx.Model(&BackendKey{}).Where("org_id = ? AND version_id = ? AND status = ?", orgID, ver.ID, "active").Count(&n)
		if n <= 1 {
			return tenants.Errorf(tenants.EConflict, "This is the only active key; rotate to a new key first.")
		}
		now := s.now()
		if err := tx.Model(&BackendKey{}).Where("id = ?", k.ID).Updates(map[string]any{"status": "retired", "retired_at": now}).Error; err != nil {
			return fmt.Errorf("retire backend key: %w", err)
		}
		return tenants.WriteAudit(tx, now, a, orgID, "backend_key.retire", "api_version", ver.ID, map[string]any{"key_id": keyID})
	})
	if err == nil {
		s.changed(ctx)
	}
	return err
}

// BackendSecret opens a backend key's secret, for the gateway's compiled
// configuration and for the provider who verifies signatures.
func (s *Service) BackendSecret(k BackendKey) (string, error) {
	b, err := s.kr.Open(k.SecretSealed, SealedBackendKeys.Context(k.KeyID))
	if err != nil {
		return "", fmt.Errorf("backend secret %s: %w", k.KeyID, err)
	}
	return string(b), nil
}

// BackendSecrets opens the secrets of the named backend keys, for compiling
// the gateway's configuration (the snapshots name keys by reference).
func (s *Service) BackendSecrets(ctx context.Context, keyIDs []string) (map[string][]byte, error) {
	out := make(map[string][]byte, len(keyIDs))
	if len(keyIDs) == 0 {
		return out, nil
	}
	var ks []BackendKey
	if err := s.db.WithContext(ctx).Where("key_id IN ?", keyIDs).Find(&ks).Error; err != nil {
		return nil, fmt.Errorf("backend secrets: %w", err)
	}
	for _, k := range ks {
		sec, err := s.BackendSecret(k)
		if err != nil {
			return nil, err
		}
		out[k.KeyID] = []byte(sec)
	}
	return out, nil
}
