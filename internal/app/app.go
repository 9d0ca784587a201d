// Package app assembles portti from a Config: the database, the account
// rules, e-mail, sessions and the web front. The binary and the end-to-end
// tests build the same App, so what the tests drive is what runs.
package app

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/portti/portti/internal/account"
	"github.com/portti/portti/internal/activation"
	"github.com/portti/portti/internal/admin"
	"github.com/portti/portti/internal/audit"
	"github.com/portti/portti/internal/authn"
	"github.com/portti/portti/internal/authn/accesspass"
	"github.com/portti/portti/internal/authn/passkey"
	"github.com/portti/portti/internal/authn/recoverycode"
	"github.com/portti/portti/internal/authn/totp"
	"github.com/portti/portti/internal/buildinfo"
	"github.com/portti/portti/internal/config"
	"github.com/portti/portti/internal/federation"
	"github.com/portti/portti/internal/guests"
	"github.com/portti/portti/internal/i18n"
	"github.com/portti/portti/internal/loginhelp"
	"github.com/portti/portti/internal/mail"
	"github.com/portti/portti/internal/oidc"
	"github.com/portti/portti/internal/password"
	"github.com/portti/portti/internal/proofing"
	"github.com/portti/portti/internal/provision"
	"github.com/portti/portti/internal/saml"
	"github.com/portti/portti/internal/session"
	"github.com/portti/portti/internal/storage"
	"github.com/portti/portti/internal/storage/sqlstore"
	"github.com/portti/portti/internal/web"
)

// App is a wired portti.
type App struct {
	Config   config.Config
	Store    storage.Storage
	Accounts *account.Service
	MFA      *authn.Service
	Outbox   *mail.Outbox
	Sessions *session.Manager
	Web      *web.Server
	OIDC     *oidc.Provider
	Admin    *admin.Service // the helpdesk console and its API
	// Proofing is strong identification (/proofing/); nil when no
	// provider is configured and no key encryption key is set.
	Proofing *proofing.Service
	// Federation is sign-in with a home organisation (/federation/);
	// nil when no provider is configured.
	Federation *federation.Service
	SAML       *saml.Provider
	// Provision is the SCIM service provider at /scim/v2 (issue 11).
	Provision *provision.Server
	// Activation is the activation page of provisioned accounts
	// (/activation, issue 11 point 4).
	Activation http.Handler
	Guests     *guests.Service      // guest invitations (/guests/, /admin/guests)
	Lifecycle  *provision.Lifecycle // lifecycle.go: provisioned accounts' states
	logger     *slog.Logger
	now        func() time.Time
}

// Options are what tests and operator commands may change.
type Options struct {
	Now func() time.Time
	// KeepClients leaves the database's clients as they are instead of
	// syncing cfg.Clients into them. Operator commands set it: they may
	// run with another --config than the server (or none), and must not
	// remove the server's clients.
	KeepClients bool
	// Build is the running version, shown by /healthz.
	Build buildinfo.Info
}

// New opens the database (running migrations), wires every part, and
// syncs the configuration file's clients into the database (see
// SyncClients) unless opt.KeepClients.
func New(ctx context.Context, cfg config.Config, logger *slog.Logger, opt Options) (*App, error) {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	store, err := sqlstore.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	a, err := wire(store, cfg, logger, opt)
	if err != nil {
		store.Close()
		return nil, err
	}
	if !opt.KeepClients {
		if _, err := a.SyncClients(ctx, cfg.Clients); err != nil {
			store.Close()
			return nil, err
		}
		// A service whose metadata cannot be fetched now keeps its last
		// registration (nothing is removed then): portti starts anyway.
		if err := a.SyncSAMLServices(ctx, cfg.SAML.ServiceProviders); err != nil {
			logger.ErrorContext(ctx, "SAML services from the configuration file not all registered", "error", err)
		}
	}
	return a, nil
}

