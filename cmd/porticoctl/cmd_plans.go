package main

import (
	"context"
	"flag"
	"fmt"
	"strconv"
	"strings"

	"github.com/portico-dev/portico/portal/client"
)

// optInt is a number flag that also takes "none" (JSON null).
type optInt struct {
	set  bool
	none bool
	v    int64
}

// String implements flag.Value.
func (o *optInt) String() string {
	switch {
	case !o.set:
		return ""
	case o.none:
		return "none"
	}
	return strconv.FormatInt(o.v, 10)
}

// Set implements flag.Value.
func (o *optInt) Set(s string) error {
	o.set = true
	if s == "none" || s == "null" {
		o.none = true
		return nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return fmt.Errorf("%q is not a whole number or none", s)
	}
	o.v, o.none = n, false
	return nil
}

func (o *optInt) ptr() *int64 {
	if !o.set || o.none {
		return nil
	}
	v := o.v
	return &v
}

func (o *optInt) nullable() client.Nullable[int64] {
	if !o.set {
		return client.Nullable[int64]{}
	}
	return client.Nullable[int64]{Set: true, Value: o.ptr()}
}

// planFlags declares the terms flags of plans create and update.
type planFlags struct {
	fs                              *flag.FlagSet
	name, description, currency     *string
	approval, versions              *string
	price, calls                    *int64
	trial                           *int
	overage, rps, burst, day, month *optInt
}

func newPlanFlags(fs *flag.FlagSet) *planFlags {
	f := &planFlags{fs: fs,
		name:        fs.String("name", "", "display name"),
		description: fs.String("description", "", "what the plan is for"),
		currency:    fs.String("currency", "usd", "ISO 4217 currency code"),
		approval:    fs.String("approval", "auto", "auto or manual approval of subscriptions"),
		versions:    fs.String("versions", "", "comma-separated versions the plan grants (create: default all)"),
		price:       fs.Int64("price-cents", 0, "monthly price in cents (0 = free)"),
		calls:       fs.Int64("included-calls", 0, "calls a month the price includes"),
		trial:       fs.Int("trial-days", 0, "free trial days for paid plans"),
		overage:     &optInt{}, rps: &optInt{}, burst: &optInt{}, day: &optInt{}, month: &optInt{},
	}
	fs.Var(f.overage, "overage-cents-per-1000", "price of 1000 calls beyond the included ones, or none for a hard limit")
	fs.Var(f.rps, "rps", "rate limit in requests per second, or none")
	fs.Var(f.burst, "burst", "rate limit burst (default: the rate)")
	fs.Var(f.day, "quota-day", "calls a day, or none")
	fs.Var(f.month, "quota-month", "calls a month, or none")
	return f
}

func (f *planFlags) rateLimit() *client.RateLimit {
	if f.rps.ptr() == nil {
		return nil
	}
	rl := &client.RateLimit{RequestsPerSecond: int(f.rps.v)}
	if b := f.burst.ptr(); b != nil {
		rl.Burst = int(*b)
	}
	return rl
}

func (f *planFlags) create(cmd *command, slug string) (client.PlanRequest, error) {
	if *f.name == "" {
		return client.PlanRequest{}, usagef(cmd, "--name is required")
	}
	if f.burst.set && !f.rps.set {
		return client.PlanRequest{}, usagef(cmd, "--burst needs --rps")
	}
	req := client.PlanRequest{Slug: slug, Name: *f.name, Description: *f.description, PriceCents: *f.price, Currency: *f.currency,
		IncludedCalls: *f.calls, OverageCentsPer1000: f.overage.ptr(), RateLimit: f.rateLimit(),
		Quota: client.Quota{Day: f.day.ptr(), Month: f.month.ptr()}, Approval: client.Approval(*f.approval),
		Versions: splitList(*f.versions), TrialDays: *f.trial}
	return req, nil
}

