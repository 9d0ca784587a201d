package main

import (
	"bufio"
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
	"github.com/portti/portti/internal/proofing"
	"github.com/portti/portti/internal/storage"
)

const proofingUsage = `  portti user set-identifier E --stdin         bind a registry identifier (e.g. a personal identity
                                               code, the first line of standard input) to an account,
                                               for strong identification; stored only as a keyed hash
  portti user unset-identifier E --reason "…"  unlink the strong identity from an account (audited)
  portti proofing keys list|rotate             portti's relying-party keys for strong identification
                                               (JWKS /proofing/jwks.json); rotate replaces both: the new
                                               signing key signs after 2 h, the old keys stay published 14 days
`

// userSetIdentifier is `portti user set-identifier E --stdin`. The
// identifier comes from standard input, never from the command line,
// so that it stays out of the shell history and the process list; it is
// never printed, logged or audited.
func userSetIdentifier(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("user set-identifier", flag.ContinueOnError)
	configPath := fs.String("config", "", configUsage)
	fromStdin := fs.Bool("stdin", false, "read the identifier from the first line of standard input (required)")
	positional, err := parseArgs(fs, args, stdout)
	if err != nil {
		return err
	}
	if len(positional) != 1 {
		return errors.New("user set-identifier: give one e-mail address")
	}
	if !*fromStdin {
		return errors.New("user set-identifier: --stdin is required: the identifier is read from standard input, never from the command line")
	}
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("user set-identifier: read standard input: %w", err)
	}
	identifier := strings.TrimRight(line, "\r\n")
	if _, err := proofing.Normalize(identifier); err != nil {
		return fmt.Errorf("user set-identifier: %w", err)
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
	if a.Proofing == nil {
		return fmt.Errorf("user set-identifier: %w", proofing.ErrNoKeyEncryptionKey)
	}
	acc, err := a.Proofing.SetIdentifier(ctx, positional[0], identifier,
		account.Meta{ClientIP: "cli", UserAgent: "portti user set-identifier", Lang: "en"})
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return fmt.Errorf("no account with e-mail address %s", positional[0])
	case err != nil:
		return err
	}
	fmt.Fprintf(stdout, "identifier set for %s (stored as a keyed hash)\n", acc.Email)
	return nil
}

// userUnsetIdentifier is `portti user unset-identifier E --reason "…"`:
// the account loses its strong identity (a wrong identifier was set, the
// person asks for it), so it can no longer reset its second factor or
// find its username through strong identification until one is bound
// again. The reason is audited.
func userUnsetIdentifier(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("user unset-identifier", flag.ContinueOnError)
	configPath := fs.String("config", "", configUsage)
	reason := fs.String("reason", "", "why, for the audit log (required)")
	positional, err := parseArgs(fs, args, stdout)
	if err != nil {
		return err
	}
	if len(positional) != 1 {
		return errors.New("user unset-identifier: give one e-mail address")
	}
	if strings.TrimSpace(*reason) == "" {
		return errors.New(`user unset-identifier: --reason "…" is required, for the audit log`)
	}
	a, err := openForCommand(ctx, *configPath, stderr)
	if err != nil {
		return err
	}
	defer a.Close()
	acc, err := a.Accounts.Find(ctx, positional[0])
	if errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("no account with e-mail address %s", positional[0])
	}
	if err != nil {
		return err
	}
	err = a.Store.InTx(ctx, func(tx storage.Storage) error {
		if err := tx.UnbindIdentity(ctx, acc.ID); err != nil {
			return err
		}
		return tx.AppendEvent(ctx, storage.Event{Time: time.Now().UTC(), Kind: proofing.EventUnbound, AccountID: acc.ID, Email: acc.Email,
			Reason: strings.TrimSpace(*reason), ClientIP: "cli", UserAgent: "portti user unset-identifier"})
	})
	if errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("%s has no strong identity linked", acc.Email)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "strong identity unlinked from %s\n", acc.Email)
	return nil
}

// printIdentity says whether a strong identity is linked to the account
// (never the identifier: only its keyed hash is kept).
func printIdentity(ctx context.Context, w io.Writer, a *app.App, acc storage.Account) error {
	id, err := a.Store.GetIdentity(ctx, acc.ID)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		fmt.Fprintln(w, "strong identity:  none linked")
	case err != nil:
		return err
	default:
		fmt.Fprintf(w, "strong identity:  linked %s (by %s)\n", when(id.BoundAt), id.Provider)
	}
	return nil
}

// proofingCmd is `portti proofing keys list|rotate`.
func proofingCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) < 2 || args[0] != "keys" || (args[1] != "list" && args[1] != "rotate") {
		return errors.New("proofing: say keys list or keys rotate")
	}
	verb := args[1]
	fs := flag.NewFlagSet("proofing keys "+verb, flag.ContinueOnError)
	configPath := fs.String("config", "", configUsage)
	positional, err := parseArgs(fs, args[2:], stdout)
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
	if a.Proofing == nil {
		return fmt.Errorf("proofing keys: %w", proofing.ErrNoKeyEncryptionKey)
	}
	if verb == "rotate" {
		if err := a.Proofing.Keys().Rotate(ctx); err != nil {
			return err
		}
		fmt.Fprintln(stdout, "new keys made: the encryption key is advertised now, the signing key signs in 2 hours; the old ones stay in the JWKS for 14 days")
	}
	keys, err := a.Proofing.Keys().List(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KID\tUSE\tALG\tCREATED\tIN USE\tRETIRED\tLEAVES JWKS")
	for _, k := range keys {
		inUse := "no"
		if k.InUse {
			inUse = "yes"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Use, k.Alg, when(k.CreatedAt), inUse, when(k.RetiredAt), when(k.ExpiresAt))
	}
	return tw.Flush()
}
