// Package templates holds the console's templ components: layout/ (page
// frames), components/ (the design system's building blocks) and
// pages/<feature>/ (one typed props struct per page). Handlers build props
// and render; templates never reach into services.
package templates