// SyncClients makes the clients the configuration file manages match
// clients: it adds the new ones, updates the changed ones and removes
// those no longer listed, leaving clients added with `portti client add`
// alone (oidc.SyncClients). It logs what it changed, and as an error each
// listed client whose ID a `portti client add` client already has (that
// one is not registered; the rest are). It runs at start-up and when the
// server reloads its configuration (SIGHUP).
func (a *App) SyncClients(ctx context.Context, clients []config.Client) (oidc.SyncResult, error) {
	specs := make([]oidc.ClientSpec, len(clients))
	for i, c := range clients {
		specs[i] = c.Spec()
	}
	res, err := a.OIDC.SyncClients(ctx, specs)
	if err != nil {
		return res, fmt.Errorf("clients from the configuration file: %w", err)
	}
	for _, id := range res.Conflicts {
		a.logger.ErrorContext(ctx, "client in the configuration file not registered: a client added with `portti client add` has its ID; "+
			"give the file's client another ID, or remove the other one with `portti client remove`", "client", id)
	}
	if changed := res.Changed(); len(changed) > 0 {
		a.logger.InfoContext(ctx, "clients from the configuration file synced",
			"created", strings.Join(res.Created, ","), "updated", strings.Join(res.Updated, ","),
			"removed", strings.Join(res.Removed, ","), "unchanged", len(res.Unchanged))
	}
	return res, nil
}

// SyncSAMLServices registers the configuration file's SAML services
// (saml.service_providers) and removes those it no longer lists, at
// start-up and on reload (SIGHUP).
func (a *App) SyncSAMLServices(ctx context.Context, services []config.SAMLServiceProvider) error {
	list := make([]saml.ConfiguredService, len(services))
	for i, sp := range services {
		list[i] = saml.ConfiguredService{Metadata: sp.Metadata, Release: sp.Release}
	}
	if err := a.SAML.SyncServices(ctx, list); err != nil {
		return fmt.Errorf("SAML services from the configuration file: %w", err)
	}
	return nil
}

