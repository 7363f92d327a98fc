// Package portal is Portico's control plane over HTTP: it composes the web
// console (portal/web), the management API (portal/api), health checks and
// static assets into one handler with the shared middleware (request ids,
// security headers, body limits, access logs).
package portal