func (f *planFlags) patch(cmd *command) (client.PlanPatch, error) {
	set := setFlags(f.fs)
	var p client.PlanPatch
	if set["name"] {
		p.Name = f.name
	}
	if set["description"] {
		p.Description = f.description
	}
	if set["price-cents"] {
		p.PriceCents = f.price
	}
	if set["currency"] {
		p.Currency = f.currency
	}
	if set["included-calls"] {
		p.IncludedCalls = f.calls
	}
	p.OverageCentsPer1000 = f.overage.nullable()
	switch {
	case f.burst.set && !f.rps.set:
		return p, usagef(cmd, "--burst needs --rps (the rate limit is replaced whole)")
	case f.rps.set:
		p.RateLimit = client.Nullable[client.RateLimit]{Set: true, Value: f.rateLimit()}
	}
	if f.day.set || f.month.set {
		p.Quota = &client.QuotaPatch{Day: f.day.nullable(), Month: f.month.nullable()}
	}
	if set["approval"] {
		a := client.Approval(*f.approval)
		p.Approval = &a
	}
	if set["versions"] {
		vs := splitList(*f.versions)
		p.Versions = &vs
	}
	if set["trial-days"] {
		p.TrialDays = f.trial
	}
	return p, nil
}

func price(p *client.Plan) string {
	if p.PriceCents == 0 {
		return "free"
	}
	return fmt.Sprintf("%d.%02d %s", p.PriceCents/100, p.PriceCents%100, strings.ToUpper(p.Currency))
}

func rate(p *client.Plan) string {
	if p.RateLimit == nil {
		return "-"
	}
	return fmt.Sprintf("%d/s (burst %d)", p.RateLimit.RequestsPerSecond, p.RateLimit.Burst)
}

func quota(p *client.Plan) string {
	var parts []string
	if p.Quota.Day != nil {
		parts = append(parts, fmt.Sprintf("%d/day", *p.Quota.Day))
	}
	if p.Quota.Month != nil {
		parts = append(parts, fmt.Sprintf("%d/month", *p.Quota.Month))
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, ", ")
}

func overage(p *client.Plan) string {
	if p.OverageCentsPer1000 == nil {
		return "hard limit"
	}
	return fmt.Sprintf("%d¢ per 1000", *p.OverageCentsPer1000)
}

func plansListCmd(a *app, cmd *command, fs *flag.FlagSet) runner {
	return func(ctx context.Context, args []string) error {
		if err := need(cmd, args, "<api>"); err != nil {
			return err
		}
		org, err := a.orgSlug(ctx)
		if err != nil {
			return err
		}
		c := a.client()
		plans, err := client.Collect(ctx, func(ctx context.Context, o client.ListOptions) (*client.Page[client.Plan], error) {
			o.Limit = 100
			return c.ListPlans(ctx, org, args[0], o)
		})
		if err != nil {
			return err
		}
		return a.output(plans, func() {
			rows := [][]string{}
			for i := range plans {
				p := &plans[i]
				rows = append(rows, []string{p.Slug, strconv.Itoa(p.Revision), string(p.State), p.Name, price(p),
					strconv.FormatInt(p.IncludedCalls, 10), overage(p), rate(p), quota(p), strings.Join(p.Versions, ",")})
			}
			a.table([]string{"slug", "rev", "state", "name", "price", "included", "overage", "rate limit", "quota", "versions"}, rows)
		})
	}
}

func (a *app) showPlan(p *client.Plan) {
	a.fields([][2]string{
		{"slug", p.Slug}, {"revision", strconv.Itoa(p.Revision)}, {"state", string(p.State)}, {"name", p.Name},
		{"description", p.Description}, {"price", price(p) + " a month"}, {"included calls", strconv.FormatInt(p.IncludedCalls, 10)},
		{"overage", overage(p)}, {"rate limit", rate(p)}, {"quota", quota(p)}, {"approval", string(p.Approval)},
		{"versions", strings.Join(p.Versions, ", ")}, {"trial days", strconv.Itoa(p.TrialDays)}, {"published", dayPtr(p.PublishedAt, "-")},
	})
}

func plansGetCmd(a *app, cmd *command, fs *flag.FlagSet) runner {
	return func(ctx context.Context, args []string) error {
		if err := need(cmd, args, "<api>", "<plan>"); err != nil {
			return err
		}
		org, err := a.orgSlug(ctx)
		if err != nil {
			return err
		}
		p, err := a.client().GetPlan(ctx, org, args[0], args[1])
		if err != nil {
			return err
		}
		return a.output(p, func() { a.showPlan(p) })
	}
}

