// Package tenants holds organisations, users, memberships and roles,
// invitations, personal access tokens, console sessions, partner apps with
// their AK/SK keys, users' management-API keys and the audit log:
// the accounts every other part of Portico is scoped by. It also defines the
// one error type (Error) whose Code the HTTP layers map to a status.
//
// Every method that touches an organisation's data takes the organisation id
// explicitly and filters by it; a row of another organisation is reported as
// not found, never as forbidden, so ids cannot be probed across tenants.
package tenants
