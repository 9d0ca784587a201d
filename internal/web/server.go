// Package web is portti's browser front: routes, middleware, pages and
// error rendering. It renders and translates; every rule lives in package
// account, and every sign-in in package session.
//
// Pages work without JavaScript. Forms post to the same origin and are
// guarded by http.CrossOriginProtection; cookies are SameSite=Lax.
package web

import (
	"context"
	"embed"
	"encoding/json"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/portti/portti/internal/account"
	"github.com/portti/portti/internal/authn"
	"github.com/portti/portti/internal/authn/accesspass"
	"github.com/portti/portti/internal/buildinfo"
	"github.com/portti/portti/internal/i18n"
	"github.com/portti/portti/internal/session"
	"github.com/portti/portti/internal/storage"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFiles embed.FS

// Config holds a Server's dependencies.
type Config struct {
	Accounts *account.Service
	MFA      *authn.Service // second factors: the sign-in's second step and /account/mfa
	// AccessPass redeems the helpdesk's temporary access passes on the
	// second step (accesspass.go); nil: not offered.
	AccessPass     *accesspass.Service
	Sessions       *session.Manager
	Store          storage.Storage // health check and the dev mail page
	Catalog        *i18n.Catalog
	Logger         *slog.Logger
	MailFrom       string // named on every "we sent you an e-mail" page
	DevMail        bool   // serve /dev/mail, the outbox viewer for development
	Secure         bool   // https: Secure cookies
	TrustedProxies []netip.Prefix
	Product        string        // the service name in page titles
	RememberTTL    time.Duration // "remember me" lifetime, told on the login page
	// TermsURL and PrivacyURL give, for a language, where the terms of
	// use and the privacy notice can be read ("" or nil: no link).
	TermsURL, PrivacyURL func(lang string) string
	Now                  func() time.Time

	// OnLogout is called after a person has ended a browser session here
	// (log out, sign a browser out, sign out of every browser), with the
	// ended session's ID, so that the applications signed in through it
	// are told (the OpenID Connect provider's back-channel logout). Nil:
	// nobody is told.
	OnLogout func(ctx context.Context, sessionID string)

	// Build is the running version, told by /healthz so that a monitor
	// or a load balancer's operator can see which build each node runs.
	Build buildinfo.Info

	// ReturnApp names the application a login form returns to (its
	// return address, a pending sign-in), for "Sign in to continue to
	// …"; "" when none. Nil: the login page names no application.
	ReturnApp func(ctx context.Context, returnPath string) string

	// OnAppAccessRemoved is called after a person removed an application's
	// access on the account page, with the browser sessions whose sign-in
	// to it was forgotten, so that the application is told (back-channel
	// logout). Nil: nobody is told.
	OnAppAccessRemoved func(ctx context.Context, accountID, clientID string, sessionIDs []string)

	// Notices returns the banners to show on every page now, in language
	// lang (the helpdesk's notices, package admin). Nil: none.
	Notices func(ctx context.Context, lang string) []string

	// StrongIdentification: a strong identification provider is
	// configured (package proofing, under /proofing/), so the login,
	// second-step, forgotten-password and account pages link to it.
	StrongIdentification bool
	// HomeOrganisations: sign-in with a home organisation is offered
	// (config federation.providers): /login links to its chooser, the
	// account pages to /federation/links.
	HomeOrganisations bool

	// UsernameHelp returns the username help for what was typed in the
	// sign-in form's username field, in a language (package loginhelp):
	// shown after a failed sign-in. It must depend on the typed text
	// alone, never on whether an account exists. Nil: none.
	UsernameHelp func(typed, lang string) UsernameHelp
	// UsernameFormats lists every domain's username format in a language,
	// for the login page's script that shows the format while the person
	// types (progressive enhancement: UsernameHelp shows it after a failed
	// sign-in without any script). Nil: none.
	UsernameFormats func(lang string) []UsernameFormat
}

// UsernameFormat is one domain's username format: TypeKey names the user
// type in the catalogue, Format is the organisation's text.
type UsernameFormat struct {
	Domain, TypeKey, Format string
}

// UsernameHelp is the username help on the sign-in page: the username
// format of the typed domain's user type (TypeKey names the type in the
// catalogue), and a corrected address for a mistyped domain.
type UsernameHelp struct {
	TypeKey, Format, Suggestion string
}

// Server serves portti's pages.
type Server struct {
	cfg   Config
	pages map[string]*template.Template // page name → layout + page
}

// New parses the templates and returns a Server.
func New(cfg Config) (*Server, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.RememberTTL <= 0 {
		cfg.RememberTTL = 30 * 24 * time.Hour
	}
	if cfg.Product == "" {
		cfg.Product = "portti"
	}
	if cfg.Build.Version == "" {
		cfg.Build = buildinfo.Read("")
	}
	pages, err := parseTemplates()
	if err != nil {
		return nil, err
	}
	return &Server{cfg: cfg, pages: pages}, nil
}

// Handler returns the routes wrapped in portti's middleware.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	h := func(pattern string, fn handlerFunc) { mux.Handle(pattern, s.wrap(fn)) }

	static, _ := fs.Sub(staticFiles, "static")
	mux.Handle("GET /static/", http.StripPrefix("/static/", cacheStatic(http.FileServerFS(static))))
	mux.HandleFunc("GET /healthz", s.healthz)

	h("GET /{$}", s.home)
	h("GET /lang/{lang}", s.setLanguage)
	h("GET /register", s.registerForm)
	h("POST /register", s.register)
	h("GET /activate", s.activate)
	h("POST /activate/resend", s.resendActivation)
	h("GET /login", s.loginForm)
	h("POST /login", s.login)
	h("POST /logout", s.logout)
	h("GET /password/forgot", s.forgotForm)
	h("POST /password/forgot", s.forgot)
	h("GET /password/reset", s.resetForm)
	h("POST /password/reset", s.reset)
	h("GET /account", s.accountPage)
	h("POST /account/profile", s.updateProfile)
	h("POST /account/password", s.changePassword)
	h("POST /account/email", s.changeEmail)
	h("POST /account/sessions/end", s.endSession)
	h("POST /account/sessions/end-all", s.endAllSessions)
	h("POST /account/apps/remove", s.removeApp)
	if s.cfg.MFA != nil {
		s.mfaRoutes(h)
	}
	if s.cfg.MFA != nil && s.cfg.AccessPass != nil {
		s.accessPassRoutes(h)
	}
	h("GET /email/confirm", s.confirmEmailForm)
	h("POST /email/confirm", s.confirmEmail)
	if s.cfg.DevMail {
		h("GET /dev/mail", s.devMail)
	}
	h("/", func(w http.ResponseWriter, r *http.Request) error { return errNotFound })
	return s.Protect(mux)
}