func wire(store storage.Storage, cfg config.Config, logger *slog.Logger, opt Options) (*App, error) {
	policy, err := password.NewPolicy(cfg.PasswordPolicy)
	if err != nil {
		return nil, err
	}
	params := password.DefaultParams
	params.Memory, params.Time, params.Threads = cfg.Argon2.Memory, cfg.Argon2.Time, cfg.Argon2.Threads
	if err := params.Validate(); err != nil {
		return nil, fmt.Errorf("argon2: %w", err)
	}
	renderer, err := mail.NewRenderer(mail.RendererConfig{Product: "portti", Support: cfg.SupportContact,
		TermsURL: cfg.TermsURL.For, PrivacyURL: cfg.PrivacyURL.For})
	if err != nil {
		return nil, err
	}
	var sender mail.Sender
	if cfg.SMTPURL != "" {
		s, err := mail.NewSMTPSender(cfg.SMTPURL, cfg.MailFrom)
		if err != nil {
			return nil, fmt.Errorf("smtp: %w", err)
		}
		sender = s
	}
	outbox, err := mail.NewOutbox(mail.OutboxConfig{Store: store, Renderer: renderer, Sender: sender, Logger: logger, Now: opt.Now})
	if err != nil {
		return nil, err
	}
	// A session that ends anywhere (a logout, a password reset, a disabled
	// account) is reported to the OpenID Connect provider, which tells the
	// applications signed in through it (back-channel logout).
	var provider *oidc.Provider
	sessionEnded := func(ctx context.Context, sessionID string) {
		if err := provider.SessionEnded(ctx, sessionID); err != nil {
			logger.ErrorContext(ctx, "back-channel logout not queued", "error", err)
		}
	}
	// Multi-factor authentication: one line per method (package authn).
	// The sign-in asks authn whether a second step remains.
	var mfa *authn.Service
	secrets, err := authn.NewSealer(cfg.KeyEncryptionKeyBytes(), rand.Reader)
	if err != nil {
		return nil, err
	}
	forms, err := authn.NewFormSealer(cfg.KeyEncryptionKeyBytes(), rand.Reader)
	if err != nil {
		return nil, err
	}
	offered := []authn.Method{
		totp.New(totp.Config{Issuer: "portti", Secrets: secrets, Forms: forms, Random: rand.Reader, Now: opt.Now}),
		recoverycode.New(rand.Reader),
	}
	// Passkeys: the relying party is the public URL's host, which must be
	// a domain name (WebAuthn refuses IP addresses; localhost works).
	switch passkeys, err := passkey.New(passkey.Config{PublicURL: cfg.PublicURL, Product: "portti", Forms: forms, Store: store, Random: rand.Reader, Now: opt.Now}); {
	case errors.Is(err, passkey.ErrIPAddress):
		logger.Warn("passkeys are off", "reason", err.Error())
	case err != nil:
		return nil, err
	default:
		offered = append(offered, passkeys)
	}
	// A home organisation's sign-in is a factor too (amr, acr).
	offered = append(offered, federation.Methods()...)
	methods := authn.NewRegistry(offered...)
	// Provisioning (issue 11): user types from addresses and what the
	// registries say, for the sign-in policy and the claims.
	userTypes, err := provision.NewUserTypes(cfg.UserTypeRules())
	if err != nil {
		return nil, err
	}
	registryOnly, err := provision.NewPatterns(cfg.Provision.RegistryOnly)
	if err != nil {
		return nil, err
	}
	directory := &provision.Directory{Store: store, UserTypes: userTypes}
	// The user type (staff, student, external, guest…) for the MFA
	// policy and SAML's affiliations. No context here (authn's RequiredFor
	// is a pure check); a lookup that fails leaves the domain patterns
	// to decide, and SAML releases "member".
	userType := func(a storage.Account) string {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		t, err := directory.UserType(ctx, a)
		if err != nil {
			logger.Error("user type not read", "account_id", a.ID, "error", err)
		}
		return t
	}
	accounts := account.New(account.Config{
		Store: store, Hasher: password.NewHasher(params), Policy: policy, Outbox: outbox,
		Audit: audit.NewRecorder(store, logger, opt.Now), Logger: logger,
		PublicURL:     strings.TrimSuffix(cfg.PublicURL, "/"),
		ActivationTTL: cfg.ActivationTTL, RecoveryTTL: cfg.RecoveryTTL, EmailChangeTTL: cfg.EmailChangeTTL,
		LockoutThreshold: cfg.LockoutThreshold, LockoutDuration: cfg.LockoutDuration,
		PasswordMaxAge: cfg.PasswordMaxAge, TermsVersion: cfg.TermsVersion,
		ThrottleLimit: cfg.ThrottleLimit, ThrottleWindow: cfg.ThrottleWindow,
		OnSessionsEnded: func(ctx context.Context, ids []string) {
			for _, id := range ids {
				sessionEnded(ctx, id)
			}
		},
		SecondStep: func(ctx context.Context, a storage.Account) (bool, error) {
			return mfa.SecondStepNeeded(ctx, a)
		},
		RegistryOnly: registryOnly.Match,
		Activation:   account.ActivationConfig{RegistryDelay: cfg.RegistryDelay},
		Now:          opt.Now,
	})
	mfa = authn.New(authn.Config{
		Store: store, Registry: methods, Accounts: accounts, Outbox: outbox,
		Audit: audit.NewRecorder(store, logger, opt.Now), Logger: logger,
		PublicURL: strings.TrimSuffix(cfg.PublicURL, "/"),
		Policy: authn.Policy{
			Required:        cfg.MFA.Policy == config.MFARequired,
			RequiredDomains: cfg.MFA.RequiredDomains, OptionalDomains: cfg.MFA.OptionalDomains,
			RequiredTypes: cfg.MFA.RequiredTypes, OptionalTypes: cfg.MFA.OptionalTypes,
		},
		UserType:        userType,
		RememberBrowser: cfg.MFA.RememberBrowser,
		EnrolmentGrace:  cfg.MFA.EnrolmentGrace,
		ACR:             authn.ACRNames{MFA: cfg.MFA.ACRMFA, Password: cfg.MFA.ACRPassword},
		OnSessionsEnded: func(ctx context.Context, ids []string) {
			for _, id := range ids {
				sessionEnded(ctx, id)
			}
		},
		Now: opt.Now,
	})
	// The helpdesk's temporary access pass: issued by the console,
	// redeemed on the second step of a sign-in, for enrolment only.
	passes := accesspass.New(accesspass.Config{
		Store: store, Accounts: accounts, MFA: mfa, Outbox: outbox,
		Audit: audit.NewRecorder(store, logger, opt.Now), Logger: logger,
		PublicURL: strings.TrimSuffix(cfg.PublicURL, "/"),
		TTL:       cfg.Helpdesk.AccessPassTTL, Now: opt.Now,
	})
	sessions := session.New(session.Config{
		Store: store, Secure: cfg.SecureCookies(),
		RememberTTL: cfg.SessionTTL, BrowserTTL: cfg.BrowserSessionTTL, Now: opt.Now,
	})
	catalog, err := i18n.Load()
	if err != nil {
		return nil, err
	}
	// The web front and the OpenID Connect provider know each other only
	// through these functions: web tells the provider when a person logs
	// out (back-channel logout), and the provider renders its pages and
	// errors with web's layout and translations.
	trusted := cfg.TrustedProxyPrefixes()
	// Username help on the sign-in page (issue 11 point 6): formats by
	// domain, and "did you mean" for the organisation's domains.
	var typePatterns []string
	for _, r := range cfg.UserTypeRules() {
		typePatterns = append(typePatterns, r.Domains...)
	}
	help, err := loginhelp.New(cfg.UsernameFormats(), loginhelp.DomainsOfPatterns(typePatterns))
	if err != nil {
		return nil, err
	}
	usernameHelp := func(typed, lang string) web.UsernameHelp {
		h := help.For(typed, lang)
		key := "loginhelp.type." + h.Type
		if !catalog.Has(key) {
			key = "loginhelp.type.other"
		}
		return web.UsernameHelp{TypeKey: key, Format: h.Format, Suggestion: h.Suggestion}
	}
	var console *admin.Service
	srv, err := web.New(web.Config{
		Accounts: accounts, MFA: mfa, AccessPass: passes, Sessions: sessions, Store: store, Catalog: catalog, Logger: logger,
		MailFrom: cfg.MailFrom, DevMail: cfg.DevMail, Secure: cfg.SecureCookies(),
		TrustedProxies: trusted, RememberTTL: cfg.SessionTTL, Now: opt.Now,
		TermsURL: cfg.TermsURL.For, PrivacyURL: cfg.PrivacyURL.For,
		OnLogout:  sessionEnded,
		Build:     opt.Build,
		ReturnApp: func(ctx context.Context, path string) string { return provider.ReturnApp(ctx, path) },
		OnAppAccessRemoved: func(ctx context.Context, accountID, clientID string, sessionIDs []string) {
			if err := provider.AccessRemoved(ctx, accountID, clientID, sessionIDs); err != nil {
				logger.ErrorContext(ctx, "back-channel logout not queued", "client_id", clientID, "error", err)
			}
		},
		Notices:              func(ctx context.Context, lang string) []string { return console.Banners(ctx, lang) },
		StrongIdentification: len(cfg.Proofing.Providers) > 0,
		HomeOrganisations:    len(cfg.Federation.Providers) > 0,
		UsernameHelp:         usernameHelp,
		UsernameFormats: func(lang string) []web.UsernameFormat {
			var out []web.UsernameFormat
			for _, f := range help.Formats(lang) {
				key := "loginhelp.type." + f.Type
				if !catalog.Has(key) {
					key = "loginhelp.type.other"
				}
				out = append(out, web.UsernameFormat{Domain: f.Domain, TypeKey: key, Format: f.Format})
			}
			return out
		},
	})
	if err != nil {
		return nil, err
	}
	provider, err = oidc.New(oidc.Config{
		Store: store, Sessions: sessions, MFA: mfa, Issuer: cfg.PublicURL,
		KeyEncryptionKey: cfg.KeyEncryptionKeyBytes(), Logger: logger, Now: opt.Now,
		RefreshReuseGrace: cfg.RefreshReuseGrace,
		Pages:             srv,
		ErrorPage: func(w http.ResponseWriter, r *http.Request, pr oidc.Problem) {
			srv.RenderProblem(w, r, pr.Status, pr.Key, pr.Ref)
		},
		ClientIP: func(r *http.Request) string { return web.ClientIP(r, trusted) },
		Affiliation: func(ctx context.Context, a storage.Account, groups bool) (oidc.Affiliation, error) {
			t, names, err := directory.Affiliation(ctx, a, groups)
			return oidc.Affiliation{UserType: t, Groups: names}, err
		},
	})
	if err != nil {
		return nil, err
	}
	console, err = admin.New(admin.Config{
		Store: store, Accounts: accounts, MFA: mfa, AccessPass: passes, Sessions: sessions, Outbox: outbox,
		Audit: audit.NewRecorder(store, logger, opt.Now), Logger: logger, Pages: srv,
		PublicURL: strings.TrimSuffix(cfg.PublicURL, "/"),
		ClientIP:  func(r *http.Request) string { return web.ClientIP(r, trusted) },
		VerifyToken: func(ctx context.Context, token string) (admin.ClientToken, error) {
			t, err := provider.VerifyClientToken(ctx, token)
			return admin.ClientToken{ClientID: t.ClientID, Scopes: t.Scopes}, err
		},
		OnSessionsEnded: func(ctx context.Context, ids []string) {
			for _, id := range ids {
				sessionEnded(ctx, id)
			}
		},
		Now: opt.Now,
	})
	if err != nil {
		return nil, err
	}
	// The SAML identity provider: its pages render in web's layout; a
	// session it ends by Single Logout reaches the OpenID Connect
	// applications too.
	if err := srv.AddPages(saml.Templates()); err != nil {
		return nil, err
	}
	idp, err := saml.New(context.Background(), saml.Config{
		Store: store, Sessions: sessions, MFA: mfa, Pages: srv,
		PublicURL: cfg.PublicURL, EntityID: cfg.SAML.EntityID,
		KeyEncryptionKey: cfg.KeyEncryptionKeyBytes(), KeyBits: cfg.SAML.KeyBits,
		Scope: cfg.SAML.Scope, HomeOrganization: cfg.SAML.HomeOrganization,
		HomeOrganizationType: cfg.SAML.HomeOrganizationType,
		UserType:             userType,
		IdPInitiated:         cfg.SAML.IdPInitiated,
		DefaultRelease:       cfg.SAML.DefaultRelease,
		OnSessionEnded:       sessionEnded,
		ClientIP:             func(r *http.Request) string { return web.ClientIP(r, trusted) },
		Logger:               logger, Now: opt.Now,
	})
	if err != nil {
		return nil, err
	}
	proof, err := wireProofing(store, cfg, logger, opt, accounts, mfa, sessions, outbox, srv, trusted)
	if err != nil {
		return nil, err
	}
	fed, err := wireFederation(store, cfg, logger, opt, accounts, mfa, sessions, outbox, proof, srv, trusted)
	if err != nil {
		return nil, err
	}
	gst, err := wireGuests(store, cfg, logger, opt, accounts, outbox, srv)
	if err != nil {
		return nil, err
	}
	// The page of an application limited to groups, in web's layout.
	if err := srv.AddPages(provision.Templates, "templates"); err != nil {
		return nil, err
	}
	lifecycle, lifecyclePolicy := wireLifecycle(store, cfg, logger, opt, outbox, sessionEnded, accounts)
	scimServer := provision.New(provision.Config{
		Identifiers: identifierHasher(cfg), Policy: lifecyclePolicy,
		Store: store, Audit: audit.NewRecorder(store, logger, opt.Now), UserTypes: userTypes,
		BaseURL: cfg.PublicURL, Now: opt.Now, Logger: logger,
		// A new account's invitation, or the waitlisted person's answer.
		Invite: func(ctx context.Context, tx storage.Storage, a storage.Account, p storage.Provisioned) error {
			return accounts.InviteProvisioned(ctx, tx, a, p)
		},
		// The registry's bearer token is a client_credentials access
		// token of portti's own, checked as introspection checks it.
		Verify: func(ctx context.Context, token string) (string, []string, bool, error) {
			// A token asked for another API (a resource indicator) is
			// that API's, not portti's.
			ct, err := provider.VerifyClientToken(ctx, token)
			if errors.Is(err, oidc.ErrTokenInvalid) || (err == nil && !slices.Equal(ct.Audience, []string{ct.ClientID})) {
				return "", nil, false, nil
			}
			return ct.ClientID, ct.Scopes, err == nil, err
		},
	})
	// The activation page of provisioned accounts, in web's layout.
	if err := srv.AddPages(activation.Templates(), "templates"); err != nil {
		return nil, err
	}
	activate := activation.New(activation.Config{
		Accounts: accounts, Pages: srv, Logger: logger, RegistryDelay: cfg.RegistryDelay,
		ClientIP: func(r *http.Request) string { return web.ClientIP(r, trusted) },
	})
	return &App{Config: cfg, Store: store, Accounts: accounts, MFA: mfa, Outbox: outbox, Sessions: sessions, Web: srv, OIDC: provider,
		Admin: console, Proofing: proof, Federation: fed, SAML: idp, Provision: scimServer, Activation: srv.Protect(activate),
		Guests: gst, Lifecycle: lifecycle, logger: logger, now: opt.Now}, nil
}

