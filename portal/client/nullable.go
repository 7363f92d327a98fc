package client

import (
	"bytes"
	"encoding/json"
)

// Nullable is a patch field with three states: unset (left alone and not
// sent), null (cleared) and a value. Tag it `json:",omitzero"` so the unset
// state is left out.
type Nullable[T any] struct {
	// Set says the field is sent; Value nil then sends null.
	Set   bool
	Value *T
}

// Some returns a Nullable that sets the field to v.
func Some[T any](v T) Nullable[T] { return Nullable[T]{Set: true, Value: &v} }

// Null returns a Nullable that clears the field.
func Null[T any]() Nullable[T] { return Nullable[T]{Set: true} }

// IsZero reports whether the field is unset, for omitzero.
func (n Nullable[T]) IsZero() bool { return !n.Set }

// MarshalJSON writes the value or null.
func (n Nullable[T]) MarshalJSON() ([]byte, error) { return json.Marshal(n.Value) }

// UnmarshalJSON reads a value or null; it runs only when the field is
// present, which marks it set.
func (n *Nullable[T]) UnmarshalJSON(b []byte) error {
	n.Set = true
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		n.Value = nil
		return nil
	}
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	n.Value = &v
	return nil
}
