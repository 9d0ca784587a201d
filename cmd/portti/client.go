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

	"github.com/portti/portti/internal/app"
	"github.com/portti/portti/internal/oidc"
	"github.com/portti/portti/internal/storage"
)

const clientUsage = `  portti client add --id ID --redirect-uri URI [--redirect-uri URI ...]
        [--public] [--secret-stdin] [--grant TYPE ...] [--name NAME]
        [--post-logout-redirect-uri URI ...] [--backchannel-logout-uri URI]
        [--allowed-network CIDR ...] [--third-party] [--id-token-alg RS256|ES256]
        [--scope SCOPE ...] [--resource-server URI [--resource-scope SCOPE ...]]
        [--require-mfa] [--allow-group NAME ...]
                                               register an application (OpenID Connect client),
                                               or an API (--resource-server) that introspects
                                               the tokens other clients get for it
  portti client update --id ID [the flags of add] [--new-secret | --secret-stdin]
                                               change one in place: the flags given replace those
                                               fields (a list flag its whole list; '' empties it);
                                               its tokens and sign-ins stay
  portti client list                           the registered applications
  portti client remove ID                      remove one; its tokens stop working
                                               (not one from the configuration file's clients:)
  portti keys rotate                           new signing keys: in every node's JWKS within 30 s,
                                               signing in 10 min
  portti keys list                             the signing keys and their timeline
`

// clientFlagList collects a repeatable flag.
type clientFlagList []string

func (l *clientFlagList) String() string     { return strings.Join(*l, ",") }
func (l *clientFlagList) Set(v string) error { *l = append(*l, v); return nil }

// openForCommand opens the App the server would run, logging only
// warnings: an operator command's output is its answer. It leaves the
// database's clients as they are: the server syncs the configuration
// file's clients, and a command run without the server's --config must
// not remove them.
func openForCommand(ctx context.Context, configPath string, stderr io.Writer) (*app.App, error) {
	cfg, err := loadConfig(configPath)
	if err != nil {
		return nil, err
	}
	cfg.LogLevel = "warn"
	return app.New(ctx, cfg, newLogger(cfg, stderr), app.Options{KeepClients: true})
}

