package tenants

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/portico-dev/portico/tenants/keyring"
)

// Key kinds: an app's key signs calls through the gateway; a user's key
// signs calls to the management API as that user.
const (
	KindApp  = "app"
	KindUser = "user"
)

// Key statuses. Only active and revoked are stored; expired is computed from
// expires_at. Revoked is final: no method re-activates a key.
const (
	KeyActive  = "active"
	KeyExpired = "expired"
	KeyRevoked = "revoked"
)

// Access key id prefixes, so people and secret scanners can tell an app's
// key from a user's.
const (
	AppKeyPrefix  = "PK"
	UserKeyPrefix = "PU"
)

// MaxActiveKeys is how many active keys an app or a user may hold at once:
// two, so a key can be rotated without downtime (create the new one, deploy
// it, revoke the old one).
const MaxActiveKeys = 2

// MaxKeyLifetimeYears bounds a key's expiry, counted from its creation.
const MaxKeyLifetimeYears = 2

// Access key ids are the prefix followed by accessKeyIDLen characters of the
// RFC 4648 base32 alphabet (A–Z, 2–7: upper-case letters and digits without
// 0, 1, 8 and 9, which read like O, I, B and g), as AWS access key ids are:
// 18 × 5 = 90 random bits. Secret keys are secretKeyLen characters of
// [A-Za-z0-9/+] (6 bits each, 240 random bits).
const (
	accessKeyAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	accessKeyIDLen    = 18
	secretKeyAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/+"
	secretKeyLen      = 40
)

// AccessKey is an AK/SK key's metadata. It never carries the secret, sealed
// or not.
type AccessKey struct {
	ID string `json:"id"`
	// AccessKey is the public access key id, as sent in signed requests.
	AccessKey string `json:"access_key"`
	Kind      string `json:"kind"`
	OrgID     string `json:"-"`
	AppID     string `json:"app_id,omitempty"`
	UserID    string `json:"-"`
	Name      string `json:"name"`
	// Status is active, expired or revoked as of the call that returned it.
	Status     string     `json:"status"`
	ExpiresAt  *time.Time `json:"expires_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	CreatedAt  time.Time  `json:"created_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
}

// KeyInput describes a new key.
type KeyInput struct {
	// Name tells keys apart in lists; "" names the key after its creation
	// date.
	Name string
	// ExpiresAt, when set, must be in the future and at most
	// MaxKeyLifetimeYears away; nil means the key does not expire.
	ExpiresAt *time.Time
}

// CreatedKey is a new key with its secret. The secret is returned here once
// and can never be read back through the service's metadata methods.
type CreatedKey struct {
	AccessKey string    `json:"access_key"`
	SecretKey string    `json:"secret_key"`
	Key       AccessKey `json:"key"`
}

// KeyMaterial is an active key with its decrypted secret, for the signature
// verifiers (gateway and management API) and nothing else.
type KeyMaterial struct {
	AccessKey string
	// SecretKey is the plain secret. It is excluded from JSON, String and
	// slog output so the value cannot leak through a log line by accident.
	SecretKey string `json:"-"`
	Kind      string
	// OrgID and AppID are set for app keys, UserID for user keys.
	OrgID  string
	AppID  string
	UserID string
	// Environment is the app's environment (test or production); "" for
	// user keys.
	Environment string
	// ExpiresAt is when the key stops working; verifiers holding a snapshot
	// must compare it with the request time themselves.
	ExpiresAt *time.Time
}

// Active reports whether the key may sign a request at now.
func (k KeyMaterial) Active(now time.Time) bool {
	return k.ExpiresAt == nil || now.Before(*k.ExpiresAt)
}

// String implements fmt.Stringer without the secret.
func (k KeyMaterial) String() string { return k.Kind + " key " + k.AccessKey }

// GoString implements fmt.GoStringer without the secret.
func (k KeyMaterial) GoString() string { return "tenants.KeyMaterial{" + k.String() + "}" }

// LogValue implements slog.LogValuer without the secret.
func (k KeyMaterial) LogValue() slog.Value {
	return slog.GroupValue(slog.String("access_key", k.AccessKey), slog.String("kind", k.Kind))
}

