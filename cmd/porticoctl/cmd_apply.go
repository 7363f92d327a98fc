package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/portico-dev/portico/cmd/porticoctl/manifest"
)

func jsonBytes(v any) ([]byte, error) { return json.Marshal(v) }

func applyCmd(a *app, cmd *command, fs *flag.FlagSet) runner {
	file := fs.String("f", "", "manifest file (- for standard input)")
	fs.StringVar(file, "file", "", "manifest file (- for standard input)")
	dry := fs.Bool("dry-run", false, "print the plan without changing anything")
	return func(ctx context.Context, args []string) error {
		if err := need(cmd, args); err != nil {
			return err
		}
		if *file == "" {
			return usagef(cmd, "-f FILE is required")
		}
		var doc *manifest.Document
		var err error
		if *file == "-" {
			data, rerr := io.ReadAll(a.stdin)
			if rerr != nil {
				return fmt.Errorf("read manifest: %w", rerr)
			}
			doc, err = manifest.Parse(data, ".")
		} else {
			doc, err = manifest.ParseFile(*file)
		}
		if err != nil {
			return err
		}
		if err := a.chooseOrg(ctx, cmd, doc); err != nil {
			return err
		}
		opts := manifest.Options{DryRun: *dry}
		if !a.jsonOutput() {
			opts.Out = a.stdout
		}
		plan, err := manifest.Apply(ctx, a.client(), doc, opts)
		if a.jsonOutput() && plan != nil {
			if perr := a.printJSON(plan); perr != nil && err == nil {
				err = perr
			}
		}
		return err
	}
}

// chooseOrg settles the organisation of a manifest: the file's, --org's
// (which must agree with the file's when both are given), or the caller's
// first organisation.
func (a *app) chooseOrg(ctx context.Context, cmd *command, doc *manifest.Document) error {
	flagOrg := a.g.org.v
	if !a.g.org.set {
		flagOrg = a.getenv("PORTICO_ORG")
	}
	switch {
	case doc.Org != "" && flagOrg != "" && flagOrg != doc.Org:
		return usagef(cmd, "the file is for organisation %s but --org (or PORTICO_ORG) says %s", doc.Org, flagOrg)
	case doc.Org != "":
		return nil
	}
	org, err := a.orgSlug(ctx)
	if err != nil {
		return err
	}
	doc.Org = org
	return nil
}

func exportCmd(a *app, cmd *command, fs *flag.FlagSet) runner {
	api := fs.String("api", "", "API slug (required)")
	out := fs.String("o", "", "write the manifest to this file and the OpenAPI documents beside it")
	fs.StringVar(out, "output", "", "same as -o")
	return func(ctx context.Context, args []string) error {
		if len(args) == 1 && *api == "" {
			*api = args[0]
		} else if err := need(cmd, args); err != nil {
			return err
		}
		if *api == "" {
			return usagef(cmd, "--api is required")
		}
		org, err := a.orgSlug(ctx)
		if err != nil {
			return err
		}
		doc, notes, err := manifest.Export(ctx, a.client(), org, *api)
		if err != nil {
			return err
		}
		for _, n := range notes {
			fmt.Fprintf(a.stderr, "porticoctl: note: %s\n", n)
		}
		if *out == "" || *out == "-" {
			b, err := manifest.Marshal(doc, false)
			if err != nil {
				return err
			}
			if _, err := a.stdout.Write(b); err != nil {
				return err
			}
			for _, v := range doc.Versions {
				if v.OpenAPI != nil {
					fmt.Fprintln(a.stderr, "porticoctl: note: the OpenAPI documents are not part of standard output, so the manifest leaves them out; export with -o FILE to write them beside it")
					break
				}
			}
			return nil
		}
		written, err := manifest.WriteFiles(doc, *out)
		if err != nil {
			return err
		}
		fmt.Fprintf(a.stdout, "Wrote %s.\n", strings.Join(written, ", "))
		return nil
	}
}
