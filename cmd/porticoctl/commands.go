package main

// commands returns the command tree.
func commands() *command {
	root := &command{name: "porticoctl", summary: "porticoctl manages Portico through its management API.", sub: []*command{
		{name: "login", args: "[--email EMAIL] [--password-stdin | --token TOKEN | --access-key PU… [--secret-key-stdin] [--region R]]", summary: "Log in and store the server URL and a token (or an access key pair) in the config file.", setup: loginCmd},
		{name: "logout", args: "", summary: "Revoke the stored token (when login created it) and forget the credentials.", setup: logoutCmd},
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
		{name: "user-keys", summary: "Your AK/SK keys for the management API (PU…).", sub: []*command{
			{name: "list", summary: "List your keys (never their secrets).", setup: userKeysListCmd},
			{name: "create", args: "[--name NAME] [--expires DATE | --expires-in-days N]", summary: "Create a key pair; the secret key is shown once.", setup: userKeysCreateCmd},
			{name: "revoke", args: "<access-key>", summary: "Revoke one of your keys.", setup: userKeysRevokeCmd},
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
		{name: "subscribers", summary: "Subscriptions to the organisation's APIs, as a provider.", sub: []*command{
			{name: "list", args: "[--api API] [--status S] [--plan PLAN] [--q TEXT]", summary: "List subscribers.", setup: subscribersListCmd},
			{name: "get", args: "<id> [--api API]", summary: "Show a subscriber.", setup: subscribersGetCmd},
			{name: "approve", args: "<id> [--api API]", summary: "Approve a pending request.", setup: subscriberActionCmd("approve", false)},
			{name: "reject", args: "<id> --reason TEXT [--api API]", summary: "Reject a pending request.", setup: subscriberActionCmd("reject", true)},
			{name: "suspend", args: "<id> --reason TEXT [--api API]", summary: "Suspend a subscription (reversible).", setup: subscriberActionCmd("suspend", true)},
			{name: "resume", args: "<id> [--api API]", summary: "Lift a suspension.", setup: subscriberActionCmd("resume", false)},
			{name: "terminate", args: "<id> --reason TEXT [--api API]", summary: "End a subscription for good.", setup: subscriberActionCmd("terminate", true)},
		}},
		{name: "approvals", summary: "Subscription requests waiting for your decision, as a provider.", sub: []*command{
			{name: "list", summary: "List the requests, oldest first.", setup: approvalsListCmd},
		}},
		{name: "domains", summary: "The organisation's custom domains: host names the gateway routes to it, with their TLS certificates.", sub: []*command{
			{name: "list", summary: "List custom domains with their certificates' expiry.", setup: domainsListCmd},
			{name: "add", args: "<hostname> --cert CHAIN.pem --key KEY.pem", summary: "Add a custom domain with its certificate.", setup: domainsAddCmd},
			{name: "renew", args: "<domain> --cert CHAIN.pem --key KEY.pem", summary: "Replace a domain's certificate (by id or host name).", setup: domainsRenewCmd},
			{name: "delete", args: "<domain> --yes", summary: "Delete a custom domain (by id or host name).", setup: domainsDeleteCmd},
		}},
		{name: "apps", summary: "The organisation's apps, which call APIs as a partner.", sub: []*command{
			{name: "list", summary: "List apps.", setup: appsListCmd},
			{name: "get", args: "<app>", summary: "Show an app (by id or name).", setup: appsGetCmd},
			{name: "create", args: "--name NAME [--description TEXT] [--env test|production]", summary: "Create an app.", setup: appsCreateCmd},
			{name: "update", args: "<app> [--name NAME] [--description TEXT]", summary: "Rename or re-describe an app.", setup: appsUpdateCmd},
			{name: "delete", args: "<app> --yes", summary: "Delete an app, revoking its keys and cancelling its subscriptions.", setup: appsDeleteCmd},
		}},
		{name: "keys", summary: "An app's AK/SK keys (PK…), for calling APIs through the gateway.", sub: []*command{
			{name: "list", args: "--app APP", summary: "List the app's keys (never their secrets).", setup: keysListCmd},
			{name: "create", args: "--app APP [--name NAME] [--expires DATE | --expires-in-days N]", summary: "Create a key pair; the secret key is shown once.", setup: keysCreateCmd},
			{name: "revoke", args: "<access-key> --app APP", summary: "Revoke one of the app's keys.", setup: keysRevokeCmd},
		}},
		{name: "app-codes", summary: "An app's app codes (pac_…), for clients that cannot sign; weaker than keys.", sub: []*command{
			{name: "list", args: "--app APP", summary: "List the app's codes (never the codes themselves).", setup: appCodesListCmd},
			{name: "create", args: "--app APP [--name NAME]", summary: "Create an app code; it is shown once.", setup: appCodesCreateCmd},
			{name: "revoke", args: "<id> --app APP", summary: "Revoke one of the app's codes.", setup: appCodesRevokeCmd},
		}},
		{name: "subscriptions", summary: "The organisation's subscriptions to APIs, as a partner.", sub: []*command{
			{name: "list", args: "[--app APP] [--status S]", summary: "List subscriptions.", setup: subscriptionsListCmd},
			{name: "get", args: "<id>", summary: "Show a subscription.", setup: subscriptionsGetCmd},
			{name: "create", args: "--app APP --api PROVIDER/API --version V --plan PLAN [--message TEXT]", summary: "Subscribe an app to a plan.", setup: subscriptionsCreateCmd},
			{name: "change-plan", args: "<id> <plan>", summary: "Move to another plan, keeping the app and its keys.", setup: subscriptionsChangePlanCmd},
			{name: "cancel", args: "<id>", summary: "Cancel (free plans at once, paid ones at the end of the period).", setup: subscriptionsCancelCmd},
			{name: "history", args: "<id>", summary: "Show what happened to a subscription.", setup: subscriptionsHistoryCmd},
			{name: "usage", args: "<id> [--from DATE] [--to DATE]", summary: "Show a subscription's metered calls, in total and per day (as its partner or its provider).", setup: subscriptionsUsageCmd},
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
