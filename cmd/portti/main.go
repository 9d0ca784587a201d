// Command portti is the login service: `portti serve` runs it, and the
// `portti user` commands let an operator manage accounts on the same
// database while it runs.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/portti/portti/internal/account"
	"github.com/portti/portti/internal/app"
	"github.com/portti/portti/internal/buildinfo"
	"github.com/portti/portti/internal/config"
	"github.com/portti/portti/internal/i18n"
	"github.com/portti/portti/internal/storage"
)

// version is the release, stamped by a release build with
// -ldflags "-X main.version=v1.4.0"; empty, the Go toolchain's record of
// the module version and git revision tells (see buildinfo).
var version string

const usage = `portti — login service and self-service account portal

Usage:
  portti --version                             the version and the revision it was built from
  portti serve [--config FILE]                 run the server; on SIGHUP it re-reads FILE
                                               and syncs its clients (other settings: restart)
  portti user add --email E --given-name G --family-name F --password-stdin
  portti user show E                           an account's state
  portti user unlock E                         clear a lockout, saying what it cleared
  portti user disable E                        stop an account from logging in
  portti user enable E                         let it log in again
  portti user mfa reset E --reason TEXT        remove every second factor (the person lost them),
                                               end the sessions, tell the owner, audit the reason
` + adminUsage + proofingUsage + federationUsage + guestsUsage + clientUsage + samlUsage + importUsage + `
Every command reads the same configuration: --config FILE (YAML) and the
PORTTI_* environment variables, which override the file. An unknown
PORTTI_* variable is refused, as an unknown key in the file is.
Each command's --help lists its flags.
`

func main() {
	if len(os.Args) > 1 && os.Args[1] == "serve" {
		tuneGC() // gc.go
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "portti:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	err := dispatch(ctx, args, stdin, stdout, stderr)
	if errors.Is(err, errHelp) {
		return nil
	}
	return err
}

func dispatch(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, usage)
		return nil
	}
	switch args[0] {
	case "--version", "-version", "version":
		if len(args) > 1 {
			return fmt.Errorf("%s: unexpected argument %q: it takes none", args[0], args[1])
		}
		fmt.Fprintln(stdout, "portti", buildinfo.Read(version))
		return nil
	case "serve":
		hup := make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
		defer signal.Stop(hup)
		return serve(ctx, args[1:], stdout, stderr, hup)
	case "user":
		if len(args) < 2 {
			return errors.New("user: say add, show, unlock, disable, enable, mfa, grant or revoke")
		}
		if args[1] == "mfa" {
			return userMFA(ctx, args[2:], stdout, stderr)
		}
		if args[1] == "grant" || args[1] == "revoke" {
			return userRole(ctx, args[1], args[2:], stdout, stderr) // admin.go
		}
		if args[1] == "link" || args[1] == "unlink" || args[1] == "links" {
			return userLink(ctx, args[1], args[2:], stdout, stderr) // federation.go
		}
		if args[1] == "set-identifier" {
			return userSetIdentifier(ctx, args[2:], stdin, stdout, stderr)
		}
		if args[1] == "unset-identifier" {
			return userUnsetIdentifier(ctx, args[2:], stdout, stderr) // proofing.go
		}
		return user(ctx, args[1], args[2:], stdin, stdout, stderr)
	case "client":
		return clientCmd(ctx, args[1:], stdin, stdout, stderr)
	case "notice":
		return noticeCmd(ctx, args[1:], stdout, stderr) // admin.go
	case "keys":
		return keysCmd(ctx, args[1:], stdout, stderr)
	case "proofing":
		return proofingCmd(ctx, args[1:], stdout, stderr)
	case "saml":
		return samlCmd(ctx, args[1:], stdout, stderr) // saml.go
	case "guest":
		return guestCmd(ctx, args[1:], stdout, stderr) // guests.go
	case "import":
		return importCmd(ctx, args[1:], stdout, stderr) // import.go
	}
	return fmt.Errorf("unknown command %q\n\n%s", args[0], usage)
}

// loadConfig reads --config and the environment, refusing PORTTI_*
// variables that are no setting.
func loadConfig(path string) (config.Config, error) {
	return config.LoadEnviron(path, os.Environ())
}

