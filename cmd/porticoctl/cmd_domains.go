package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/portico-dev/portico/portal/client"
)

func (a *app) domains(ctx context.Context, org string) ([]client.CustomDomain, error) {
	c := a.client()
	return client.Collect(ctx, func(ctx context.Context, o client.ListOptions) (*client.Page[client.CustomDomain], error) {
		o.Limit = 100
		return c.ListDomains(ctx, org, o)
	})
}

// domainID resolves a domain id or host name to the domain's id; anything
// that names no domain is passed on as an id, for the server to judge.
func (a *app) domainID(ctx context.Context, org, d string) (string, error) {
	if uuidRE.MatchString(d) {
		return d, nil
	}
	all, err := a.domains(ctx, org)
	if err != nil {
		return "", fmt.Errorf("find domain %q: %w", d, err)
	}
	for _, x := range all {
		if strings.EqualFold(x.Hostname, strings.TrimSuffix(d, ".")) {
			return x.ID, nil
		}
	}
	return d, nil
}

func domainsListCmd(a *app, cmd *command, fs *flag.FlagSet) runner {
	return func(ctx context.Context, args []string) error {
		if err := need(cmd, args); err != nil {
			return err
		}
		org, err := a.orgSlug(ctx)
		if err != nil {
			return err
		}
		all, err := a.domains(ctx, org)
		if err != nil {
			return err
		}
		return a.output(all, func() {
			rows := [][]string{}
			for _, x := range all {
				rows = append(rows, []string{x.ID, x.Hostname, x.Status, day(x.Certificate.NotAfter), x.Certificate.Issuer})
			}
			a.table([]string{"id", "hostname", "status", "expires", "issuer"}, rows)
		})
	}
}

// readPEMFiles reads the certificate and key files of domains add/renew.
func readPEMFiles(cmd *command, certFile, keyFile string) (string, string, error) {
	if certFile == "" || keyFile == "" {
		return "", "", usagef(cmd, "--cert and --key are required (PEM files: the chain, leaf first, and its private key)")
	}
	cert, err := os.ReadFile(certFile)
	if err != nil {
		return "", "", fmt.Errorf("read --cert: %w", err)
	}
	key, err := os.ReadFile(keyFile)
	if err != nil {
		return "", "", fmt.Errorf("read --key: %w", err)
	}
	return string(cert), string(key), nil
}

func (a *app) showDomain(x *client.CustomDomain) {
	a.fields([][2]string{
		{"id", x.ID}, {"hostname", x.Hostname}, {"status", x.Status}, {"subject", x.Certificate.Subject},
		{"names", strings.Join(x.Certificate.DNSNames, ", ")}, {"issuer", x.Certificate.Issuer},
		{"expires", x.Certificate.NotAfter.UTC().Format("2006-01-02 15:04 UTC")}, {"fingerprint", x.Certificate.Fingerprint},
	})
}

func domainsAddCmd(a *app, cmd *command, fs *flag.FlagSet) runner {
	certFile := fs.String("cert", "", "PEM file with the certificate chain, leaf first (required)")
	keyFile := fs.String("key", "", "PEM file with the certificate's private key, unencrypted (required)")
	return func(ctx context.Context, args []string) error {
		if err := need(cmd, args, "<hostname>"); err != nil {
			return err
		}
		cert, key, err := readPEMFiles(cmd, *certFile, *keyFile)
		if err != nil {
			return err
		}
		org, err := a.orgSlug(ctx)
		if err != nil {
			return err
		}
		x, err := a.client().AddDomain(ctx, org, client.DomainRequest{Hostname: args[0], Certificate: cert, PrivateKey: key})
		if err != nil {
			return err
		}
		return a.output(x, func() { a.showDomain(x) })
	}
}

func domainsRenewCmd(a *app, cmd *command, fs *flag.FlagSet) runner {
	certFile := fs.String("cert", "", "PEM file with the new certificate chain, leaf first (required)")
	keyFile := fs.String("key", "", "PEM file with its private key, unencrypted (required)")
	return func(ctx context.Context, args []string) error {
		if err := need(cmd, args, "<domain>"); err != nil {
			return err
		}
		cert, key, err := readPEMFiles(cmd, *certFile, *keyFile)
		if err != nil {
			return err
		}
		org, err := a.orgSlug(ctx)
		if err != nil {
			return err
		}
		id, err := a.domainID(ctx, org, args[0])
		if err != nil {
			return err
		}
		x, err := a.client().ReplaceDomainCertificate(ctx, org, id, client.DomainRequest{Certificate: cert, PrivateKey: key})
		if err != nil {
			return err
		}
		return a.output(x, func() { a.showDomain(x) })
	}
}

func domainsDeleteCmd(a *app, cmd *command, fs *flag.FlagSet) runner {
	yes := fs.Bool("yes", false, "confirm: the gateway stops answering for the host name")
	return func(ctx context.Context, args []string) error {
		if err := need(cmd, args, "<domain>"); err != nil {
			return err
		}
		if !*yes {
			return usagef(cmd, "deleting a domain stops the gateway answering for it; confirm with --yes")
		}
		org, err := a.orgSlug(ctx)
		if err != nil {
			return err
		}
		id, err := a.domainID(ctx, org, args[0])
		if err != nil {
			return err
		}
		if err := a.client().DeleteDomain(ctx, org, id); err != nil {
			return err
		}
		fmt.Fprintf(a.stdout, "Deleted custom domain %s.\n", args[0])
		return nil
	}
}