// clientCmd runs `portti client add|list|remove`.
func clientCmd(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New("client: say add, update, list or remove")
	}
	verb, args := args[0], args[1:]
	fs := flag.NewFlagSet("client "+verb, flag.ContinueOnError)
	configPath := fs.String("config", "", configUsage)
	switch verb {
	case "add":
		var spec oidc.ClientSpec
		flags := bindSpecFlags(fs, &spec)
		secretStdin := fs.Bool("secret-stdin", false, "read the client secret from the first line of standard input instead of generating one")
		positional, err := parseArgs(fs, args, stdout)
		if err != nil {
			return err
		}
		if err := noArgs(fs, positional); err != nil {
			return err
		}
		flags.lists(&spec)
		if *secretStdin {
			if spec.Public {
				return errors.New("client add: a public client has no secret; leave out --secret-stdin")
			}
			secret, err := readSecret(stdin, "client add")
			if err != nil {
				return err
			}
			spec.Secret = secret
		}
		a, err := openForCommand(ctx, *configPath, stderr)
		if err != nil {
			return err
		}
		defer a.Close()
		rec, clientSecret, err := oidc.RegisterClient(ctx, a.Store, spec, time.Now())
		var ce *oidc.ClientError
		if errors.As(err, &ce) {
			return fmt.Errorf("the client was not added:\n  %s", strings.Join(ce.Problems, "\n  "))
		}
		if err != nil {
			return err
		}
		describeClient(stdout, "added", a, rec, clientSecret, !*secretStdin)
		return nil

	case "update":
		var given oidc.ClientSpec
		flags := bindSpecFlags(fs, &given)
		secretStdin := fs.Bool("secret-stdin", false, "replace the client secret with the first line of standard input")
		newSecret := fs.Bool("new-secret", false, "replace the client secret with a generated one, printed once")
		positional, err := parseArgs(fs, args, stdout)
		if err != nil {
			return err
		}
		if err := noArgs(fs, positional); err != nil {
			return err
		}
		if given.ID == "" {
			return errors.New("client update: give --id")
		}
		if *secretStdin && *newSecret {
			return errors.New("client update: give --secret-stdin or --new-secret, not both")
		}
		flags.lists(&given)
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		if *secretStdin {
			secret, err := readSecret(stdin, "client update")
			if err != nil {
				return err
			}
			given.Secret = secret
		}
		a, err := openForCommand(ctx, *configPath, stderr)
		if err != nil {
			return err
		}
		defer a.Close()
		rec, clientSecret, err := oidc.UpdateClient(ctx, a.Store, given.ID, func(spec *oidc.ClientSpec) {
			flags.copySet(spec, &given, set)
			spec.Secret = given.Secret
		}, *newSecret, time.Now())
		var ce *oidc.ClientError
		if errors.As(err, &ce) {
			return fmt.Errorf("the client was not changed:\n  %s", strings.Join(ce.Problems, "\n  "))
		}
		if err != nil {
			return err
		}
		describeClient(stdout, "updated", a, rec, clientSecret, clientSecret != "" && !*secretStdin)
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
		clients, err := a.Store.ListClients(ctx)
		if err != nil {
			return err
		}
		if len(clients) == 0 {
			fmt.Fprintln(stdout, "no clients; add one with `portti client add`")
			return nil
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tTYPE\tFROM\tGRANTS\tSCOPES\tREDIRECT URIS\tNETWORKS\tNAME")
		for _, c := range clients {
			kind := "confidential"
			if c.Public {
				kind = "public"
			}
			if c.ThirdParty {
				kind += ",third-party"
			}
			if c.ResourceServer != "" {
				kind += ",api " + c.ResourceServer
			}
			if c.RequireMFA {
				kind += ",mfa"
			}
			if len(c.AllowedGroups) > 0 {
				kind += ",groups " + strings.Join(c.AllowedGroups, "|")
			}
			nets := strings.Join(c.AllowedNetworks, " ")
			if nets == "" {
				nets = "any"
			}
			from := "command"
			if c.Source == storage.ClientSourceConfig {
				from = "config file"
			}
			scopes := strings.Join(c.Scopes, " ")
			if scopes == "" {
				scopes = "-"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.ID, kind, from, strings.Join(c.GrantTypes, ","),
				scopes, strings.Join(c.RedirectURIs, " "), nets, c.Name)
		}
		return tw.Flush()

	case "remove":
		// Flags may follow the ID ("client remove ID --config F"): a
		// --config left unread would remove from another database.
		positional, err := parseArgs(fs, args, stdout)
		if err != nil {
			return err
		}
		if len(positional) != 1 {
			return fmt.Errorf("client remove: give one client ID, not %q\n\n%s", positional, flagUsage(fs))
		}
		id := positional[0]
		a, err := openForCommand(ctx, *configPath, stderr)
		if err != nil {
			return err
		}
		defer a.Close()
		c, err := a.Store.GetClient(ctx, id)
		if errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("no client %q", id)
		} else if err != nil {
			return err
		}
		if c.Source == storage.ClientSourceConfig {
			return fmt.Errorf("client %q comes from the configuration file (clients:): remove it there, then reload portti "+
				"(send it SIGHUP: kill -HUP PID) or restart it; portti removes it and its tokens then", id)
		}
		if err := a.Store.DeleteClient(ctx, id); errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("no client %q", id)
		} else if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "removed client %s: its tokens are gone, and every portti node refuses it within seconds\n", id)
		return nil
	}
	return fmt.Errorf("client: unknown command %q (add, update, list, remove)", verb)
}

// specFlags are the flags that describe a client, shared by client add
// and client update.
type specFlags struct {
	redirects, postLogout, grants, networks, scopes, resourceScopes, groups clientFlagList
}