// accessKeyRow is the stored form of a key, secret included.
type accessKeyRow struct {
	ID           string
	AccessKey    string
	Kind         string
	OrgID        *string
	AppID        *string
	UserID       *string
	Name         string
	SecretSealed string
	Status       string
	ExpiresAt    *time.Time
	LastUsedAt   *time.Time
	CreatedAt    time.Time
	RevokedAt    *time.Time
}

func (accessKeyRow) TableName() string { return "access_keys" }

// metadataColumns are the columns the listing methods read: everything but
// the sealed secret, which never leaves the database for a listing.
var metadataColumns = []string{"id", "access_key", "kind", "org_id", "app_id", "user_id", "name", "status", "expires_at", "last_used_at", "created_at", "revoked_at"}

func (r *accessKeyRow) public(now time.Time) AccessKey {
	return AccessKey{
		ID: r.ID, AccessKey: r.AccessKey, Kind: r.Kind, OrgID: deref(r.OrgID), AppID: deref(r.AppID), UserID: deref(r.UserID),
		Name: r.Name, Status: keyStatus(r.Status, r.ExpiresAt, now),
		ExpiresAt: r.ExpiresAt, LastUsedAt: r.LastUsedAt, CreatedAt: r.CreatedAt, RevokedAt: r.RevokedAt,
	}
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func keyStatus(stored string, expiresAt *time.Time, now time.Time) string {
	switch {
	case stored != KeyActive:
		return KeyRevoked
	case expiresAt != nil && !now.Before(*expiresAt):
		return KeyExpired
	default:
		return KeyActive
	}
}

// activeAt restricts a query on access_keys to keys usable at now.
func activeAt(q *gorm.DB, col string, now time.Time) *gorm.DB {
	return q.Where(col+"status = ? AND ("+col+"expires_at IS NULL OR "+col+"expires_at > ?)", KeyActive, now)
}

// CreateAppKey issues an AK/SK key for one of the organisation's apps and
// returns its secret, once. An app holds at most MaxActiveKeys active keys.
// Expected role (checked by the caller): owner, admin or developer
// (Role.CanManageApps). OnChange refreshes the gateway's key snapshot.
func (s *Service) CreateAppKey(ctx context.Context, orgID, appID string, a Actor, in KeyInput) (CreatedKey, error) {
	now := s.now()
	name, exp, err := checkKeyInput(in, now)
	if err != nil {
		return CreatedKey{}, err
	}
	if s.kr == nil {
		return CreatedKey{}, errors.New("create app key: no keyring configured")
	}
	var created CreatedKey
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		app, err := lockApp(tx, orgID, appID)
		if err != nil {
			return err
		}
		var n int64
		if err := activeAt(tx.Model(&accessKeyRow{}), "", now).
			Where("kind = ? AND org_id = ? AND app_id = ?", KindApp, orgID, app.ID).Count(&n).Error; err != nil {
			return fmt.Errorf("create app key: %w", err)
		}
		if n >= MaxActiveKeys {
			return Errorf(EConflict, "An app has at most two active keys: revoke one first.")
		}
		row := accessKeyRow{ID: newID(), Kind: KindApp, OrgID: &orgID, AppID: &app.ID, Name: name, Status: KeyActive, ExpiresAt: exp, CreatedAt: now}
		secret := newSecretKey()
		if err := s.insertKey(tx, &row, secret, func() string { return newAccessKeyID(AppKeyPrefix) }); err != nil {
			return fmt.Errorf("create app key: %w", err)
		}
		created = CreatedKey{AccessKey: row.AccessKey, SecretKey: secret, Key: row.public(now)}
		return s.audit(tx, a, orgID, "app_key.create", "app_key", row.ID, keyAuditDetails(&row))
	})
	if err != nil {
		return CreatedKey{}, err
	}
	s.changed(ctx)
	return created, nil
}

