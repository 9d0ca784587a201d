package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/portti/portti/internal/account"
	"github.com/portti/portti/internal/app"
	"github.com/portti/portti/internal/guests"
	"github.com/portti/portti/internal/storage"
)

const guestsUsage = `  portti guest invite E --until DATE [--note TEXT] [--lang fi|sv|en] [--by E]
                                               invite a guest until DATE (2027-03-31)
  portti guest list [--by E]                   list invitations, newest first
`

// guestCmd is `portti guest invite|list`: an operator invites a guest
// (for an inviter named with --by, who must hold the guest-inviter or
// admin role) or lists invitations.
func guestCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "invite" && args[0] != "list") {
		return errors.New("guest: say invite or list")
	}
	verb := args[0]
	fs := flag.NewFlagSet("guest "+verb, flag.ContinueOnError)
	configPath := fs.String("config", "", configUsage)
	until := fs.String("until", "", "the last `DATE` of the guest account (2027-03-31, Helsinki time), at most a year away")
	note := fs.String("note", "", "why the guest is invited; the guest reads it in the e-mail")
	lang := fs.String("lang", "en", "the language of the e-mail: fi, sv or en")
	by := fs.String("by", "", "the inviter's e-mail address (a guest-inviter or an admin); default: the operator")
	positional, err := parseArgs(fs, args[1:], stdout)
	if err != nil {
		return err
	}
	if verb == "invite" && len(positional) != 1 {
		return errors.New("guest invite: give one e-mail address")
	}
	if verb == "list" && len(positional) != 0 {
		return fmt.Errorf("guest list: unexpected argument %q", positional[0])
	}
	var end time.Time
	if verb == "invite" {
		if *until == "" {
			return errors.New("guest invite: --until is required")
		}
		if end, err = guests.ParseUntil(*until); err != nil {
			return fmt.Errorf("guest invite: --until: %w", err)
		}
		switch *lang {
		case "fi", "sv", "en":
		default:
			return fmt.Errorf("guest invite: --lang must be fi, sv or en, not %q", *lang)
		}
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
	var inviter guests.Inviter
	if *by != "" {
		acc, err := a.Accounts.Find(ctx, *by)
		if errors.Is(err, storage.ErrNotFound) || errors.Is(err, account.ErrInvalidEmail) {
			return fmt.Errorf("guest %s: --by: no account with e-mail address %s", verb, *by)
		} else if err != nil {
			return err
		}
		roles, err := a.Admin.Roles(ctx, acc.ID)
		if err != nil {
			return err
		}
		if !guests.MayInvite(roles) {
			return fmt.Errorf("guest %s: --by: %s holds neither the guest-inviter nor the admin role", verb, acc.Email)
		}
		inviter = guests.Inviter{AccountID: acc.ID, Email: acc.Email}
	}
	if verb == "list" {
		list, err := a.Guests.Invitations(ctx, inviter.AccountID)
		if err != nil {
			return err
		}
		now := time.Now()
		for _, inv := range list {
			fmt.Fprintf(stdout, "%s\t%s\tuntil %s\t%s\tby %s\t%s\n", inv.ID, inv.Email, inv.EndsAt.In(guests.Helsinki).Format(time.DateOnly), guests.State(inv, now), inv.Inviter, inv.Note)
		}
		return nil
	}
	inv, err := a.Guests.Invite(ctx, inviter, positional[0], end, *note, *lang, account.Meta{ClientIP: "cli", UserAgent: "portti guest invite"})
	switch {
	case errors.Is(err, guests.ErrInvalidEmail):
		return fmt.Errorf("guest invite: %q is not an e-mail address", positional[0])
	case errors.Is(err, guests.ErrUntilPast):
		return errors.New("guest invite: --until is in the past")
	case errors.Is(err, guests.ErrUntilFar):
		return errors.New("guest invite: --until is more than a year away")
	case errors.Is(err, guests.ErrNoteTooLong):
		return fmt.Errorf("guest invite: --note is longer than %d characters", guests.MaxNote)
	case err != nil:
		return fmt.Errorf("guest invite: %w", err)
	}
	fmt.Fprintf(stdout, "invited %s until %s (invitation %s; the link works until %s)\n", inv.Email,
		inv.EndsAt.In(guests.Helsinki).Format(time.DateOnly), inv.ID, inv.ExpiresAt.In(guests.Helsinki).Format("2006-01-02 15:04"))
	return nil
}
