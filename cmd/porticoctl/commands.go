package main

// commands returns the command tree.
func commands() *command {
	root := &command{name: "porticoctl", summary: "porticoctl manages Portico through its management API.", sub: []*command{
		{name: "login", args: "[--email EMAIL] [--password-stdin | --token TOKEN]", summary: "Log in and store the server URL and a token in the config file.", setup: loginCmd},
		{name: "logout", args: "", summary: "Revoke the stored token (when login created it) and forget it.", setup: logoutCmd},
		{name: "whoami", args: "", summary: "Show the logged-in user and their organisations.", setup: whoamiCmd},
		{name: "orgs", summary: "Organisations you belong to.", sub: []*command{
			{name: "list", summary: "List your organisations.", setup: orgsListCmd},
			{name: "create", args: "<slug> --name NAME", summary: "Create an organisation you own.", setup: orgsCreateCmd},
		}},
		{name: "members", summary: "Members of the organisation (--org).", sub: []*command{
			{name: "list", summary: "List members.", setup: membersListCmd},
			{name: "invite", args: "<email> [--role ROLE]", summary: "Invite someone by email (role default developer).", setup: membersInviteCmd},
			{name: "set-role", args: "<user-id|email> <role>", summary: "Change a member's role (owner, admin, developer, viewer, billing).", setup: membersSetRoleCmd},
			{name: "remove", args: "<user-id|email>", summary: "Remove a member (or leave, when it is you).", setup: membersRemoveCmd},
		}},
		{name: "tokens", summary: "Your personal access tokens.", sub: []*command{
			{name: "list", summary: "List your tokens (never their values).", setup: tokensListCmd},
			{name: "create", args: "[--name NAME] [--expires-in-days N] [--email EMAIL] [--password-stdin]", summary: "Create a token with your email and password; it is shown once.", setup: tokensCreateCmd},
			{name: "revoke", args: "<token-id>", summary: "Revoke a token.", setup: tokensRevokeCmd},
		}},
		{name: "apis", summary: "The organisation's APIs.", sub: []*command{
			{name: "list", summary: "List APIs.", setup: apisListCmd},
			{name: "get", args: "<api>", summary: "Show an API.", setup: apisGetCmd},
			{name: "create", args: "<slug> --name NAME [flags]", summary: "Create an API.", setup: apisCreateCmd},
			{name: "update", args: "<api> [flags]", summary: "Change an API's metadata (only the flags given).", setup: apisUpdateCmd},
		}},
		{name: "versions", summary: "Versions of an API, their deployments and lifecycle.", sub: []*command{
			{name: "list", args: "<api>", summary: "List an API's versions.", setup: versionsListCmd},
			{name: "get", args: "<api> <version>", summary: "Show a version with its environments and operations.", setup: versionsGetCmd},
			{name: "create", args: "<api> <version> [--openapi FILE] [--upstream URL | --mock] [flags]", summary: "Create a draft version.", setup: versionsCreateCmd},
			{name: "update", args: "<api> <version> [--openapi FILE] [--upstream URL | --mock] [flags]", summary: "Edit a version's draft (only the flags given).", setup: versionsUpdateCmd},
			{name: "deploy", args: "<api> <version> --env test|production [--note TEXT]", summary: "Deploy the draft to an environment.", setup: versionsDeployCmd},
			{name: "rollback", args: "<api> <version> --env test|production --revision N", summary: "Make an earlier revision live again.", setup: versionsRollbackCmd},
			{name: "deprecate", args: "<api> <version> --sunset DATE", summary: "Deprecate a published version.", setup: versionsDeprecateCmd},
			{name: "offline", args: "<api> <version> --yes", summary: "Take a version offline (final).", setup: versionsOfflineCmd},
		}},
		{name: "plans", summary: "Plans of an API.", sub: []*command{
			{name: "list", args: "<api>", summary: "List an API's plans (latest revisions).", setup: plansListCmd},
			{name: "get", args: "<api> <plan>", summary: "Show a plan's latest revision.", setup: plansGetCmd},
			{name: "create", args: "<api> <slug> --name NAME [flags]", summary: "Create a draft plan.", setup: plansCreateCmd},
			{name: "update", args: "<api> <plan> [flags]", summary: "Change a plan's terms (a published plan gets a new draft revision).", setup: plansUpdateCmd},
			{name: "publish", args: "<api> <plan>", summary: "Put the plan's draft on sale.", setup: planActionCmd("publish")},
			{name: "deprecate", args: "<api> <plan>", summary: "Stop new subscriptions to the plan.", setup: planActionCmd("deprecate")},
			{name: "close", args: "<api> <plan>", summary: "End the plan for good.", setup: planActionCmd("close")},
		}},
		{name: "market", summary: "The public API market.", sub: []*command{
			{name: "search", args: "[query] [--category C] [--sort name|newest]", summary: "Search the market.", setup: marketSearchCmd},
		}},
		{name: "apply", args: "-f FILE [--dry-run]", summary: "Make the server match an API manifest (see docs/porticoctl.md).", setup: applyCmd},
		{name: "export", args: "--api SLUG [--org SLUG] [-o FILE]", summary: "Write an API as a manifest that apply accepts.", ownOutput: true, setup: exportCmd},
	}}
	var link func(c *command)
	link = func(c *command) {
		for _, s := range c.sub {
			s.parent = c
			link(s)
		}
	}
	link(root)
	return root
}