func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// serve runs the server until ctx ends. Each value on reload (SIGHUP in
// the binary; a channel of their own in tests) reloads the configuration.
func serve(ctx context.Context, args []string, stdout, stderr io.Writer, reload <-chan os.Signal) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	configPath := fs.String("config", "", configUsage)
	positional, err := parseArgs(fs, args, stdout)
	if err != nil {
		return err
	}
	if err := noArgs(fs, positional); err != nil {
		return err
	}
	started := time.Now()
	build := buildinfo.Read(version)
	cfg, err := loadConfig(*configPath)
	if err != nil {
		return err
	}
	logger := newLogger(cfg, stderr)
	// zitadel/oidc logs through slog.Default; send it where ours goes.
	slog.SetDefault(logger)
	a, err := app.New(ctx, cfg, logger, app.Options{Build: build})
	if err != nil {
		return err
	}
	defer a.Close()
	a.OIDC.WarnUnsealedKeys()

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           a.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	workers, stopWorkers := context.WithCancel(ctx)
	defer stopWorkers()
	a.RunWorkers(workers)
	if addr := os.Getenv("PORTTI_PPROF"); addr != "" {
		// Opt-in profiling (portti-bench --profile) on a listener of its
		// own, never on the public one.
		pl, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("PORTTI_PPROF: %w", err)
		}
		defer pl.Close()
		pm := http.NewServeMux()
		pm.HandleFunc("/debug/pprof/", pprof.Index)
		pm.HandleFunc("/debug/pprof/profile", pprof.Profile)
		pm.HandleFunc("/debug/pprof/trace", pprof.Trace)
		go func() { _ = http.Serve(pl, pm) }()
		logger.Warn("pprof is serving", "listen", pl.Addr().String())
	}

	mode := "smtp"
	if a.Outbox.DevMode() {
		mode = "dev outbox (no SMTP configured: links are logged and listed at " + cfg.PublicURL + "/dev/mail)"
	}
	logger.Info("portti is serving", "version", build.String(), "url", cfg.PublicURL, "listen", ln.Addr().String(),
		"database", cfg.Dialect(), "mail", mode, "startup", time.Since(started).Round(time.Millisecond).String())
	fmt.Fprintf(stdout, "portti is serving at %s\n", cfg.PublicURL)

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
serving:
	for {
		select {
		case err := <-errc:
			return err
		case <-ctx.Done():
			break serving
		case <-reload:
			reloadConfig(ctx, *configPath, cfg, a, logger)
		}
	}
	logger.Info("shutting down")
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return srv.Shutdown(shutdown)
}

// reloadConfig re-reads the configuration (SIGHUP) and syncs its clients
// into the database. Nothing else is applied while running: the settings
// that changed are logged as waiting for a restart. A configuration with
// problems changes nothing.
func reloadConfig(ctx context.Context, path string, running config.Config, a *app.App, logger *slog.Logger) {
	next, err := loadConfig(path)
	if err != nil {
		logger.Error("configuration not reloaded: nothing changed (fix the file and send SIGHUP again)", "file", path, "error", err)
		return
	}
	res, err := a.SyncClients(ctx, next.Clients)
	if err != nil {
		logger.Error("configuration reloaded, but its clients were not synced", "file", path, "error", err)
		return
	}
	logger.Info("configuration reloaded", "file", path, "clients_created", len(res.Created), "clients_updated", len(res.Updated),
		"clients_removed", len(res.Removed), "clients_unchanged", len(res.Unchanged), "clients_refused", len(res.Conflicts))
	if err := a.SyncSAMLServices(ctx, next.SAML.ServiceProviders); err != nil {
		logger.Error("configuration reloaded, but its SAML services were not synced", "file", path, "error", err)
	}
	var restart []string
	for _, k := range config.ChangedKeys(running, next) {
		if k != "clients" && k != "saml.service_providers" {
			restart = append(restart, k)
		}
	}
	if len(restart) > 0 {
		logger.Warn("settings changed that take effect only when portti restarts; only clients are applied on reload",
			"keys", strings.Join(restart, ","))
	}
}

