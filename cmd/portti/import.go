package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/portti/portti/internal/provision"
)

const importUsage = `  portti import users FILE.csv [--dry-run] [--disable-missing] [--encoding utf-8|latin1]
                                               create and update provisioned accounts from a registry's
                                               CSV export (columns: provision.csv_columns), matched by
                                               external ID; --dry-run changes nothing and lists what
                                               would; --disable-missing disables accounts an earlier
                                               import created that the file (a full export) lacks.
                                               Exit status 1 when a row was rejected.
`

// importMemoryLimit is the import's soft memory limit (GOMEMLIMIT
// overrides it).
const importMemoryLimit = 80 << 20

// importCmd is `portti import users FILE.csv`.
func importCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "users" {
		return errors.New("import: say users FILE.csv")
	}
	fs := flag.NewFlagSet("import users", flag.ContinueOnError)
	configPath := fs.String("config", "", configUsage)
	dryRun := fs.Bool("dry-run", false, "show what would change; change nothing")
	disableMissing := fs.Bool("disable-missing", false, "the file is a full export: disable accounts an earlier CSV import created that it does not list")
	encoding := fs.String("encoding", "utf-8", "the file's character `ENCODING`: utf-8 (a file that is not is refused) or latin1 (ISO 8859-1)")
	positional, err := parseArgs(fs, args[1:], stdout)
	if err != nil {
		return err
	}
	if len(positional) != 1 {
		return errors.New("import users: give one CSV file")
	}
	var latin1 bool
	switch strings.ToLower(strings.ReplaceAll(*encoding, "-", "")) {
	case "utf8":
	case "latin1", "iso88591":
		latin1 = true
	default:
		return fmt.Errorf("import users: --encoding %q: say utf-8 or latin1", *encoding)
	}
	if _, set := os.LookupEnv("GOMEMLIMIT"); !set {
		// A 100,000-row export is held whole (it is checked whole
		// before anything changes); a soft limit makes the collector
		// work harder rather than let the heap double.
		debug.SetMemoryLimit(importMemoryLimit)
	}
	data, err := os.ReadFile(positional[0])
	if err != nil {
		return fmt.Errorf("import users: %w", err)
	}
	a, err := openForCommand(ctx, *configPath, stderr)
	if err != nil {
		return err
	}
	defer a.Close()
	cols, err := provision.ParseColumns(a.Config.Provision.CSVColumns)
	if err != nil {
		return err
	}
	sum, err := a.Provision.ImportCSV(ctx, data, provision.ImportOptions{
		Columns: cols, DryRun: *dryRun, DisableMissing: *disableMissing, Latin1: latin1,
		Location: registryZone(), Actor: "portti import users",
	})
	var fe *provision.ErrFile
	if errors.As(err, &fe) {
		return fmt.Errorf("import users: %s: %w (nothing was changed)", positional[0], fe)
	}
	printImport(stdout, sum, *dryRun)
	if err != nil {
		return fmt.Errorf("import users: stopped: %w", err)
	}
	if sum.Rejected > 0 {
		return fmt.Errorf("import users: %d rows rejected (the others were %s)", sum.Rejected, map[bool]string{true: "checked, nothing changed", false: "imported"}[*dryRun])
	}
	return nil
}

// printImport writes the rows that changed or were rejected (in a dry
// run: that would), then the counts.
func printImport(w io.Writer, sum provision.ImportSummary, dryRun bool) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, r := range sum.Rows {
		if !dryRun && r.Outcome != provision.OutcomeRejected && r.Outcome != provision.OutcomeDisabled {
			continue
		}
		line := "-"
		if r.Line > 0 {
			line = fmt.Sprint(r.Line)
		}
		fmt.Fprintf(tw, "line %s\t%s\t%s\t%s\t%s\n", line, r.Outcome, r.ExternalID, r.Email, r.Reason)
	}
	_ = tw.Flush()
	prefix := ""
	if dryRun {
		prefix = "dry run, nothing changed: would be "
	}
	fmt.Fprintf(w, "%screated %d, updated %d, disabled %d, unchanged %d, rejected %d\n", prefix,
		sum.Created, sum.Updated, sum.Disabled, sum.Unchanged, sum.Rejected)
	if sum.MissingSkipped {
		fmt.Fprintln(w, "--disable-missing was not applied: rows were rejected, so the file cannot be trusted to list everyone")
	}
}

// registryZone is where a registry's dates are days: Finland's, as the
// e-mails show them (time/tzdata is embedded by package mail).
func registryZone() *time.Location {
	if loc, err := time.LoadLocation("Europe/Helsinki"); err == nil {
		return loc
	}
	return time.Local
}