// Handler is the HTTP handler of the whole service: the OpenID Connect
// provider under /.well-known/ and /oauth2/, the helpdesk console and
// its API under /admin, the web pages everywhere else. The provider has its own mux, so the pages' cross-origin form
// protection never sees the token endpoint's server-to-server POSTs.
// Every response, whichever side answers, carries Strict-Transport-Security
// when the public URL is https (config hsts).
func (a *App) Handler() http.Handler {
	provider := a.OIDC.Handler()
	mux := http.NewServeMux()
	mux.Handle("/.well-known/", provider)
	mux.Handle("/oauth2/", provider)
	console := a.Admin.Handler()
	mux.Handle("/admin", console)
	mux.Handle("/admin/", console)
	a.guestsHandler(mux)
	if a.Proofing != nil {
		mux.Handle("/proofing/", a.Web.Protect(a.Proofing.Handler()))
	}
	if a.Federation != nil {
		mux.Handle("/federation/", a.Web.Protect(a.Federation.Handler()))
	}
	// SAML bindings post across sites by design: not behind web's
	// cross-origin check; signatures and the replay cache guard them.
	mux.Handle("/saml/", a.SAML.Handler())
	pages := a.loginSkipsChooser(a.Web.Handler())
	mux.Handle("POST /logout", a.logoutTellsSAML(pages))
	// SCIM is a machine API: bearer tokens, no cross-origin form
	// protection, errors as SCIM JSON.
	mux.Handle("/scim/v2/", a.Provision)
	mux.Handle("/activation", a.Activation)
	mux.Handle("/activation/", a.Activation)
	mux.Handle("/", pages)
	return web.StrictTransportSecurity(a.Config.StrictTransportSecurity(), mux)
}

