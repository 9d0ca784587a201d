package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/portti/portti/internal/account"
	"github.com/portti/portti/internal/app"
	"github.com/portti/portti/internal/authn"
	"github.com/portti/portti/internal/storage"
)

// printMethods lists an account's second factors for `portti user show`:
// kind, name, added, last used, recovery codes left — never a secret.
func printMethods(ctx context.Context, w io.Writer, a *app.App, acc storage.Account) error {
	entries, err := a.MFA.Entries(ctx, acc.ID)
	if err != nil {
		return err
	}
	required := "optional"
	if a.MFA.RequiredFor(acc) {
		required = "required by policy"
	}
	on := "off"
	if authn.Enabled(entries) {
		on = "on"
	}
	fmt.Fprintf(w, "two-step:         %s (%s)\n", on, required)
	if len(entries) == 0 {
		return nil
	}
	when := func(t time.Time) string {
		if t.IsZero() {
			return "never"
		}
		return t.UTC().Format(time.RFC3339)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  KIND\tNAME\tADDED\tLAST USED\tDETAIL")
	for _, e := range entries {
		detail := ""
		if l, ok := e.Method.(interface{ Left(storage.Credential) int }); ok {
			detail = fmt.Sprintf("%d codes left", l.Left(e.Credential))
		}
		name := e.Credential.Name
		if name == "" {
			name = "-"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", e.Method.Kind(), name, when(e.Credential.CreatedAt), when(e.Credential.LastUsedAt), detail)
	}
	return tw.Flush()
}

// userMFA is `portti user mfa reset E --reason TEXT`: for a person who
// lost every second factor, after the helpdesk has checked who they are.
func userMFA(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "reset" {
		return errors.New("user mfa: say reset E --reason TEXT")
	}
	fs := flag.NewFlagSet("user mfa reset", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "YAML configuration file")
	reason := fs.String("reason", "", "why (kept in the audit log), e.g. the helpdesk ticket")
	var positional []string
	args = args[1:]
	for {
		if err := fs.Parse(args); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(positional) != 1 {
		return errors.New("user mfa reset: give one e-mail address")
	}
	if strings.TrimSpace(*reason) == "" {
		return errors.New("user mfa reset: --reason is required (it goes to the audit log)")
	}
	cfg, err := loadConfig(*configPath)
	if err != nil {
		return err
	}
	cfg.LogLevel = "warn"
	a, err := app.New(ctx, cfg, newLogger(cfg, stderr), app.Options{KeepClients: true})
	if err != nil {
		return err
	}
	defer a.Close()
	m := account.Meta{ClientIP: "cli", UserAgent: "portti user mfa reset", Lang: "en"}
	acc, n, err := a.MFA.Reset(ctx, positional[0], strings.TrimSpace(*reason), m)
	if errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("no account with e-mail address %s", positional[0])
	}
	if err != nil {
		return err
	}
	// The notification waits in the outbox, which the running server
	// delivers.
	fmt.Fprintf(stdout, "removed %d second-factor credentials of %s; sessions ended; the owner's notification is queued\n", n, acc.Email)
	return nil
}
