package main

import (
	"context"
	"flag"
	"fmt"
	"strconv"
	"strings"

	"github.com/portico-dev/portico/portal/client"
)

func checkStatus(cmd *command, s string) error {
	if s == "" {
		return nil
	}
	var names []string
	for _, x := range client.SubscriptionStatuses {
		if string(x) == s {
			return nil
		}
		names = append(names, string(x))
	}
	return usagef(cmd, "--status %s: use one of %s", s, strings.Join(names, ", "))
}

func statusFlag(fs *flag.FlagSet) *string {
	return fs.String("status", "", "only this status: pending_approval, pending_payment, active, suspended, rejected, cancelled, terminated or ended")
}

// apiName is provider/api, as the market names an API.
func apiName(s *client.Subscription) string {
	return s.ProviderOrgSlug + "/" + s.APISlug
}

// planName is the plan's slug, with a downgrade waiting for the end of the
// period after an arrow.
func planName(s *client.Subscription) string {
	p := s.Plan.Slug
	if s.NextPlan != nil {
		p += " → " + s.NextPlan.Slug
	}
	return p
}

// partnerName is the partner organisation's slug, or its name.
func partnerName(s *client.Subscription) string {
	if s.PartnerOrgSlug != "" {
		return s.PartnerOrgSlug
	}
	return s.PartnerOrgName
}

func appName(s *client.Subscription) string {
	if s.AppName != "" {
		return s.AppName
	}
	return s.AppID
}

func (a *app) showSubscription(s *client.Subscription) {
	pairs := [][2]string{
		{"id", s.ID}, {"status", string(s.Status)},
	}
	if s.Notice != "" {
		pairs = append(pairs, [2]string{"notice", s.Notice})
	}
	pairs = append(pairs, [][2]string{
		{"partner", partnerName(s)}, {"app", appName(s) + " (" + s.AppID + ")"},
		{"api", apiName(s)}, {"version", s.Version}, {"plan", fmt.Sprintf("%s (revision %d, %s)", s.Plan.Slug, s.Plan.Revision, price(&s.Plan))},
	}...)
	if s.NextPlan != nil {
		pairs = append(pairs, [2]string{"next plan", s.NextPlan.Slug + " from " + day(s.PeriodEnd)})
	}
	pairs = append(pairs, [2]string{"period", day(s.PeriodStart) + " to " + day(s.PeriodEnd)})
	if s.CancelAtPeriodEnd {
		pairs = append(pairs, [2]string{"cancelled", "ends " + day(s.PeriodEnd)})
	}
	if s.Message != "" {
		pairs = append(pairs, [2]string{"message", s.Message})
	}
	if s.Reason != "" {
		pairs = append(pairs, [2]string{"reason", s.Reason})
	}
	pairs = append(pairs, [2]string{"created", day(s.CreatedAt)})
	if s.EndedAt != nil {
		pairs = append(pairs, [2]string{"ended", day(*s.EndedAt)})
	}
	a.fields(pairs)
}

func subscriptionsListCmd(a *app, cmd *command, fs *flag.FlagSet) runner {
	appF := fs.String("app", "", "only this app's subscriptions (its id or name)")
	status := statusFlag(fs)
	return func(ctx context.Context, args []string) error {
		if err := need(cmd, args); err != nil {
			return err
		}
		if err := checkStatus(cmd, *status); err != nil {
			return err
		}
		org, err := a.orgSlug(ctx)
		if err != nil {
			return err
		}
		q := client.SubscriptionQuery{Status: client.SubscriptionStatus(*status)}
		if *appF != "" {
			if q.App, err = a.appID(ctx, org, *appF); err != nil {
				return err
			}
		}
		list := a.client().ListSubscriptionsAll(org, q)
		subs, err := client.Collect(ctx, func(ctx context.Context, o client.ListOptions) (*client.Page[client.Subscription], error) {
			o.Limit = 100
			return list(ctx, o)
		})
		if err != nil {
			return err
		}
		return a.output(subs, func() {
			rows := [][]string{}
			for i := range subs {
				s := &subs[i]
				rows = append(rows, []string{s.ID, appName(s), apiName(s), s.Version, planName(s), string(s.Status), day(s.PeriodEnd)})
			}
			a.table([]string{"id", "app", "api", "version", "plan", "status", "period end"}, rows)
		})
	}
}

func subscriptionsGetCmd(a *app, cmd *command, fs *flag.FlagSet) runner {
	return func(ctx context.Context, args []string) error {
		if err := need(cmd, args, "<id>"); err != nil {
			return err
		}
		org, err := a.orgSlug(ctx)
		if err != nil {
			return err
		}
		s, err := a.client().GetSubscription(ctx, org, args[0])
		if err != nil {
			return err
		}
		return a.output(s, func() { a.showSubscription(s) })
	}
}

