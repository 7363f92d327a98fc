// Package web is the server-rendered console: gin handlers, one per action,
// that parse a form, call a tenants service and then render a templ page or
// redirect (303) with a flash message. Failed forms re-render with field
// messages and the values the person typed. Every state-changing request is
// CSRF-checked by gorilla/csrf.
package web
