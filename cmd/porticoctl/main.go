// Command porticoctl manages Portico from the command line: log in,
// organisations, members, tokens and AK/SK keys, APIs, versions,
// deployments, plans, apps, subscriptions and subscribers, the market, and
// declarative apply/export of an API (docs/porticoctl.md).
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/term"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	a := &app{
		stdin:  os.Stdin,
		stdout: os.Stdout,
		stderr: os.Stderr,
		getenv: os.Getenv,
		stdinIsTerminal: func() bool {
			return term.IsTerminal(int(os.Stdin.Fd()))
		},
		readPassword: func() ([]byte, error) { return term.ReadPassword(int(os.Stdin.Fd())) },
	}
	code := a.run(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}