// Protect wraps the handler of a package with pages of its own (the
// helpdesk console, strong identification) in what every page of web
// gets: cross-origin form posts refused (http.CrossOriginProtection),
// the security headers, the request body limit, and a panic turned into
// the error page with a reference code.
func (s *Server) Protect(h http.Handler) http.Handler {
	csrf := http.NewCrossOriginProtection()
	csrf.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.renderError(w, r, &httpError{Status: http.StatusForbidden, Key: "error.cross_origin"})
	}))
	return s.recoverPanics(securityHeaders(limitBody(csrf.Handler(h))))
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	// A read that finds nothing still proves the database answers.
	if _, err := s.cfg.Store.GetAccount(ctx, "healthz"); err != nil && !isNotFound(err) {
		s.cfg.Logger.ErrorContext(ctx, "health check failed", "error", err)
		w.WriteHeader(http.StatusServiceUnavailable)
		_ = json.NewEncoder(w).Encode(health{Status: "unavailable", Info: s.cfg.Build})
		return
	}
	_ = json.NewEncoder(w).Encode(health{Status: "ok", Info: s.cfg.Build})
}

// health is /healthz's answer: {"status":"ok","version":"v1.4.0",
// "revision":"1a2b…",…}.
type health struct {
	Status string `json:"status"`
	buildinfo.Info
}

func (s *Server) home(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.cfg.Sessions.Current(r.Context(), r, ""); err == nil {
		http.Redirect(w, r, "/account", http.StatusSeeOther)
		return nil
	}
	http.Redirect(w, r, "/login", http.StatusSeeOther)
	return nil
}

// setLanguage remembers a language choice and returns to the page it was
// made on. A plain link, so it works without JavaScript.
func (s *Server) setLanguage(w http.ResponseWriter, r *http.Request) error {
	lang := r.PathValue("lang")
	if !i18n.Supported(lang) {
		return errNotFound
	}
	http.SetCookie(w, &http.Cookie{
		Name: langCookie, Value: lang, Path: "/", MaxAge: 365 * 24 * 3600,
		HttpOnly: true, Secure: s.cfg.Secure, SameSite: http.SameSiteLaxMode,
	})
	if se, err := s.cfg.Sessions.Current(r.Context(), r, ""); err == nil {
		_ = s.cfg.Accounts.SetLocale(r.Context(), se.AccountID, lang)
	}
	http.Redirect(w, r, localPath(r.URL.Query().Get("return"), "/"), http.StatusSeeOther)
	return nil
}
