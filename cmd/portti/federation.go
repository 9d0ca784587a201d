package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/portti/portti/internal/account"
	"github.com/portti/portti/internal/app"
	"github.com/portti/portti/internal/federation"
	"github.com/portti/portti/internal/storage"
)

const federationUsage = `  portti user link E --idp ID --subject SUB   pre-link a home-organisation identity to an account
  portti user unlink E --idp ID --subject SUB remove such a link
  portti user links E                          list an account's home-organisation links
`

// userLink is `portti user link|unlink|links`: an operator pre-links a
// home-organisation identity to an account (the person then signs in
// with it without linking it themselves), removes a link, or lists them.
// The subject is the upstream provider's stable identifier of the person
// (its "sub"); nothing is ever matched by e-mail address.
func userLink(ctx context.Context, verb string, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("user "+verb, flag.ContinueOnError)
	configPath := fs.String("config", "", configUsage)
	idp := fs.String("idp", "", "the home organisation: the id of a federation.providers entry")
	subject := fs.String("subject", "", "the person's identifier at that provider (its sub claim)")
	positional, err := parseArgs(fs, args, stdout)
	if err != nil {
		return err
	}
	if len(positional) != 1 {
		return fmt.Errorf("user %s: give one e-mail address", verb)
	}
	if verb != "links" && (*idp == "" || *subject == "") {
		return fmt.Errorf("user %s: --idp and --subject are required", verb)
	}
	email, err := account.NormalizeEmail(positional[0])
	if err != nil {
		return fmt.Errorf("user %s: %w", verb, err)
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
	acc, err := a.Store.GetAccountByEmail(ctx, email)
	if errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("no account with e-mail address %s", email)
	} else if err != nil {
		return err
	}
	switch verb {
	case "links":
		links, err := a.Store.ListFederatedLinks(ctx, acc.ID)
		if err != nil {
			return err
		}
		for _, l := range links {
			fmt.Fprintf(stdout, "%s\t%s\t%s\t%s\n", l.Provider, l.Subject, l.LinkedBy, l.LinkedAt.Format(time.RFC3339))
		}
		return nil
	case "unlink":
		if err := a.Store.DeleteFederatedLink(ctx, acc.ID, *idp, *subject); errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("user unlink: %s holds no such link", acc.Email)
		} else if err != nil {
			return err
		}
		_ = a.Store.AppendEvent(ctx, storage.Event{Kind: federation.EventUnlinked, AccountID: acc.ID, Email: acc.Email,
			Reason: "by an operator, " + *idp, Time: time.Now().UTC(), ClientIP: "cli", UserAgent: "portti user unlink"})
		fmt.Fprintf(stdout, "link to %s removed from %s\n", *idp, acc.Email)
		return nil
	}
	if a.Federation != nil {
		if _, ok := a.Federation.Provider(*idp); !ok {
			return fmt.Errorf("user link: no federation.providers entry has id %q", *idp)
		}
	}
	m := account.Meta{ClientIP: "cli", UserAgent: "portti user link"}
	if a.Federation != nil {
		err = a.Federation.Link(ctx, acc, *idp, *subject, "operator", m)
	} else {
		// No providers configured yet: the link waits for one, and the
		// owner is told now.
		err = federation.Link(ctx, a.Store, acc, *idp, *subject, "operator", m, time.Now(),
			&federation.Notice{Outbox: a.Outbox, PublicURL: strings.TrimSuffix(cfg.PublicURL, "/"), ProviderName: *idp})
	}
	switch {
	case errors.Is(err, federation.ErrLinkedHere):
		fmt.Fprintf(stdout, "%s is already linked to that identity at %s\n", acc.Email, *idp)
		return nil
	case errors.Is(err, federation.ErrLinkedElsewhere):
		return fmt.Errorf("user link: that identity at %s is linked to another account; unlink it there first", *idp)
	case err != nil:
		return fmt.Errorf("user link: %w", err)
	}
	fmt.Fprintf(stdout, "%s linked to its identity at %s\n", acc.Email, *idp)
	return nil
}