func user(ctx context.Context, verb string, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	switch verb {
	case "add", "show", "unlock", "disable", "enable":
	default:
		return fmt.Errorf("user: unknown command %q (add, show, unlock, disable, enable)", verb)
	}
	fs := flag.NewFlagSet("user "+verb, flag.ContinueOnError)
	configPath := fs.String("config", "", configUsage)
	email := fs.String("email", "", "the account's e-mail `ADDRESS` (its login name; or give it as the argument)")
	var given, family *string
	var passwordStdin *bool
	if verb == "add" {
		given = fs.String("given-name", "", "first `NAME`")
		family = fs.String("family-name", "", "last `NAME`")
		passwordStdin = fs.Bool("password-stdin", false, "read the password from the first line of standard input")
	}
	positional, err := parseArgs(fs, args, stdout)
	if err != nil {
		return err
	}
	if *email != "" {
		positional = append(positional, *email)
	}
	switch len(positional) {
	case 0:
		return fmt.Errorf("user %s: give the account's e-mail address", verb)
	case 1:
		*email = positional[0]
	default:
		return fmt.Errorf("user %s: give one e-mail address, not %q\n\n%s", verb, positional, flagUsage(fs))
	}
	if *email == "" {
		return fmt.Errorf("user %s: give the account's e-mail address", verb)
	}
	cfg, err := loadConfig(*configPath)
	if err != nil {
		return err
	}
	// Operator commands log only warnings: their output is the answer.
	cfg.LogLevel = "warn"
	a, err := app.New(ctx, cfg, newLogger(cfg, stderr), app.Options{KeepClients: true})
	if err != nil {
		return err
	}
	defer a.Close()
	m := account.Meta{ClientIP: "cli", UserAgent: "portti user " + verb, Lang: "en"}

	var acc storage.Account
	switch verb {
	case "add":
		if !*passwordStdin {
			return errors.New("user add: --password-stdin is required (a password on the command line would end up in shell history)")
		}
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("user add: read password: %w", err)
		}
		pw := strings.TrimRight(line, "\r\n")
		acc, err = a.Accounts.AddUser(ctx, *email, account.Profile{GivenName: *given, FamilyName: *family}, pw, m)
		var v account.ValidationError
		if errors.As(err, &v) {
			return describeValidation(v)
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "added %s (id %s), activated\n", acc.Email, acc.ID)
		return nil
	case "show":
		acc, err = a.Accounts.Find(ctx, *email)
	case "unlock":
		var u account.Unlocked
		u, err = a.Accounts.Unlock(ctx, *email, m)
		acc = u.Account
		if err == nil {
			fmt.Fprintln(stdout, describeUnlock(u))
		}
	case "disable":
		acc, err = a.Accounts.Disable(ctx, *email, m)
	case "enable":
		acc, err = a.Accounts.Enable(ctx, *email, m)
	}
	if errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("no account with e-mail address %s", *email)
	}
	if err != nil {
		return err
	}
	st, err := a.Accounts.Status(ctx, acc)
	if err != nil {
		return err
	}
	printStatus(stdout, st)
	if err := printIdentity(ctx, stdout, a, acc); err != nil {
		return err
	}
	return printMethods(ctx, stdout, a, acc)
}

// describeUnlock says what `user unlock` did, so that the helpdesk can
// tell the person what was wrong, or that nothing was.
func describeUnlock(u account.Unlocked) string {
	var did []string
	if !u.LockedUntil.IsZero() {
		did = append(did, "lock until "+when(u.LockedUntil)+" lifted")
	}
	switch u.FailedLogins {
	case 0:
	case 1:
		did = append(did, "1 failed attempt cleared")
	default:
		did = append(did, fmt.Sprintf("%d failed attempts cleared", u.FailedLogins))
	}
	switch u.Browsers {
	case 0:
	case 1:
		did = append(did, "failed attempts of 1 of the owner's own browsers cleared")
	default:
		did = append(did, fmt.Sprintf("failed attempts of %d of the owner's own browsers cleared", u.Browsers))
	}
	e := u.Account.Email
	switch {
	case !u.Changed():
		return e + " was not locked and had no failed attempts: nothing to clear"
	case u.LockedUntil.IsZero():
		return e + " was not locked; " + strings.Join(did, ", ")
	}
	return "unlocked " + e + ": " + strings.Join(did, ", ")
}

// describeValidation says what is wrong in the words the registration form
// uses, with the stable code for scripts and searches.
func describeValidation(v account.ValidationError) error {
	cat, _ := i18n.Load()
	var b strings.Builder
	b.WriteString("the account was not added:")
	for _, e := range v {
		fmt.Fprintf(&b, "\n  %s: ", strings.ReplaceAll(e.Field, "_", " "))
		if cat != nil && cat.Has(e.Code) {
			fmt.Fprintf(&b, "%s (%s)", cat.T("en", e.Code, e.Args), e.Code)
		} else {
			b.WriteString(e.Code)
		}
	}
	return errors.New(b.String())
}

func printStatus(w io.Writer, st account.Status) {
	a := st.Account
	yes := func(b bool) string {
		if b {
			return "yes"
		}
		return "no"
	}
	fmt.Fprintf(w, "email:            %s\n", a.Email)
	fmt.Fprintf(w, "id:               %s\n", a.ID)
	fmt.Fprintf(w, "name:             %s %s\n", a.GivenName, a.FamilyName)
	fmt.Fprintf(w, "activated:        %s (%s)\n", yes(a.Activated()), when(a.ActivatedAt))
	fmt.Fprintf(w, "disabled:         %s\n", yes(a.Disabled))
	fmt.Fprintf(w, "locked:           %s", yes(st.Locked))
	if st.Locked {
		fmt.Fprintf(w, " (until %s)", when(a.LockedUntil))
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "failed attempts:  %d\n", a.FailedLogins)
	fmt.Fprintf(w, "password changed: %s (age %s)\n", when(a.PasswordChangedAt), st.PasswordAge.Round(time.Second))
	if !st.PasswordExpiry.IsZero() {
		fmt.Fprintf(w, "password expires: %s\n", when(st.PasswordExpiry))
	}
	if a.PendingEmail != "" {
		fmt.Fprintf(w, "pending e-mail:   %s\n", a.PendingEmail)
	}
	fmt.Fprintf(w, "active sessions:  %d\n", st.Sessions)
	fmt.Fprintf(w, "created:          %s\n", when(a.CreatedAt))
}