// logoutTellsSAML lets web's logout (POST /logout) end the session as it
// does, then, when that session had signed in to SAML services, has the
// SAML provider tell each of them (front-channel Single Logout) before
// the browser lands where web sent it. The services are read before web
// runs: they go with the session.
func (a *App) logoutTellsSAML(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		before, err := a.Sessions.Sessions(ctx, r)
		if err != nil {
			next.ServeHTTP(w, r)
			return
		}
		parts := map[string][]storage.SAMLParticipant{}
		for _, se := range before {
			if ps, err := a.SAML.Participants(ctx, se.ID); err == nil && len(ps) > 0 {
				parts[se.ID] = ps
			}
		}
		if len(parts) == 0 {
			next.ServeHTTP(w, r)
			return
		}
		rec := &recorder{header: http.Header{}}
		next.ServeHTTP(rec, r)
		var tell []storage.SAMLParticipant
		if rec.status == http.StatusSeeOther {
			for id, ps := range parts {
				if _, err := a.Store.GetSession(ctx, id); errors.Is(err, storage.ErrNotFound) {
					tell = append(tell, ps...)
				}
			}
		}
		for k, v := range rec.header {
			if len(tell) > 0 && k == "Location" {
				continue
			}
			w.Header()[k] = v
		}
		if len(tell) == 0 {
			w.WriteHeader(rec.status)
			_, _ = w.Write(rec.body.Bytes())
			return
		}
		a.SAML.TellServices(w, r, tell)
	})
}

