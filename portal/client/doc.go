// Package client is the Go client of Portico's management REST API
// (/api/v1): organisations, members, invitations, tokens, the catalog (APIs,
// versions, operations, deployments, lifecycle, backend keys), plans and the
// public market.
//
// Create a client with New and an authentication option, then call the
// typed methods; every method takes a context first:
//
//	c := client.New("https://portico.example.com", client.WithToken(pat))
//	apis, err := c.ListAPIs(ctx, "acme", client.ListOptions{})
//
// The client imports only the standard library. Authentication is a
// round-tripper hook (WithToken today); a request signer, such as the AK/SK
// SigV4 signer the gateway also accepts, plugs in the same way through
// WithRoundTripper without changing any method.
//
// Failed calls return a *Error carrying the RFC 9457 problem the server sent:
// status, problem type, detail and the per-field messages. Lists come back
// one page at a time as a *Page; All and Collect walk every page.
package client
