// Package testenv decides what a test does when a real service it needs
// (PostgreSQL, Redis, Chromium) is missing: skip it on a developer's
// machine, fail it under PORTICO_TEST_STRICT=1, where CI must run
// everything. It depends on nothing, so low-level packages' tests can use
// it without linking a database driver.
package testenv

import (
	"os"
	"testing"
)

// Need skips the test when ok is false — or, under PORTICO_TEST_STRICT=1,
// fails it. what says what is missing and how to provide it.
func Need(t testing.TB, ok bool, what string) {
	t.Helper()
	if ok {
		return
	}
	if os.Getenv("PORTICO_TEST_STRICT") == "1" {
		t.Fatal("PORTICO_TEST_STRICT=1 but " + what)
	}
	t.Skip(what)
}

// Env returns the environment variable name, which the test Needs.
func Env(t testing.TB, name string) string {
	t.Helper()
	v := os.Getenv(name)
	Need(t, v != "", name+" is not set")
	return v
}
