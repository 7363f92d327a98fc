// Package manifest is porticoctl's declarative format: one YAML file
// describes an API with its versions and plans (docs/porticoctl.md has the
// format), and Apply makes the server match it.
//
// Apply is idempotent. It reads the current state through the management
// API (Fetch), computes the differences as an ordered Plan of steps with a
// pure function (Diff), and performs them (Execute): API → versions →
// deployments → lifecycle → plans. Applying the same file again finds
// nothing to do and changes nothing: OpenAPI documents are compared as JSON
// values, not bytes, and an environment is deployed only when it has no
// deployment or the server reports pending changes for it. Export writes
// the server's state in the same format, so that exporting and applying
// against the same server is a no-op.
//
// Apply never deletes: versions and plans the file does not mention, and
// fields it leaves out, are left as they are.
package manifest