func bindSpecFlags(fs *flag.FlagSet, spec *oidc.ClientSpec) *specFlags {
	f := &specFlags{}
	fs.StringVar(&spec.ID, "id", "", "client ID: letters, digits, - _ . ~ (public: it is in every sign-in URL)")
	fs.StringVar(&spec.Name, "name", "", "the application's name, shown to people")
	fs.Var(&f.redirects, "redirect-uri", "where sign-ins return; matched exactly (repeatable)")
	fs.Var(&f.postLogout, "post-logout-redirect-uri", "where sign-outs may return; matched exactly (repeatable)")
	fs.Var(&f.grants, "grant", "authorization_code, refresh_token or client_credentials (repeatable; default the first two)")
	fs.Var(&f.networks, "allowed-network", "CIDR the application may be used from (repeatable; default anywhere)")
	fs.Var(&f.groups, "allow-group", "only members of this group (its name, as the registry sends it over SCIM) may sign in (repeatable; default anyone)")
	fs.Var(&f.scopes, "scope", "a scope client_credentials may grant, such as books:read, also asked for on a person's behalf by a first-party client (repeatable; needs --grant client_credentials or authorization_code)")
	fs.StringVar(&spec.ResourceServer, "resource-server", "", "make the client an API with this identifier (RFC 8707), e.g. https://api.example.fi/grades: other clients ask for tokens for it with resource=, and it introspects them; without --grant it gets no grant")
	fs.Var(&f.resourceScopes, "resource-scope", "a scope the API accepts; tokens for it carry only these (repeatable; default any)")
	fs.BoolVar(&spec.Public, "public", false, "a native or browser app: no secret, PKCE required")
	fs.StringVar(&spec.BackchannelLogoutURI, "backchannel-logout-uri", "", "where portti sends logout tokens")
	fs.BoolVar(&spec.ThirdParty, "third-party", false, "ask people for consent before sharing their data")
	fs.StringVar(&spec.IDTokenAlg, "id-token-alg", "", "id_token signature: RS256 (default) or ES256")
	fs.BoolVar(&spec.RequireMFA, "require-mfa", false, "every sign-in needs a second factor (--require-mfa=false to lift)")
	return f
}

// lists puts the repeatable flags into spec. A list flag given once with
// an empty value ("--allowed-network ”") is an empty list.
func (f *specFlags) lists(spec *oidc.ClientSpec) {
	list := func(l clientFlagList) []string {
		if len(l) == 1 && l[0] == "" {
			return []string{}
		}
		return l
	}
	spec.RedirectURIs, spec.PostLogoutRedirectURIs = list(f.redirects), list(f.postLogout)
	spec.GrantTypes, spec.AllowedNetworks, spec.Scopes = list(f.grants), list(f.networks), list(f.scopes)
	spec.ResourceScopes, spec.AllowedGroups = list(f.resourceScopes), list(f.groups)
}

// copySet copies into spec the fields of given whose flags were set: what
// client update changes. A list flag replaces the whole list.
func (f *specFlags) copySet(spec, given *oidc.ClientSpec, set map[string]bool) {
	for name, copyField := range map[string]func(){
		"name":                     func() { spec.Name = given.Name },
		"redirect-uri":             func() { spec.RedirectURIs = given.RedirectURIs },
		"post-logout-redirect-uri": func() { spec.PostLogoutRedirectURIs = given.PostLogoutRedirectURIs },
		"grant":                    func() { spec.GrantTypes = given.GrantTypes },
		"allowed-network":          func() { spec.AllowedNetworks = given.AllowedNetworks },
		"scope":                    func() { spec.Scopes = given.Scopes },
		"public":                   func() { spec.Public = given.Public },
		"backchannel-logout-uri":   func() { spec.BackchannelLogoutURI = given.BackchannelLogoutURI },
		"third-party":              func() { spec.ThirdParty = given.ThirdParty },
		"id-token-alg":             func() { spec.IDTokenAlg = given.IDTokenAlg },
		"resource-server":          func() { spec.ResourceServer = given.ResourceServer },
		"resource-scope":           func() { spec.ResourceScopes = given.ResourceScopes },
		"require-mfa":              func() { spec.RequireMFA = given.RequireMFA },
		"allow-group":              func() { spec.AllowedGroups = given.AllowedGroups },
	} {
		if set[name] {
			copyField()
		}
	}
}

// readSecret reads a client secret from the first line of stdin.
func readSecret(stdin io.Reader, cmd string) (string, error) {
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("%s: read secret: %w", cmd, err)
	}
	secret := strings.TrimRight(line, "\r\n")
	if secret == "" {
		return "", fmt.Errorf("%s: --secret-stdin given but standard input is empty", cmd)
	}
	return secret, nil
}

