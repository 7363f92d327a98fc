package manifest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/portico-dev/portico/portal/client"
)

// Options tune Apply.
type Options struct {
	// DryRun computes and prints the plan without changing anything.
	DryRun bool
	// Out receives the plan and then one line per step as it runs; nil
	// prints nothing.
	Out io.Writer
	// Note is recorded on every deployment Apply makes; empty means
	// "porticoctl apply".
	Note string
}

// Apply makes the server match doc: it reads the current state, computes
// the plan, prints it to opts.Out and performs it in order. It returns the
// plan with each step's outcome. A second Apply of the same document
// returns an empty plan and changes nothing.
//
// A step that fails stops Apply; the returned plan shows which steps were
// done, and the error names the step. Applying again resumes: what was done
// is no longer a difference.
func Apply(ctx context.Context, c *client.Client, doc *Document, opts Options) (*Plan, error) {
	if doc.Org == "" {
		return nil, errors.New("no organisation: set org in the file or choose one with --org")
	}
	st, err := Fetch(ctx, c, doc)
	if err != nil {
		return nil, err
	}
	plan, err := Diff(doc, st)
	if err != nil {
		return plan, err
	}
	out := opts.Out
	if out == nil {
		out = io.Discard
	}
	fmt.Fprint(out, plan.String())
	if opts.DryRun || plan.Empty() {
		return plan, nil
	}
	fmt.Fprintln(out)
	if err := Execute(ctx, c, plan, opts); err != nil {
		return plan, err
	}
	done, skipped := 0, 0
	for _, s := range plan.Steps {
		switch {
		case s.Done:
			done++
		case s.Skipped != "":
			skipped++
		}
	}
	msg := "Applied " + plural(done, "change")
	if skipped > 0 {
		msg += fmt.Sprintf("; %s turned out not to be needed", plural(skipped, "step"))
	}
	fmt.Fprintln(out, msg+".")
	return plan, nil
}

// Execute performs the steps of plan in order, recording each outcome in
// the plan and printing a line per step to opts.Out. Before each deploy it
// asks the server again whether the environment has pending changes, so a
// draft change that changed nothing the gateway serves deploys nothing.
func Execute(ctx context.Context, c *client.Client, plan *Plan, opts Options) error {
	out := opts.Out
	if out == nil {
		out = io.Discard
	}
	note := opts.Note
	if note == "" {
		note = "porticoctl apply"
	}
	org, api := plan.Org, plan.API
	for i := range plan.Steps {
		s := &plan.Steps[i]
		if err := execute(ctx, c, org, api, note, s); err != nil {
			fmt.Fprintf(out, "✗ %s\n", s)
			return fmt.Errorf("%s: %w", strings.TrimLeft(s.String(), "+~-→ "), err)
		}
		switch {
		case s.Skipped != "":
			fmt.Fprintf(out, "= %s: %s\n", s, s.Skipped)
		case s.Result != "":
			fmt.Fprintf(out, "✓ %s: %s\n", s, s.Result)
		default:
			fmt.Fprintf(out, "✓ %s\n", s)
		}
		if len(s.Changes) == 0 { // the plan did not list them
			for _, c := range s.Deployed {
				fmt.Fprintf(out, "    %s\n", c)
			}
		}
		if s.Secret != "" {
			fmt.Fprintf(out, "    %s\n", s.Secret)
		}
	}
	return nil
}

func execute(ctx context.Context, c *client.Client, org, api, note string, s *Step) error {
	switch s.Action {
	case CreateAPI:
		if _, err := c.CreateAPI(ctx, org, *s.APIRequest); err != nil {
			return err
		}
	case UpdateAPI:
		if _, err := c.UpdateAPI(ctx, org, api, *s.APIRequest); err != nil {
			return err
		}
	case CreateVersion:
		v, err := c.CreateVersion(ctx, org, api, *s.VersionRequest)
		if err != nil {
			return err
		}
		if k := v.BackendKey; k != nil && k.Secret != "" {
			s.Secret = fmt.Sprintf("backend signing key %s, secret %s (shown only now: give it to your backend to verify Portico's signatures)", k.KeyID, k.Secret)
		}
	case UpdateVersion:
		if _, err := c.UpdateVersion(ctx, org, api, s.Name, *s.VersionRequest); err != nil {
			return err
		}
	case Deploy:
		v, err := c.GetVersion(ctx, org, api, s.Name)
		if err != nil {
			return err
		}
		if live := v.Environments[s.Env]; live != nil && live.UpToDate() {
			s.Skipped = "already up to date"
			return nil
		}
		d, err := c.Deploy(ctx, org, api, s.Name, client.DeployRequest{Environment: s.Env, Note: note})
		if err != nil {
			return err
		}
		s.Result, s.Deployed = fmt.Sprintf("revision %d", d.Revision), d.Changes
	case DeprecateVersion:
		if _, err := c.DeprecateVersion(ctx, org, api, s.Name, s.SunsetAt); err != nil {
			return err
		}
	case OfflineVersion:
		if _, err := c.TakeVersionOffline(ctx, org, api, s.Name); err != nil {
			return err
		}
	case CreatePlan:
		p, err := c.CreatePlan(ctx, org, api, *s.PlanRequest)
		if err != nil {
			return err
		}
		s.Result = fmt.Sprintf("revision %d, %s", p.Revision, p.State)
	case UpdatePlan:
		p, err := c.UpdatePlan(ctx, org, api, s.Name, *s.PlanPatch)
		if err != nil {
			return err
		}
		s.Result = fmt.Sprintf("revision %d, %s", p.Revision, p.State)
	case PublishPlan, DeprecatePlan, ClosePlan:
		act := map[Action]func(context.Context, string, string, string) (*client.Plan, error){
			PublishPlan: c.PublishPlan, DeprecatePlan: c.DeprecatePlan, ClosePlan: c.ClosePlan,
		}[s.Action]
		p, err := act(ctx, org, api, s.Name)
		if err != nil {
			return err
		}
		s.Result = fmt.Sprintf("revision %d", p.Revision)
	default:
		return fmt.Errorf("unknown step %q", s.Action)
	}
	s.Done = true
	return nil
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