// ListAppKeys returns an app's keys, newest first, revoked and expired ones
// included, without secrets. Any member may list them.
func (s *Service) ListAppKeys(ctx context.Context, orgID, appID string) ([]AccessKey, error) {
	app, err := s.App(ctx, orgID, appID)
	if err != nil {
		return nil, err
	}
	var rows []accessKeyRow
	if err := s.db.WithContext(ctx).Select(metadataColumns).
		Where("kind = ? AND org_id = ? AND app_id = ?", KindApp, orgID, app.ID).
		Order("created_at DESC, id DESC").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("list app keys: %w", err)
	}
	return publicKeys(rows, s.now()), nil
}

// RevokeAppKey revokes one of an app's keys, for good. Revoking a key that
// is already revoked changes nothing and succeeds (no second audit event),
// so a retried request is harmless; an expired key can be revoked too. A key
// of another app or organisation is not found. Expected role (checked by the
// caller): owner, admin or developer (Role.CanManageApps). OnChange
// refreshes the gateway's key snapshot.
func (s *Service) RevokeAppKey(ctx context.Context, orgID, appID, accessKey string, a Actor) error {
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		app, err := lockApp(tx, orgID, appID)
		if err != nil {
			return err
		}
		return s.revokeKey(tx, a, orgID, "app_key.revoke", "app_key",
			"access_key = ? AND kind = ? AND org_id = ? AND app_id = ?", accessKey, KindApp, orgID, app.ID)
	})
	if err == nil {
		s.changed(ctx)
	}
	return err
}

// CreateUserKey issues an AK/SK key for the management API, acting as the
// actor, and returns its secret, once. A user holds at most MaxActiveKeys
// active keys. Any signed-in user may create their own keys.
func (s *Service) CreateUserKey(ctx context.Context, a Actor, in KeyInput) (CreatedKey, error) {
	now := s.now()
	name, exp, err := checkKeyInput(in, now)
	if err != nil {
		return CreatedKey{}, err
	}
	if s.kr == nil {
		return CreatedKey{}, errors.New("create user key: no keyring configured")
	}
	var created CreatedKey
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		// The user's row serialises their key creations, so two concurrent
		// requests cannot both pass the count.
		var u User
		if err := tx.Clauses(lockingUpdate()).Select("id").Where("id = ?", a.UserID).Take(&u).Error; err != nil {
			return dbErr("create user key", err, nil)
		}
		var n int64
		if err := activeAt(tx.Model(&accessKeyRow{}), "", now).Where("kind = ? AND user_id = ?", KindUser, u.ID).Count(&n).Error; err != nil {
			return fmt.Errorf("create user key: %w", err)
		}
		if n >= MaxActiveKeys {
			return Errorf(EConflict, "You have at most two active keys: revoke one first.")
		}
		row := accessKeyRow{ID: newID(), Kind: KindUser, UserID: &u.ID, Name: name, Status: KeyActive, ExpiresAt: exp, CreatedAt: now}
		secret := newSecretKey()
		if err := s.insertKey(tx, &row, secret, func() string { return newAccessKeyID(UserKeyPrefix) }); err != nil {
			return fmt.Errorf("create user key: %w", err)
		}
		created = CreatedKey{AccessKey: row.AccessKey, SecretKey: secret, Key: row.public(now)}
		return s.audit(tx, a, "", "user_key.create", "user_key", row.ID, keyAuditDetails(&row))
	})
	if err != nil {
		return CreatedKey{}, err
	}
	return created, nil
}

// ListUserKeys returns the actor's management-API keys, newest first,
// without secrets.
func (s *Service) ListUserKeys(ctx context.Context, a Actor) ([]AccessKey, error) {
	var rows []accessKeyRow
	if err := s.db.WithContext(ctx).Select(metadataColumns).
		Where("kind = ? AND user_id = ?", KindUser, a.UserID).
		Order("created_at DESC, id DESC").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("list user keys: %w", err)
	}
	return publicKeys(rows, s.now()), nil
}

// RevokeUserKey revokes one of the actor's management-API keys, for good;
// like RevokeAppKey, revoking a revoked key is a successful no-op. Another
// user's key is not found.
func (s *Service) RevokeUserKey(ctx context.Context, a Actor, accessKey string) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		return s.revokeKey(tx, a, "", "user_key.revoke", "user_key",
			"access_key = ? AND kind = ? AND user_id = ?", accessKey, KindUser, a.UserID)
	})
}