func plansCreateCmd(a *app, cmd *command, fs *flag.FlagSet) runner {
	pf := newPlanFlags(fs)
	return func(ctx context.Context, args []string) error {
		if err := need(cmd, args, "<api>", "<slug>"); err != nil {
			return err
		}
		req, err := pf.create(cmd, args[1])
		if err != nil {
			return err
		}
		org, err := a.orgSlug(ctx)
		if err != nil {
			return err
		}
		c := a.client()
		if len(req.Versions) == 0 {
			vs, err := c.ListVersions(ctx, org, args[0])
			if err != nil {
				return err
			}
			for _, v := range vs {
				if v.State != client.VersionOffline {
					req.Versions = append(req.Versions, v.Version)
				}
			}
		}
		p, err := c.CreatePlan(ctx, org, args[0], req)
		if err != nil {
			return err
		}
		return a.output(p, func() {
			fmt.Fprintf(a.stdout, "Created plan %s as a draft; put it on sale with 'porticoctl plans publish %s %s'.\n", p.Slug, args[0], p.Slug)
		})
	}
}

func plansUpdateCmd(a *app, cmd *command, fs *flag.FlagSet) runner {
	pf := newPlanFlags(fs)
	return func(ctx context.Context, args []string) error {
		if err := need(cmd, args, "<api>", "<plan>"); err != nil {
			return err
		}
		patch, err := pf.patch(cmd)
		if err != nil {
			return err
		}
		if b, _ := jsonBytes(patch); string(b) == "{}" {
			return usagef(cmd, "nothing to change: give at least one terms flag, like --price-cents")
		}
		org, err := a.orgSlug(ctx)
		if err != nil {
			return err
		}
		p, err := a.client().UpdatePlan(ctx, org, args[0], args[1], patch)
		if err != nil {
			return err
		}
		return a.output(p, func() {
			fmt.Fprintf(a.stdout, "Plan %s is at revision %d (%s).", p.Slug, p.Revision, p.State)
			if p.State == client.PlanDraft && p.SupersedesID != nil {
				fmt.Fprintf(a.stdout, " The published revision stays on sale until you publish this one.")
			}
			fmt.Fprintln(a.stdout)
		})
	}
}

func planActionCmd(action string) func(a *app, cmd *command, fs *flag.FlagSet) runner {
	return func(a *app, cmd *command, fs *flag.FlagSet) runner {
		return func(ctx context.Context, args []string) error {
			if err := need(cmd, args, "<api>", "<plan>"); err != nil {
				return err
			}
			org, err := a.orgSlug(ctx)
			if err != nil {
				return err
			}
			c := a.client()
			do := map[string]func(context.Context, string, string, string) (*client.Plan, error){
				"publish": c.PublishPlan, "deprecate": c.DeprecatePlan, "close": c.ClosePlan,
			}[action]
			p, err := do(ctx, org, args[0], args[1])
			if err != nil {
				return err
			}
			return a.output(p, func() { fmt.Fprintf(a.stdout, "Plan %s revision %d is %s.\n", p.Slug, p.Revision, p.State) })
		}
	}
}

func marketSearchCmd(a *app, cmd *command, fs *flag.FlagSet) runner {
	category := fs.String("category", "", "only this category")
	sort := fs.String("sort", "", "name or newest")
	limit := fs.Int("limit", 20, "results per page (1–100)")
	cursor := fs.String("cursor", "", "next page, from the previous answer")
	return func(ctx context.Context, args []string) error {
		if len(args) > 1 {
			return usagef(cmd, "give the search words as one argument, in quotes")
		}
		if *sort != "" && *sort != "name" && *sort != "newest" {
			return usagef(cmd, "--sort %s: use name or newest", *sort)
		}
		if *limit < 1 || *limit > 100 {
			return usagef(cmd, "--limit %d: use 1 to 100", *limit)
		}
		q := client.MarketQuery{Category: *category, Sort: *sort, ListOptions: client.ListOptions{Cursor: *cursor, Limit: *limit}}
		if len(args) == 1 {
			q.Q = args[0]
		}
		page, err := a.client().SearchMarket(ctx, q)
		if err != nil {
			return err
		}
		return a.output(page, func() {
			rows := [][]string{}
			for _, x := range page.Items {
				rows = append(rows, []string{x.Org.Slug + "/" + x.Slug, x.Name, x.Category, strings.Join(x.Versions, ","), x.Summary})
			}
			a.table([]string{"api", "name", "category", "versions", "summary"}, rows)
			if page.NextCursor != "" {
				fmt.Fprintf(a.stdout, "\nMore: --cursor %s\n", page.NextCursor)
			}
		})
	}
}
