// Package catalog is the provider's side of the control plane: APIs, their
// versions (each with an OpenAPI document, operations, an upstream or a mock
// backend and backend signing keys), the version lifecycle state machine, and
// the immutable revisions published to each environment.
//
// A revision's snapshot holds everything the gateway needs for one version in
// one environment, so the gateway's configuration can be compiled from the
// live revisions alone; editing a version's draft changes nothing live until
// it is deployed again.
package catalog