// revokeKey revokes the one key the condition selects. The update is conditional on
// the key still being active, so of two concurrent revocations only one
// writes an audit event.
func (s *Service) revokeKey(tx *gorm.DB, a Actor, orgID, action, objectType, where string, args ...any) error {
	var row accessKeyRow
	if err := tx.Select(metadataColumns).Where(where, args...).Take(&row).Error; err != nil {
		return dbErr(action, err, nil)
	}
	if row.Status == KeyRevoked {
		return nil
	}
	res := tx.Model(&accessKeyRow{}).Where("id = ? AND status = ?", row.ID, KeyActive).
		Updates(map[string]any{"status": KeyRevoked, "revoked_at": s.now()})
	if res.Error != nil {
		return fmt.Errorf("%s: %w", action, res.Error)
	}
	if res.RowsAffected == 0 {
		return nil
	}
	return s.audit(tx, a, orgID, action, objectType, row.ID, keyAuditDetails(&row))
}

// keyMaterialRow is one row of the verifiers' query.
type keyMaterialRow struct {
	AccessKey    string
	Kind         string
	OrgID        *string
	AppID        *string
	UserID       *string
	SecretSealed string
	ExpiresAt    DBTime
	Environment  *string
}

// keyMaterialQuery selects the keys usable at now: active, unexpired, and —
// for app keys — of an app that is not deleted.
func (s *Service) keyMaterialQuery(ctx context.Context, now time.Time) *gorm.DB {
	q := s.db.WithContext(ctx).Table("access_keys k").
		Select("k.access_key, k.kind, k.org_id, k.app_id, k.user_id, k.secret_sealed, k.expires_at, a.environment").
		Joins("LEFT JOIN apps a ON a.id = k.app_id AND a.org_id = k.org_id AND a.deleted_at IS NULL").
		Where("k.kind = ? OR (k.kind = ? AND a.id IS NOT NULL)", KindUser, KindApp)
	return activeAt(q, "k.", now)
}

// ActiveKeys returns every key usable now with its DECRYPTED secret, to
// build the verifiers' in-memory key snapshot. Its result must only feed a
// signature verifier: never log it, render it or send it anywhere else. A
// secret that does not open (wrong master key) fails the whole call rather
// than silently dropping keys.
func (s *Service) ActiveKeys(ctx context.Context) ([]KeyMaterial, error) {
	if s.kr == nil {
		return nil, errors.New("active keys: no keyring configured")
	}
	// The gateway compiles this on every change and there may be hundreds
	// of thousands: the rows are scanned by hand (the columns of
	// keyMaterialQuery, in order), several times faster than gorm's
	// reflection.
	// No ORDER BY: every gateway node runs this, and sorting on the one
	// database costs more than on the many nodes.
	rows, err := s.keyMaterialQuery(ctx, s.now()).Rows()
	if err != nil {
		return nil, fmt.Errorf("active keys: %w", err)
	}
	defer rows.Close()
	// One copy of each value that repeats across rows — organisation and
	// app ids, kinds, environments — where the driver returns one per row:
	// a gateway holds the result beside the configuration it serves while
	// it rebuilds.
	one := Interner{}.Intern
	var out []KeyMaterial
	var r keyMaterialRow
	for rows.Next() {
		r = keyMaterialRow{}
		if err := rows.Scan(&r.AccessKey, &r.Kind, &r.OrgID, &r.AppID, &r.UserID, &r.SecretSealed, &r.ExpiresAt, &r.Environment); err != nil {
			return nil, fmt.Errorf("active keys: %w", err)
		}
		km, err := s.openKey(&r)
		if err != nil {
			return nil, fmt.Errorf("active keys: %w", err)
		}
		km.Kind, km.OrgID, km.AppID, km.UserID, km.Environment = one(km.Kind), one(km.OrgID), one(km.AppID), one(km.UserID), one(km.Environment)
		out = append(out, km)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("active keys: %w", err)
	}
	slices.SortFunc(out, func(a, b KeyMaterial) int { return strings.Compare(a.AccessKey, b.AccessKey) })
	return out, nil
}

