package layout

import "strings"

// FullTitle is the document title for a page title: "Members · Portico",
// or "Portico" alone when title is "".
func FullTitle(title string) string {
	title = strings.TrimSpace(title)
	if title == "" {
		return "Portico"
	}
	return title + " · Portico"
}

// WithTitle returns a copy of p whose Title is title when p has none, so a
// page can supply a default while handlers may still override it.
func (p Page) WithTitle(title string) Page {
	if strings.TrimSpace(p.Title) == "" {
		p.Title = title
	}
	return p
}

// ConsoleURL is where "Go to the console" leads a signed-in user: the
// current organisation, else the first one they belong to, else their
// account page.
func (p Page) ConsoleURL() string {
	switch {
	case p.Org != nil:
		return OrgURL(p.Org.Slug)
	case len(p.Orgs) > 0:
		return OrgURL(p.Orgs[0].Slug)
	}
	return "/account"
}

// OrgURL is the path of an organisation's dashboard, or of one of its pages
// when sub is given: OrgURL("acme", "members") is "/orgs/acme/members".
func OrgURL(slug string, sub ...string) string {
	u := "/orgs/" + slug
	for _, s := range sub {
		u += "/" + s
	}
	return u
}

// showAudit reports whether the organisation navigation links to the audit
// log: only owners and admins may read it. An unknown (empty) role shows
// the link and leaves the decision to the handler.
func showAudit(o *Org) bool {
	return o.Role == "" || o.Role == "owner" || o.Role == "admin"
}

// userLabel is how the header names the signed-in user.
func userLabel(u *User) string {
	if strings.TrimSpace(u.Name) != "" {
		return u.Name
	}
	return u.Email
}
