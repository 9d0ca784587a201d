package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/portti/portti/internal/account"
	"github.com/portti/portti/internal/app"
	"github.com/portti/portti/internal/proofing"
	"github.com/portti/portti/internal/storage"
)

const proofingUsage = `  portti user set-identifier E --stdin         bind a registry identifier (e.g. a personal identity
                                               code, the first line of standard input) to an account,
                                               for strong identification; stored only as a keyed hash
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