// recorder keeps a handler's answer to pass on or replace.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}
func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}

// RunWorkers does the account tasks the forms queue, delivers e-mail and
// back-channel logout tokens and cleans up expired rows until ctx ends.
func (a *App) RunWorkers(ctx context.Context) {
	go func() {
		if err := a.Accounts.RunTasks(ctx); err != nil && !errors.Is(err, context.Canceled) {
			a.logger.Error("account task worker stopped", "error", err)
		}
	}()
	go func() {
		if err := a.Outbox.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
			a.logger.Error("mail worker stopped", "error", err)
		}
	}()
	go func() {
		if err := a.Lifecycle.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
			a.logger.Error("account lifecycle worker stopped", "error", err)
		}
	}()
	go func() {
		if err := a.OIDC.RunLogoutWorker(ctx); err != nil && !errors.Is(err, context.Canceled) {
			a.logger.Error("back-channel logout worker stopped", "error", err)
		}
	}()
	if ags := a.Config.SAML.Aggregates; len(ags) > 0 {
		list := make([]saml.Aggregate, len(ags))
		for i, ag := range ags {
			list[i] = saml.Aggregate{URL: ag.URL, Certificate: ag.Certificate, Release: ag.Release}
		}
		every := a.Config.SAML.AggregateRefresh
		if every == 0 {
			every = time.Hour
		}
		go a.SAML.RunAggregates(ctx, list, every)
	}
	go func() {
		t := time.NewTicker(10 * time.Minute)
		defer t.Stop()
		for {
			// Applications hear of expired sessions before the sessions
			// are deleted (either order works: a deleted session with
			// clients counts as ended).
			if _, err := a.OIDC.EndExpiredSessions(ctx); err != nil && ctx.Err() == nil {
				a.logger.Warn("back-channel logout of expired sessions failed", "error", err)
			}
			if err := a.Store.DeleteExpired(ctx, a.now()); err != nil && ctx.Err() == nil {
				a.logger.Warn("clean-up of expired rows failed", "error", err)
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
}

// Close closes the database.
func (a *App) Close() error { return a.Store.Close() }
