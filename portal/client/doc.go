// Package client is the Go client of Portico's management REST API
// (/api/v1): organisations, members, invitations, tokens, the catalog (APIs,
// versions, operations, deployments, lifecycle, backend keys), plans, apps
// and their AK/SK keys, management API keys, subscriptions (as a partner),
// subscribers and approvals (as a provider), and the public market.
//
// Create a client with New and an authentication option, then call the
// typed methods; every method takes a context first:
//
//	c := client.New("https://portico.example.com", client.WithToken(pat))
//	apis, err := c.ListAPIs(ctx, "acme", client.ListOptions{})
//
// Authentication is a round-tripper hook. WithToken sends a personal access
// token; WithAccessKey signs every request with a user AK/SK key pair (PU…)
// using AWS Signature Version 4, through gateway/sigv4's Signer, the same
// code the server verifies signatures with:
//
//	c := client.New("https://portico.example.com", client.WithAccessKey(ak, sk, "local"))
//
// Other signers and logging plug in through WithRoundTripper without
// changing any method. Besides the standard library the client imports
// only gateway/sigv4.
//
// Failed calls return a *Error carrying the RFC 9457 problem the server sent:
// status, problem type, detail and the per-field messages (and, for a
// rejected signature, the server's canonical request, expected scope or
// clock). Lists come back one page at a time as a *Page; All and Collect
// walk every page.
package client
