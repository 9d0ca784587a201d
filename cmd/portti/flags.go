package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
	_ "time/tzdata" // Europe/Helsinki must load in minimal containers too
)

// configUsage describes --config, which every command takes.
const configUsage = "the YAML configuration `FILE` (the PORTTI_* variables override it)"

// errHelp is returned by parseArgs for -h/--help, after the command's
// flags were printed: run answers it with success.
var errHelp = errors.New("help shown")

// parseArgs parses args into fs and returns the arguments that are not
// flags. Flags may come after them too ("user show E --config F"): the
// flag package stops at the first argument that is not a flag, and a
// --config silently left unread would point the command at another
// database. Arguments after "--" are all positional.
//
// The flag package prints its errors and the usage itself and returns
// the error as well, which main prints again; here it prints nothing, and
// the one error returned says what is wrong and lists the command's flags
// as they are written (--config FILE). -h or --help prints that list to
// stdout and returns errHelp.
func parseArgs(fs *flag.FlagSet, args []string, stdout io.Writer) ([]string, error) {
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	var positional []string
	for {
		err := fs.Parse(args)
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(stdout, "portti %s\n\n%s", fs.Name(), flagUsage(fs))
			return nil, errHelp
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %s\n\n%s", fs.Name(), dashes(err.Error()), flagUsage(fs))
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return positional, nil
		}
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(positional, rest...), nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

// noArgs refuses positional arguments for a command that takes none: an
// argument that was meant as a flag's value, or a mistyped flag, must not
// be ignored.
func noArgs(fs *flag.FlagSet, positional []string) error {
	if len(positional) == 0 {
		return nil
	}
	return fmt.Errorf("%s: unexpected argument %q: this command takes no arguments (every value goes with a flag)\n\n%s",
		fs.Name(), positional[0], flagUsage(fs))
}

// flagDash finds the single dash the flag package writes before a flag's
// name in its errors ("flag needs an argument: -config").
var flagDash = regexp.MustCompile(`(: |flag |for )-([A-Za-z])`)

// dashes writes the flag names in a flag package error with two dashes,
// as the usage and the README write them.
func dashes(msg string) string { return flagDash.ReplaceAllString(msg, "$1--$2") }

// flagUsage lists fs's flags as "--name VALUE  what it is", sorted.
// VALUE is the usage's `quoted` word, else the flag name's last word.
func flagUsage(fs *flag.FlagSet) string {
	var flags []*flag.Flag
	fs.VisitAll(func(f *flag.Flag) { flags = append(flags, f) })
	if len(flags) == 0 {
		return "It takes no flags.\n"
	}
	sort.Slice(flags, func(i, j int) bool { return flags[i].Name < flags[j].Name })
	var b strings.Builder
	b.WriteString("Flags:\n")
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	for _, f := range flags {
		name, usage := flag.UnquoteUsage(f)
		switch name {
		case "":
		case "string", "value":
			// No `NAME` in the usage: the flag's last word says what it
			// takes (--redirect-uri URI, --grant GRANT).
			name = " " + strings.ToUpper(f.Name[strings.LastIndex(f.Name, "-")+1:])
		default:
			name = " " + name
		}
		fmt.Fprintf(tw, "  --%s%s\t%s\n", f.Name, name, usage)
	}
	tw.Flush()
	return b.String()
}

// orgZone is the zone times are shown in: the organisation's, as on the
// pages (web's formatTime) and in the e-mails (mail's formatTime), so
// that the helpdesk reads the same "locked until" the person was shown.
// portti has no setting for it; all three use Europe/Helsinki.
var orgZone = func() *time.Location {
	loc, err := time.LoadLocation("Europe/Helsinki")
	if err != nil {
		panic("portti: " + err.Error()) // cannot happen: time/tzdata is embedded
	}
	return loc
}()

// when shows t in the organisation's zone with its offset
// (2026-11-24T14:05:00+02:00), or "-" for none.
func when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.In(orgZone).Format(time.RFC3339)
}