// KeyByAccessKey returns one usable key with its DECRYPTED secret, for a
// verifier that looks keys up one at a time (the management API). The same
// care as for ActiveKeys applies. An unknown, revoked or expired key, or a
// key of a deleted app, is EUnauthorized, all with the same message; the
// verifier answers 403 invalid-access-key. The caller checks Kind.
func (s *Service) KeyByAccessKey(ctx context.Context, accessKey string) (KeyMaterial, error) {
	invalid := Errorf(EUnauthorized, "The access key is not valid, expired or revoked.")
	if !validAccessKeyID(accessKey) {
		return KeyMaterial{}, invalid
	}
	if s.kr == nil {
		return KeyMaterial{}, errors.New("key by access key: no keyring configured")
	}
	var rows []keyMaterialRow
	if err := s.keyMaterialQuery(ctx, s.now()).Where("k.access_key = ?", accessKey).Limit(1).Scan(&rows).Error; err != nil {
		return KeyMaterial{}, fmt.Errorf("key by access key: %w", err)
	}
	if len(rows) == 0 {
		return KeyMaterial{}, invalid
	}
	km, err := s.openKey(&rows[0])
	if err != nil {
		return KeyMaterial{}, fmt.Errorf("key by access key: %w", err)
	}
	return km, nil
}

func (s *Service) openKey(r *keyMaterialRow) (KeyMaterial, error) {
	secret, err := s.kr.Open(r.SecretSealed, sealContext(r.AccessKey))
	if err != nil {
		return KeyMaterial{}, fmt.Errorf("open secret of %s: %w", r.AccessKey, err)
	}
	km := KeyMaterial{
		AccessKey: r.AccessKey, SecretKey: string(secret), Kind: r.Kind,
		OrgID: deref(r.OrgID), AppID: deref(r.AppID), UserID: deref(r.UserID), Environment: deref(r.Environment),
	}
	if !r.ExpiresAt.IsZero() {
		t := r.ExpiresAt.UTC()
		km.ExpiresAt = &t
	}
	return km, nil
}

// touchBatch bounds how many keys one TouchKeys transaction updates, so a
// large flush never holds the write lock for long.
const touchBatch = 200

// TouchKeys records when keys were last used, as reported by the verifiers
// (access key id → time of the latest use). A key's last_used_at moves only
// forward and only when the stored value is at least a minute older than
// the reported one, so frequent flushes cost few writes. Unknown access
// keys are ignored. Entries starting with AppCodePrefix are app codes'
// prefixes (the gateway meters app-code calls under them) and update the
// codes' last-used times the same way.
func (s *Service) TouchKeys(ctx context.Context, usedAt map[string]time.Time) error {
	keys := make([]string, 0, len(usedAt))
	var codes []string
	for k, t := range usedAt {
		switch {
		case t.IsZero():
		case strings.HasPrefix(k, AppCodePrefix):
			codes = append(codes, k)
		default:
			keys = append(keys, k)
		}
	}
	if len(codes) > 0 {
		if err := s.touchAppCodes(ctx, codes, usedAt); err != nil {
			return err
		}
	}
	// A fixed order makes concurrent flushes from several gateway nodes
	// lock rows in the same order, so they cannot deadlock.
	slices.Sort(keys)
	for batch := range slices.Chunk(keys, touchBatch) {
		err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			for _, k := range batch {
				t := usedAt[k].UTC()
				if err := tx.Model(&accessKeyRow{}).
					Where("access_key = ? AND (last_used_at IS NULL OR last_used_at <= ?)", k, t.Add(-lastUsedResolution)).
					Update("last_used_at", t).Error; err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("touch keys: %w", err)
		}
	}
	return nil
}

// checkKeyInput validates a new key's name and expiry.
func checkKeyInput(in KeyInput, now time.Time) (string, *time.Time, error) {
	name := strings.TrimSpace(in.Name)
	if name == "" {
		name = "Key " + now.Format("2006-01-02")
	}
	v := Validation{}
	validateName(v, "name", name, "a name for the key")
	var exp *time.Time
	if in.ExpiresAt != nil {
		// PostgreSQL keeps microseconds; cut there so both dialects store
		// and return the same instant.
		t := in.ExpiresAt.UTC().Truncate(time.Microsecond)
		switch {
		case !t.After(now):
			v.Add("expires_at", "Choose an expiry in the future.")
		case t.After(now.AddDate(MaxKeyLifetimeYears, 0, 0)):
			v.Add("expires_at", "Choose an expiry at most two years from now.")
		}
		exp = &t
	}
	if err := v.Err(); err != nil {
		return "", nil, err
	}
	return name, exp, nil
}