func subscriptionsCreateCmd(a *app, cmd *command, fs *flag.FlagSet) runner {
	appF := fs.String("app", "", "the app that will call the API: its id or name (required)")
	api := fs.String("api", "", "the API as the market names it: provider/api (required)")
	version := fs.String("version", "", "the API version, like v1 (required)")
	plan := fs.String("plan", "", "the plan's slug (required)")
	message := fs.String("message", "", "a note to the provider, for plans they approve by hand")
	return func(ctx context.Context, args []string) error {
		if err := need(cmd, args); err != nil {
			return err
		}
		for _, f := range []struct{ name, v string }{{"app", *appF}, {"api", *api}, {"version", *version}, {"plan", *plan}} {
			if f.v == "" {
				return usagef(cmd, "--%s is required", f.name)
			}
		}
		if p, x, ok := strings.Cut(*api, "/"); !ok || p == "" || x == "" || strings.Contains(x, "/") {
			return usagef(cmd, "--api %s: name the API as provider/api, as 'market search' shows it", *api)
		}
		org, err := a.orgSlug(ctx)
		if err != nil {
			return err
		}
		id, err := a.appID(ctx, org, *appF)
		if err != nil {
			return err
		}
		s, err := a.client().Subscribe(ctx, org, client.SubscribeRequest{App: id, API: *api, Version: *version, Plan: *plan, Message: *message})
		if err != nil {
			return err
		}
		return a.output(s, func() {
			fmt.Fprintf(a.stdout, "Subscribed %s to %s %s on plan %s: %s (subscription %s).\n", appName(s), apiName(s), s.Version, s.Plan.Slug, s.Status, s.ID)
			if s.Notice != "" {
				fmt.Fprintln(a.stdout, s.Notice)
			}
		})
	}
}

func subscriptionsChangePlanCmd(a *app, cmd *command, fs *flag.FlagSet) runner {
	return func(ctx context.Context, args []string) error {
		if err := need(cmd, args, "<id>", "<plan>"); err != nil {
			return err
		}
		org, err := a.orgSlug(ctx)
		if err != nil {
			return err
		}
		s, err := a.client().ChangeSubscriptionPlan(ctx, org, args[0], args[1])
		if err != nil {
			return err
		}
		return a.output(s, func() {
			if s.NextPlan != nil {
				fmt.Fprintf(a.stdout, "Subscription %s moves from plan %s to %s on %s, at the end of the period; the app and its keys stay.\n", s.ID, s.Plan.Slug, s.NextPlan.Slug, day(s.PeriodEnd))
				return
			}
			fmt.Fprintf(a.stdout, "Subscription %s is on plan %s now (%s); the app and its keys stay.\n", s.ID, s.Plan.Slug, s.Status)
		})
	}
}

func subscriptionsCancelCmd(a *app, cmd *command, fs *flag.FlagSet) runner {
	return func(ctx context.Context, args []string) error {
		if err := need(cmd, args, "<id>"); err != nil {
			return err
		}
		org, err := a.orgSlug(ctx)
		if err != nil {
			return err
		}
		s, err := a.client().CancelSubscription(ctx, org, args[0])
		if err != nil {
			return err
		}
		return a.output(s, func() {
			if s.CancelAtPeriodEnd {
				fmt.Fprintf(a.stdout, "Subscription %s ends on %s, at the end of the paid period.\n", s.ID, day(s.PeriodEnd))
				return
			}
			fmt.Fprintf(a.stdout, "Subscription %s is %s.\n", s.ID, s.Status)
		})
	}
}

func subscriptionsHistoryCmd(a *app, cmd *command, fs *flag.FlagSet) runner {
	return func(ctx context.Context, args []string) error {
		if err := need(cmd, args, "<id>"); err != nil {
			return err
		}
		org, err := a.orgSlug(ctx)
		if err != nil {
			return err
		}
		evs, err := a.client().SubscriptionHistory(ctx, org, args[0])
		if err != nil {
			return err
		}
		return a.output(evs, func() {
			rows := [][]string{}
			for _, e := range evs {
				status := string(e.ToStatus)
				if e.FromStatus != "" && e.FromStatus != e.ToStatus {
					status = string(e.FromStatus) + " → " + status
				}
				by := e.By
				if e.ActorEmail != "" {
					by += " (" + e.ActorEmail + ")"
				}
				rows = append(rows, []string{e.CreatedAt.UTC().Format("2006-01-02 15:04"), e.Kind, status, by, e.Note})
			}
			a.table([]string{"when (utc)", "event", "status", "by", "note"}, rows)
		})
	}
}

