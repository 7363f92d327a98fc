// Package domains manages providers' custom domains: host names of their own
// (api.acme.com) that the gateway routes to the organisation, each with the
// certificate chain and private key the gateway's TLS listener serves for it
// (selected by SNI).
//
// A host name belongs to at most one organisation platform-wide; asking for
// one another tenant holds is a conflict that does not say who holds it.
// Certificates are checked when they are stored (the chain parses, the leaf
// covers the host name, the key matches the leaf, it has not expired); the
// private key is sealed with the master key and leaves the package only
// unsealed for the gateway's configuration (Live), never in a Domain value,
// an audit entry or a log line.
//
// Like the catalog, the service scopes every call by organisation id and
// leaves the permission check (who may manage the catalog) to its callers.
package domains
