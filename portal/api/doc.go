// Package api is the management REST API under /api/v1: JSON in and out,
// authenticated by personal access tokens (Authorization: Bearer pat_…),
// errors as RFC 9457 problem+json, cursor pagination on every list. The
// OpenAPI document in openapi.yaml describes every route and is kept true by
// tests that validate each response against it.
package api