// errorRate is errors as a share of calls, like 12.5%, or - without calls.
func errorRate(errs, calls int64) string {
	if calls == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", float64(errs)*100/float64(calls))
}

func subscriptionsUsageCmd(a *app, cmd *command, fs *flag.FlagSet) runner {
	from := fs.String("from", "", "start: a date (2026-11-01, from the start of that UTC day) or an RFC 3339 time (default 30 days ago)")
	to := fs.String("to", "", "end: a date (that whole UTC day included) or an RFC 3339 time (excluded) (default now)")
	return func(ctx context.Context, args []string) error {
		if err := need(cmd, args, "<id>"); err != nil {
			return err
		}
		org, err := a.orgSlug(ctx)
		if err != nil {
			return err
		}
		u, err := a.client().SubscriptionUsage(ctx, org, args[0], client.UsageQuery{From: *from, To: *to})
		if err != nil {
			return err
		}
		return a.output(u, func() {
			start, end := *from, *to
			if start == "" {
				start = "30 days ago"
			}
			if end == "" {
				end = "now"
			}
			a.fields([][2]string{
				{"subscription", args[0]}, {"period", start + " to " + end},
				{"calls", strconv.FormatInt(u.Calls, 10)}, {"billable", strconv.FormatInt(u.Billable, 10)},
				{"errors", strconv.FormatInt(u.Errors, 10)}, {"error rate", errorRate(u.Errors, u.Calls)},
			})
			fmt.Fprintln(a.stdout)
			if len(u.ByDay) == 0 {
				fmt.Fprintln(a.stdout, "No calls in this period.")
				return
			}
			rows := [][]string{}
			for _, d := range u.ByDay {
				rows = append(rows, []string{d.Day, strconv.FormatInt(d.Calls, 10), strconv.FormatInt(d.Billable, 10),
					strconv.FormatInt(d.Errors, 10), errorRate(d.Errors, d.Calls)})
			}
			a.table([]string{"day (utc)", "calls", "billable", "errors", "error rate"}, rows)
		})
	}
}

// subscriberAPI returns the API a subscriber subscribes to: --api, else the
// one of the organisation's APIs that has the subscription.
func (a *app) subscriberAPI(ctx context.Context, org, api, id string) (string, error) {
	if api != "" {
		return api, nil
	}
	c := a.client()
	apis, err := client.Collect(ctx, func(ctx context.Context, o client.ListOptions) (*client.Page[client.API], error) {
		o.Limit = 100
		return c.ListAPIs(ctx, org, o)
	})
	if err != nil {
		return "", fmt.Errorf("find the API of subscription %s: %w", id, err)
	}
	for _, x := range apis {
		_, err := c.GetSubscriber(ctx, org, x.Slug, id)
		if err == nil {
			return x.Slug, nil
		}
		if !client.IsNotFound(err) {
			return "", fmt.Errorf("find the API of subscription %s: %w", id, err)
		}
	}
	return "", fmt.Errorf("no API of %s has a subscription %s (list them with 'porticoctl subscribers list')", org, id)
}

func subscribersListCmd(a *app, cmd *command, fs *flag.FlagSet) runner {
	api := fs.String("api", "", "only this API's subscribers (default: every API of the organisation)")
	status := statusFlag(fs)
	plan := fs.String("plan", "", "only this plan's subscribers (its slug)")
	q := fs.String("q", "", "only partners whose name contains this")
	return func(ctx context.Context, args []string) error {
		if err := need(cmd, args); err != nil {
			return err
		}
		if err := checkStatus(cmd, *status); err != nil {
			return err
		}
		org, err := a.orgSlug(ctx)
		if err != nil {
			return err
		}
		c := a.client()
		apis := []string{*api}
		if *api == "" {
			all, err := client.Collect(ctx, func(ctx context.Context, o client.ListOptions) (*client.Page[client.API], error) {
				o.Limit = 100
				return c.ListAPIs(ctx, org, o)
			})
			if err != nil {
				return err
			}
			apis = apis[:0]
			for _, x := range all {
				apis = append(apis, x.Slug)
			}
		}
		subs := []client.Subscription{}
		for _, x := range apis {
			list := c.ListSubscribersAll(org, x, client.SubscriberQuery{Status: client.SubscriptionStatus(*status), Plan: *plan, Q: *q})
			got, err := client.Collect(ctx, func(ctx context.Context, o client.ListOptions) (*client.Page[client.Subscription], error) {
				o.Limit = 100
				return list(ctx, o)
			})
			if err != nil {
				return fmt.Errorf("subscribers of %s: %w", x, err)
			}
			subs = append(subs, got...)
		}
		return a.output(subs, func() {
			rows := [][]string{}
			for i := range subs {
				s := &subs[i]
				rows = append(rows, []string{s.ID, s.APISlug, partnerName(s), appName(s), s.Version, planName(s), string(s.Status), day(s.CreatedAt)})
			}
			a.table([]string{"id", "api", "partner", "app", "version", "plan", "status", "since"}, rows)
		})
	}
}

