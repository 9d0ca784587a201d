package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/portti/portti/internal/account"
	"github.com/portti/portti/internal/admin"
	"github.com/portti/portti/internal/app"
	"github.com/portti/portti/internal/storage"
)

// adminUsage lists the helpdesk console's commands for the usage text.
const adminUsage = `  portti user grant E --role helpdesk|admin|guest-inviter   let an account into the helpdesk console (guest-inviter: invite guests)
  portti user revoke E --role helpdesk|admin|guest-inviter  take the role away
  portti notice add --from TIME --until TIME --text-fi T --text-sv T --text-en T
                                               a notice on every page between the times
                                               (TIME: RFC 3339, or 2006-01-02T15:04 in Helsinki time)
  portti notice list                           every notice, past and coming
  portti notice remove ID                      remove a notice
`

// cliActor is the operator at the command line: an admin (whoever holds
// the database holds everything), named "cli" in the audit trail.
var cliActor = admin.Actor{Name: "cli", Admin: true}

func openForCLI(ctx context.Context, configPath string, stderr io.Writer) (*app.App, error) {
	cfg, err := loadConfig(configPath)
	if err != nil {
		return nil, err
	}
	cfg.LogLevel = "warn"
	return app.New(ctx, cfg, newLogger(cfg, stderr), app.Options{KeepClients: true})
}

// userRole is `portti user grant|revoke E --role R`.
func userRole(ctx context.Context, verb string, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("user "+verb, flag.ContinueOnError)
	configPath := fs.String("config", "", configUsage)
	role := fs.String("role", "", "the staff `ROLE`: helpdesk, admin or guest-inviter")
	positional, err := parseArgs(fs, args, stdout)
	if err != nil {
		return err
	}
	if len(positional) != 1 {
		return fmt.Errorf("user %s: give one e-mail address\n\n%s", verb, flagUsage(fs))
	}
	if !admin.ValidRole(*role) {
		return fmt.Errorf("user %s: --role must be helpdesk, admin or guest-inviter", verb)
	}
	a, err := openForCLI(ctx, *configPath, stderr)
	if err != nil {
		return err
	}
	defer a.Close()
	m := account.Meta{ClientIP: "cli", UserAgent: "portti user " + verb, Lang: "en"}
	change, did := a.Admin.Grant, "granted"
	if verb == "revoke" {
		change, did = a.Admin.Revoke, "revoked"
	}
	acc, err := change(ctx, cliActor, positional[0], *role, m)
	switch {
	case errors.Is(err, storage.ErrNotFound) && verb == "revoke" && acc.ID != "":
		return fmt.Errorf("%s does not hold the role %s", acc.Email, *role)
	case errors.Is(err, storage.ErrNotFound), errors.Is(err, account.ErrInvalidEmail):
		return fmt.Errorf("no account with e-mail address %s", positional[0])
	case err != nil:
		return err
	}
	roles, err := a.Admin.Roles(ctx, acc.ID)
	if err != nil {
		return err
	}
	held := strings.Join(roles, ", ")
	if held == "" {
		held = "none"
	}
	fmt.Fprintf(stdout, "%s role %s for %s; roles now: %s\n", did, *role, acc.Email, held)
	return nil
}

// noticeCmd is `portti notice add|list|remove`.
func noticeCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New("notice: say add, list or remove")
	}
	verb := args[0]
	fs := flag.NewFlagSet("notice "+verb, flag.ContinueOnError)
	configPath := fs.String("config", "", configUsage)
	var from, until, fi, sv, en *string
	switch verb {
	case "add":
		from = fs.String("from", "", "when the notice starts showing: `TIME` (RFC 3339, or 2006-01-02T15:04 in Helsinki time)")
		until = fs.String("until", "", "when it stops: `TIME`")
		fi = fs.String("text-fi", "", "the notice in Finnish")
		sv = fs.String("text-sv", "", "the notice in Swedish")
		en = fs.String("text-en", "", "the notice in English")
	case "list", "remove":
	default:
		return fmt.Errorf("notice: unknown command %q (add, list, remove)", verb)
	}
	positional, err := parseArgs(fs, args[1:], stdout)
	if err != nil {
		return err
	}
	var in admin.NoticeInput
	switch verb {
	case "add", "list":
		if err := noArgs(fs, positional); err != nil {
			return err
		}
	case "remove":
		if len(positional) != 1 {
			return errors.New("notice remove: give the notice's ID (see portti notice list)")
		}
	}
	if verb == "add" {
		var problems []string
		if in.From, err = parseTime(*from); err != nil {
			problems = append(problems, "--from: "+err.Error())
		}
		if in.Until, err = parseTime(*until); err != nil {
			problems = append(problems, "--until: "+err.Error())
		}
		in.TextFI, in.TextSV, in.TextEN = *fi, *sv, *en
		for name, v := range map[string]string{"--text-fi": *fi, "--text-sv": *sv, "--text-en": *en} {
			if strings.TrimSpace(v) == "" {
				problems = append(problems, name+" is required (every language gets its own text)")
			}
		}
		if len(problems) == 0 && !in.Until.After(in.From) {
			problems = append(problems, "--until must be after --from")
		}
		if len(problems) > 0 {
			return fmt.Errorf("notice add: %s", strings.Join(slices.Sorted(slices.Values(problems)), "; "))
		}
	}
	a, err := openForCLI(ctx, *configPath, stderr)
	if err != nil {
		return err
	}
	defer a.Close()
	m := account.Meta{ClientIP: "cli", UserAgent: "portti notice " + verb, Lang: "en"}
	switch verb {
	case "add":
		n, err := a.Admin.AddNotice(ctx, cliActor, in, m)
		if errors.Is(err, admin.ErrInvalid) {
			return errors.New("notice add: the notice has ended already, or a text is longer than 500 characters or has a line break")
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "added notice %s, shown %s – %s\n", n.ID, when(n.StartsAt), when(n.EndsAt))
	case "list":
		all, err := a.Admin.Notices(ctx)
		if err != nil {
			return err
		}
		if len(all) == 0 {
			fmt.Fprintln(stdout, "no notices")
			return nil
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tFROM\tUNTIL\tBY\tTEXT (EN)")
		for _, n := range all {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", n.ID, when(n.StartsAt), when(n.EndsAt), n.CreatedBy, n.TextEN)
		}
		return tw.Flush()
	case "remove":
		err := a.Admin.RemoveNotice(ctx, cliActor, positional[0], m)
		if errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("no notice with ID %s", positional[0])
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "removed notice %s\n", positional[0])
	}
	return nil
}

// parseTime reads RFC 3339, or a local Helsinki time without a zone.
func parseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, errors.New("a time is required")
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02 15:04"} {
		if t, err := time.ParseInLocation(layout, s, orgZone); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a time (2026-12-05T08:00 in Helsinki time, or RFC 3339 such as 2026-12-05T08:00:00+02:00)", s)
}
