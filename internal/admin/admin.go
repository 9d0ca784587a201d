// Package admin is the helpdesk console at /admin and its JSON API under
// /admin/api/: staff look a person up (by e-mail, name or the reference
// code from an error page), read in plain words why the person cannot
// sign in, and fix it with one audited action; admins also manage staff
// roles and the notices shown on every page.
//
// Every action goes through Service.Do, whichever door it came in by (a
// console form, an API call, a test), so the rules are in one place: a
// reason is required; a helpdesk member never acts on their own account
// or on an admin's; the action is done by the account and authn services'
// own operations (the same the `portti user` commands use); an event
// "helpdesk.<action>" records who did it and why; and the owner is told
// by e-mail when their account changed.
//
// The console is for people who sign in like anyone else, with a second
// factor: a staff member without one is sent to set it up, and after
// IdleTimeout without a console page (15 minutes) to sign in again. The
// API is for scripts holding a client_credentials access token with the
// scope portti:helpdesk or portti:admin.
package admin

import (
	"context"
	"crypto/rand"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/portti/portti/internal/account"
	"github.com/portti/portti/internal/audit"
	"github.com/portti/portti/internal/authn"
	"github.com/portti/portti/internal/authn/accesspass"
	"github.com/portti/portti/internal/mail"
	"github.com/portti/portti/internal/session"
	"github.com/portti/portti/internal/storage"
)

// Pages is what the console needs of the web front (a *web.Server): its
// layout, languages, error pages and protection.
type Pages interface {
	AddPages(fsys fs.FS, dir string) error
	RenderPage(w http.ResponseWriter, r *http.Request, status int, name, titleKey string, data map[string]any)
	RenderProblem(w http.ResponseWriter, r *http.Request, status int, key, ref string)
	Protect(h http.Handler) http.Handler
}

// ClientToken is a verified client_credentials access token.
type ClientToken struct {
	ClientID string
	Scopes   []string
}

// API scopes.
const (
	ScopeHelpdesk = "portti:helpdesk"
	ScopeAdmin    = "portti:admin"
)

// Config holds a Service's dependencies.
type Config struct {
	Store    storage.Storage
	Accounts *account.Service
	MFA      *authn.Service
	// AccessPass issues temporary access passes; nil: the action is not
	// offered.
	AccessPass *accesspass.Service
	Sessions   *session.Manager
	Outbox     *mail.Outbox
	Audit      *audit.Recorder
	Logger     *slog.Logger
	// Pages renders the console; nil for a Service without one (the
	// command line).
	Pages Pages
	// PublicURL is the absolute base of links in e-mails, no trailing slash.
	PublicURL string
	// ClientIP is the request's client address (trusted proxies applied).
	ClientIP func(*http.Request) string
	// VerifyToken checks an API bearer token (oidc.Provider's
	// VerifyClientToken); nil turns the API off.
	VerifyToken func(ctx context.Context, token string) (ClientToken, error)
	// OnSessionsEnded is told the sessions an action ended, for the
	// applications' back-channel logout.
	OnSessionsEnded func(ctx context.Context, sessionIDs []string)
	// IdleTimeout: a console page after this long without one asks for a
	// fresh sign-in (default 15 minutes).
	IdleTimeout time.Duration
	Now         func() time.Time
	Random      io.Reader
}

// Service is the console, its API and the operations behind both.
type Service struct {
	cfg Config

	noticeMu sync.Mutex // guards the cache of notices below
	notices  []storage.Notice
	noticeAt time.Time // when notices was read; zero: read again
}

// New returns a Service, registering the console's pages with cfg.Pages.
func New(cfg Config) (*Service, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Random == nil {
		cfg.Random = rand.Reader
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Audit == nil {
		cfg.Audit = audit.NewRecorder(cfg.Store, cfg.Logger, cfg.Now)
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 15 * time.Minute
	}
	if cfg.ClientIP == nil {
		cfg.ClientIP = func(r *http.Request) string { return r.RemoteAddr }
	}
	s := &Service{cfg: cfg}
	if cfg.Pages != nil {
		if err := cfg.Pages.AddPages(templateFiles, "templates"); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func (s *Service) now() time.Time { return s.cfg.Now().UTC() }

// Handler serves /admin (the console, behind the web front's protection)
// and /admin/api/ (the API, which authenticates by bearer token and so
// needs no cross-origin protection).
func (s *Service) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/admin/api/", s.apiHandler())
	if s.cfg.Pages != nil {
		mux.Handle("/admin", s.cfg.Pages.Protect(s.consoleHandler()))
		mux.Handle("/admin/", s.cfg.Pages.Protect(s.consoleHandler()))
	}
	return mux
}

// Errors of the operations. The console and the API explain each.
var (
	ErrReasonRequired = errors.New("admin: a reason is required")
	ErrSelf           = errors.New("admin: staff cannot act on their own account")
	ErrProtected      = errors.New("admin: only an admin can act on an admin's account")
	ErrAdminOnly      = errors.New("admin: only an admin can do this")
	ErrUnknownAction  = errors.New("admin: no such action")
	ErrNotApplicable  = errors.New("admin: the action does not apply to this account as it is")
	ErrInvalid        = errors.New("admin: invalid input")
)