// insertKey stores row with a fresh access key id from gen and secret sealed
// under it. The access_key column's unique index is what guarantees
// uniqueness; on the (astronomically unlikely) collision the insert is
// rolled back to a savepoint and retried with a new id.
func (s *Service) insertKey(tx *gorm.DB, row *accessKeyRow, secret string, gen func() string) error {
	const attempts = 5
	for range attempts {
		row.AccessKey = gen()
		row.SecretSealed = s.kr.Seal([]byte(secret), sealContext(row.AccessKey))
		err := tx.Transaction(func(tx *gorm.DB) error { return tx.Create(row).Error })
		if !errors.Is(err, gorm.ErrDuplicatedKey) {
			return err
		}
	}
	return fmt.Errorf("no unique access key id after %d attempts", attempts)
}

// sealContext binds a sealed secret to its access key id, so a ciphertext
// copied onto another key's row does not open.
func sealContext(accessKey string) string { return SealedAccessKeySecrets.Context(accessKey) }

// SealedAccessKeySecrets is where access keys' secrets are sealed.
var SealedAccessKeySecrets = keyring.Column{Table: "access_keys", Key: "id", Sealed: "secret_sealed", ContextFrom: "access_key", ContextPrefix: "access-key:"}

// SealKeySecret seals secret as the access_keys row of accessKey stores it.
// It is for bulk loaders (benchmarks) that insert keys without the service.
func SealKeySecret(kr *keyring.Keyring, accessKey, secret string) string {
	return kr.Seal([]byte(secret), sealContext(accessKey))
}

func keyAuditDetails(r *accessKeyRow) map[string]any {
	d := map[string]any{"access_key": r.AccessKey, "name": r.Name}
	if r.AppID != nil {
		d["app_id"] = *r.AppID
	}
	if r.ExpiresAt != nil {
		d["expires_at"] = r.ExpiresAt.Format(time.RFC3339)
	}
	return d
}

func publicKeys(rows []accessKeyRow, now time.Time) []AccessKey {
	out := make([]AccessKey, len(rows))
	for i := range rows {
		out[i] = rows[i].public(now)
	}
	return out
}

// newAccessKeyID returns prefix followed by random base32 characters.
func newAccessKeyID(prefix string) string {
	return prefix + randomString(accessKeyAlphabet, accessKeyIDLen)
}

// newSecretKey returns a random secret key.
func newSecretKey() string { return randomString(secretKeyAlphabet, secretKeyLen) }

// validAccessKeyID reports whether s has the shape of an access key id.
func validAccessKeyID(s string) bool {
	if len(s) != len(AppKeyPrefix)+accessKeyIDLen || (!strings.HasPrefix(s, AppKeyPrefix) && !strings.HasPrefix(s, UserKeyPrefix)) {
		return false
	}
	for i := len(AppKeyPrefix); i < len(s); i++ {
		if !strings.ContainsRune(accessKeyAlphabet, rune(s[i])) {
			return false
		}
	}
	return true
}

// randomString returns n characters drawn uniformly from alphabet (at most
// 256 characters) with crypto/rand. Bytes at or above the largest multiple
// of len(alphabet) are rejected, so no character is likelier than another
// (plain modulo would favour the first 256 % len characters).
func randomString(alphabet string, n int) string {
	limit := 256 - 256%len(alphabet)
	out := make([]byte, 0, n)
	buf := make([]byte, n+n/2+8)
	for len(out) < n {
		if _, err := rand.Read(buf); err != nil {
			panic(fmt.Sprintf("crypto/rand: %v", err))
		}
		for _, b := range buf {
			if int(b) >= limit {
				continue
			}
			out = append(out, alphabet[int(b)%len(alphabet)])
			if len(out) == n {
				break
			}
		}
	}
	return string(out)
}
