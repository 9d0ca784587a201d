package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/portti/portti/internal/saml"
	"github.com/portti/portti/internal/storage"
)

const samlUsage = `  portti saml sp add --metadata FILE|URL [--release ATTR ...]
                                               register a SAML service from its metadata (a file,
                                               or an https URL); --release names the attributes it
                                               may get (friendly names; default saml.default_release),
                                               narrowed to those its metadata requests
  portti saml sp list                          the registered SAML services
  portti saml sp remove ENTITYID               remove one (not one from saml.service_providers)
  portti saml metadata                         print portti's signed SAML metadata
`

// samlCmd runs `portti saml sp add|list|remove` and `portti saml metadata`.
func samlCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New("saml: say sp or metadata")
	}
	if args[0] == "metadata" {
		fs := flag.NewFlagSet("saml metadata", flag.ContinueOnError)
		configPath := fs.String("config", "", configUsage)
		positional, err := parseArgs(fs, args[1:], stdout)
		if err != nil {
			return err
		}
		if err := noArgs(fs, positional); err != nil {
			return err
		}
		a, err := openForCommand(ctx, *configPath, stderr)
		if err != nil {
			return err
		}
		defer a.Close()
		md, err := a.SAML.Metadata(ctx)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(stdout, string(md))
		return err
	}
	if args[0] != "sp" || len(args) < 2 {
		return errors.New("saml: say sp add, sp list, sp remove or metadata")
	}
	verb, args := args[1], args[2:]
	fs := flag.NewFlagSet("saml sp "+verb, flag.ContinueOnError)
	configPath := fs.String("config", "", configUsage)
	switch verb {
	case "add":
		metadata := fs.String("metadata", "", "the service's metadata: a file, or an https URL (http only for localhost)")
		var release clientFlagList
		fs.Var(&release, "release", "an attribute to release to it, by friendly name ("+strings.Join(saml.AttributeNames(), ", ")+"); repeatable")
		positional, err := parseArgs(fs, args, stdout)
		if err != nil {
			return err
		}
		if err := noArgs(fs, positional); err != nil {
			return err
		}
		if *metadata == "" {
			return fmt.Errorf("saml sp add: --metadata is required\n\n%s", flagUsage(fs))
		}
		var rel []string
		if len(release) > 0 {
			for _, r := range release {
				rel = append(rel, strings.Split(r, ",")...)
			}
			if _, err := saml.CheckRelease(rel); err != nil {
				return fmt.Errorf("saml sp add: --release: %w", err)
			}
		}
		a, err := openForCommand(ctx, *configPath, stderr)
		if err != nil {
			return err
		}
		defer a.Close()
		md, err := a.SAML.ReadMetadata(ctx, *metadata, 1<<20)
		if err != nil {
			return fmt.Errorf("saml sp add: %w", err)
		}
		id, err := a.SAML.AddService(ctx, md, rel, storage.SAMLSourceCLI)
		if err != nil {
			return fmt.Errorf("saml sp add: %w", err)
		}
		fmt.Fprintf(stdout, "registered %s\n", id)
		return nil
	case "list":
		positional, err := parseArgs(fs, args, stdout)
		if err != nil {
			return err
		}
		if err := noArgs(fs, positional); err != nil {
			return err
		}
		a, err := openForCommand(ctx, *configPath, stderr)
		if err != nil {
			return err
		}
		defer a.Close()
		list, err := a.SAML.Services(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ENTITY ID\tNAME\tSOURCE\tENCRYPTED\tRELEASE\tVALID UNTIL\tPROBLEM")
		for _, s := range list {
			until := "-"
			if !s.ValidUntil.IsZero() {
				until = s.ValidUntil.UTC().Format("2006-01-02 15:04Z")
			}
			problem := s.Error
			if problem == "" {
				problem = "-"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%v\t%s\t%s\t%s\n", s.EntityID, s.Name, s.Source, s.Encrypted, strings.Join(s.Release, ","), until, problem)
		}
		return tw.Flush()
	case "remove":
		positional, err := parseArgs(fs, args, stdout)
		if err != nil {
			return err
		}
		if len(positional) != 1 {
			return fmt.Errorf("saml sp remove: give one entity ID, not %q\n\n%s", positional, flagUsage(fs))
		}
		a, err := openForCommand(ctx, *configPath, stderr)
		if err != nil {
			return err
		}
		defer a.Close()
		rec, err := a.Store.GetSAMLServiceProvider(ctx, positional[0])
		if errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("no SAML service %q", positional[0])
		} else if err != nil {
			return err
		}
		if rec.Source == storage.SAMLSourceConfig {
			return fmt.Errorf("SAML service %q comes from the configuration file (saml.service_providers): remove it there and restart portti", positional[0])
		}
		if err := a.SAML.RemoveService(ctx, positional[0]); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "removed %s\n", positional[0])
		return nil
	}
	return fmt.Errorf("saml sp: unknown verb %q: say add, list or remove", verb)
}