func subscriberAPIFlag(fs *flag.FlagSet) *string {
	return fs.String("api", "", "the API subscribed to (default: found among the organisation's APIs)")
}

func subscribersGetCmd(a *app, cmd *command, fs *flag.FlagSet) runner {
	api := subscriberAPIFlag(fs)
	return func(ctx context.Context, args []string) error {
		if err := need(cmd, args, "<id>"); err != nil {
			return err
		}
		org, err := a.orgSlug(ctx)
		if err != nil {
			return err
		}
		x, err := a.subscriberAPI(ctx, org, *api, args[0])
		if err != nil {
			return err
		}
		s, err := a.client().GetSubscriber(ctx, org, x, args[0])
		if err != nil {
			return err
		}
		return a.output(s, func() { a.showSubscription(s) })
	}
}

// subscriberActionCmd builds approve, reject, suspend, resume and
// terminate; the ones that tell the partner why need --reason.
func subscriberActionCmd(action string, needsReason bool) func(a *app, cmd *command, fs *flag.FlagSet) runner {
	return func(a *app, cmd *command, fs *flag.FlagSet) runner {
		api := subscriberAPIFlag(fs)
		var reason *string
		if needsReason {
			reason = fs.String("reason", "", "why, for the partner to read (required)")
		}
		return func(ctx context.Context, args []string) error {
			if err := need(cmd, args, "<id>"); err != nil {
				return err
			}
			if needsReason && strings.TrimSpace(*reason) == "" {
				return usagef(cmd, "--reason is required: the partner sees it")
			}
			org, err := a.orgSlug(ctx)
			if err != nil {
				return err
			}
			x, err := a.subscriberAPI(ctx, org, *api, args[0])
			if err != nil {
				return err
			}
			c := a.client()
			var s *client.Subscription
			switch action {
			case "approve":
				s, err = c.ApproveSubscriber(ctx, org, x, args[0])
			case "reject":
				s, err = c.RejectSubscriber(ctx, org, x, args[0], *reason)
			case "suspend":
				s, err = c.SuspendSubscriber(ctx, org, x, args[0], *reason)
			case "resume":
				s, err = c.ResumeSubscriber(ctx, org, x, args[0])
			case "terminate":
				s, err = c.TerminateSubscriber(ctx, org, x, args[0], *reason)
			default:
				panic("unknown subscriber action " + action)
			}
			if err != nil {
				return err
			}
			return a.output(s, func() {
				fmt.Fprintf(a.stdout, "Subscription %s of %s (app %s) to %s is %s.\n", s.ID, partnerName(s), appName(s), x, s.Status)
			})
		}
	}
}

func approvalsListCmd(a *app, cmd *command, fs *flag.FlagSet) runner {
	return func(ctx context.Context, args []string) error {
		if err := need(cmd, args); err != nil {
			return err
		}
		org, err := a.orgSlug(ctx)
		if err != nil {
			return err
		}
		c := a.client()
		subs, err := client.Collect(ctx, func(ctx context.Context, o client.ListOptions) (*client.Page[client.Subscription], error) {
			o.Limit = 100
			return c.ListApprovals(ctx, org, o)
		})
		if err != nil {
			return err
		}
		return a.output(subs, func() {
			if len(subs) == 0 {
				fmt.Fprintln(a.stdout, "No subscription requests are waiting for your approval.")
				return
			}
			rows := [][]string{}
			for i := range subs {
				s := &subs[i]
				rows = append(rows, []string{s.ID, s.APISlug, partnerName(s), appName(s), s.Version, s.Plan.Slug, day(s.CreatedAt), s.Message})
			}
			a.table([]string{"id", "api", "partner", "app", "version", "plan", "requested", "message"}, rows)
			fmt.Fprintln(a.stdout, "\nDecide with 'porticoctl subscribers approve <id>' or 'porticoctl subscribers reject <id> --reason TEXT'.")
		})
	}
}