// describeClient prints what client add and client update did, with the
// client secret when portti made one (printed once; it keeps only its
// SHA-256).
func describeClient(stdout io.Writer, done string, a *app.App, rec storage.Client, clientSecret string, showSecret bool) {
	kind := "confidential"
	if rec.Public {
		kind = "public, PKCE S256 required"
	}
	fmt.Fprintf(stdout, "%s client %s (%s)\n", done, rec.ID, kind)
	fmt.Fprintf(stdout, "issuer:        %s\n", a.OIDC.Issuer())
	fmt.Fprintf(stdout, "discovery:     %s%s\n", a.OIDC.Issuer(), oidc.PathDiscovery)
	grants := strings.Join(rec.GrantTypes, ", ")
	if grants == "" {
		grants = "none (an API: it introspects tokens)"
	}
	fmt.Fprintf(stdout, "grant types:   %s\n", grants)
	if rec.ResourceServer != "" {
		fmt.Fprintf(stdout, "API:           %s (other clients ask for tokens with resource=%s)\n", rec.ResourceServer, rec.ResourceServer)
		if len(rec.ResourceScopes) > 0 {
			fmt.Fprintf(stdout, "accepts:       %s\n", strings.Join(rec.ResourceScopes, " "))
		}
		fmt.Fprintf(stdout, "introspection: %s%s\n", a.OIDC.Issuer(), oidc.PathIntrospect)
	}
	if len(rec.Scopes) > 0 {
		fmt.Fprintf(stdout, "scopes:        %s\n", strings.Join(rec.Scopes, " "))
	}
	if !rec.Public && showSecret {
		fmt.Fprintf(stdout, "client secret: %s\n", clientSecret)
		fmt.Fprintln(stdout, "Store the secret now: it is not shown again. To replace it: portti client update --id "+rec.ID+" --new-secret")
	}
}

// describeRotation says when the keys just made reach whom. The CLI only
// stores them: each running node publishes them when it next reloads its
// keys (oidc.KeyReloadInterval), and relying parties may hold the JWKS
// they fetched before for oidc.JWKSMaxAge more, which is why a new key
// signs only after the publish delay.
func describeRotation(w io.Writer, ids []string, keys []storage.SigningKey, now time.Time) {
	var signFrom time.Time
	for _, k := range keys {
		for _, id := range ids {
			if k.ID == id && (signFrom.IsZero() || k.SignFrom.Before(signFrom)) {
				signFrom = k.SignFrom
			}
		}
	}
	nodes := now.Add(oidc.KeyReloadInterval)
	caches := nodes.Add(oidc.JWKSMaxAge)
	fmt.Fprintf(w, "new signing keys %s stored.\n", strings.Join(ids, ", "))
	fmt.Fprintf(w, "  in the JWKS of every running portti node by %s (each reloads the keys every %s)\n", when(nodes), span(oidc.KeyReloadInterval))
	fmt.Fprintf(w, "  in the applications' cached JWKS by %s (cached for up to %s)\n", when(caches), span(oidc.JWKSMaxAge))
	fmt.Fprintf(w, "  signing from %s; the keys they replace stay published until the tokens they signed have expired\n\n", when(signFrom))
}

// span writes a whole number of minutes or seconds as people do: "5 min",
// "30 s".
func span(d time.Duration) string {
	if d >= time.Minute && d%time.Minute == 0 {
		return fmt.Sprintf("%d min", d/time.Minute)
	}
	if d%time.Second == 0 {
		return fmt.Sprintf("%d s", d/time.Second)
	}
	return d.String()
}

// keysCmd runs `portti keys rotate|list`.
func keysCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New("keys: say rotate or list")
	}
	verb, args := args[0], args[1:]
	if verb != "rotate" && verb != "list" {
		return fmt.Errorf("keys: unknown command %q (rotate, list)", verb)
	}
	fs := flag.NewFlagSet("keys "+verb, flag.ContinueOnError)
	configPath := fs.String("config", "", configUsage)
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
	var rotated []string
	if verb == "rotate" {
		if rotated, err = a.OIDC.RotateKeys(ctx); err != nil {
			return err
		}
	}
	keys, err := a.OIDC.SigningKeys(ctx)
	if err != nil {
		return err
	}
	if len(rotated) > 0 {
		describeRotation(stdout, rotated, keys, time.Now())
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KID\tALG\tCREATED\tSIGNS FROM\tRETIRED\tLEAVES JWKS")
	for _, k := range keys {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Alg, when(k.CreatedAt), when(k.SignFrom), when(k.RetiredAt), when(k.ExpiresAt))
	}
	return tw.Flush()
}
