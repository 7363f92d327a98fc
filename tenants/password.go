package tenants

import (
	"github.com/alexedwards/argon2id"
)

// PasswordParams tunes argon2id.
type PasswordParams = argon2id.Params

// DefaultPasswordParams follow RFC 9106's second recommended option, scaled
// to a memory cost a small server can afford for concurrent logins.
var DefaultPasswordParams = argon2id.Params{Memory: 64 * 1024, Iterations: 3, Parallelism: 2, SaltLength: 16, KeyLength: 32}

// FastPasswordParams are for tests only: same algorithm, tiny cost.
var FastPasswordParams = argon2id.Params{Memory: 1024, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}

func hashPassword(pw string, p PasswordParams) (string, error) {
	return argon2id.CreateHash(pw, &p)
}

func checkPassword(pw, hash string) bool {
	ok, err := argon2id.ComparePasswordAndHash(pw, hash)
	return err == nil && ok
}

// MinPasswordLength is the shortest password accepted. Length beats
// composition rules (NIST SP 800-63B).
const MinPasswordLength = 10

func validatePassword(v Validation, field, pw string) {
	switch {
	case len(pw) < MinPasswordLength:
		v.Add(field, "Use at least 10 characters.")
	case len(pw) > 512:
		v.Add(field, "Use at most 512 characters.")
	}
}
