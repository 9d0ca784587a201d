// Package activation is the activation page of accounts that the
// organisation's registry created (issue 11, point 4), the answer to the
// seed's "you are not entitled to an account: try again the next day".
//
// A provisioned person activates their account from the invitation e-mail
// (sent when a registry creates the account) or by typing their address
// on /activation. That page says the same for every address and the
// answer goes to the mailbox (package account's ActivationRequest): an
// invitation, the date from which a pending account works, "already
// active", or, for an address nothing knows, that the registry has not
// sent the person's data yet and when registries usually do, with a
// promise to write when the account appears (the waitlist). The
// invitation's link opens /activation/password, which sets the first
// password; the sign-in that follows enrols a second factor when the
// policy requires one (package authn), as for every account.
//
// The pages work without JavaScript; the rules live in package account.
package activation

import (
	"embed"
	"errors"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/portti/portti/internal/account"
	"github.com/portti/portti/internal/refcode"
)

//go:embed templates/*.html
var templateFiles embed.FS

// Templates are the package's pages, for web.Server.AddPages(Templates(), "templates").
func Templates() fs.FS { return templateFiles }

// Pages renders pages in the web front's layout (web.Server).
type Pages interface {
	RenderPage(w http.ResponseWriter, r *http.Request, status int, name, titleKey string, data map[string]any)
	RenderProblem(w http.ResponseWriter, r *http.Request, status int, key, ref string)
	Lang(r *http.Request) string
}

// Config configures a Handler.
type Config struct {
	Accounts *account.Service
	Pages    Pages
	ClientIP func(r *http.Request) string
	Logger   *slog.Logger
	// RegistryDelay is the organisation's sentence on when registries
	// usually send a new person's data, in a language; the page shows it
	// to everyone (it depends on no address). Optional.
	RegistryDelay func(lang string) string
}

// Handler serves /activation and /activation/password; wrap it with the
// web front's Protect (cross-origin form protection).
type Handler struct {
	cfg Config
	mux *http.ServeMux
}

// New returns the pages' handler.
func New(cfg Config) *Handler {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	h := &Handler{cfg: cfg, mux: http.NewServeMux()}
	h.mux.HandleFunc("GET /activation", h.form)
	h.mux.HandleFunc("POST /activation", h.request)
	h.mux.HandleFunc("GET /activation/password", h.passwordForm)
	h.mux.HandleFunc("POST /activation/password", h.setPassword)
	h.mux.HandleFunc("/activation/", func(w http.ResponseWriter, r *http.Request) {
		cfg.Pages.RenderProblem(w, r, http.StatusNotFound, "error.not_found", "")
	})
	return h
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

func (h *Handler) meta(r *http.Request) account.Meta {
	ip := r.RemoteAddr
	if h.cfg.ClientIP != nil {
		ip = h.cfg.ClientIP(r)
	}
	return account.Meta{ClientIP: ip, UserAgent: r.UserAgent(), Lang: h.cfg.Pages.Lang(r)}
}

func (h *Handler) delay(r *http.Request) string {
	if h.cfg.RegistryDelay == nil {
		return ""
	}
	return h.cfg.RegistryDelay(h.cfg.Pages.Lang(r))
}

func (h *Handler) internal(w http.ResponseWriter, r *http.Request, err error) {
	ref := refcode.New()
	h.cfg.Logger.ErrorContext(r.Context(), "activation page failed", "ref", ref, "error", err)
	h.cfg.Pages.RenderProblem(w, r, http.StatusInternalServerError, "error.internal", ref)
}

// clip bounds what a form echoes back.
func clip(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 320 {
		s = s[:320]
	}
	return strings.ToValidUTF8(s, "")
}

func (h *Handler) form(w http.ResponseWriter, r *http.Request) {
	f := url.Values{"email": {clip(r.URL.Query().Get("email"))}}
	h.cfg.Pages.RenderPage(w, r, http.StatusOK, "activation", "loginhelp.activation.title", map[string]any{"Form": f, "Delay": h.delay(r)})
}

// request queues the activation request and answers the same page for
// every address: what happens next is in the mailbox.
func (h *Handler) request(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		h.cfg.Pages.RenderProblem(w, r, http.StatusBadRequest, "error.bad_request", "")
		return
	}
	email := clip(r.PostForm.Get("email"))
	f := url.Values{"email": {email}}
	err := h.cfg.Accounts.ActivationRequest(r.Context(), email, h.meta(r))
	var v account.ValidationError
	switch {
	case errors.As(err, &v):
		h.cfg.Pages.RenderPage(w, r, http.StatusUnprocessableEntity, "activation", "loginhelp.activation.title",
			map[string]any{"Form": f, "Errors": v, "Delay": h.delay(r)})
		return
	case err != nil:
		h.internal(w, r, err)
		return
	}
	h.cfg.Pages.RenderPage(w, r, http.StatusOK, "activation_sent", "loginhelp.activation.sent.title", map[string]any{"Form": f, "Delay": h.delay(r)})
}

// linkProblem explains an invitation link that cannot be used, and offers
// the activation page, which sends a new one.
func (h *Handler) linkProblem(w http.ResponseWriter, r *http.Request, le *account.LinkError) {
	status := http.StatusGone
	if le.Reason == account.LinkUnknown {
		status = http.StatusNotFound
	}
	h.cfg.Pages.RenderPage(w, r, status, "activation_link", "loginhelp.activation.link.title",
		map[string]any{"Reason": string(le.Reason), "Email": le.Token.Email})
}

func (h *Handler) passwordForm(w http.ResponseWriter, r *http.Request) {
	token := r.URL.Query().Get("token")
	a, err := h.cfg.Accounts.CheckInvitation(r.Context(), token)
	var le *account.LinkError
	switch {
	case errors.As(err, &le):
		h.linkProblem(w, r, le)
		return
	case err != nil:
		h.internal(w, r, err)
		return
	}
	h.cfg.Pages.RenderPage(w, r, http.StatusOK, "activation_password", "loginhelp.activation.password.title",
		map[string]any{"Form": url.Values{"token": {token}}, "Email": a.Email, "NewPassword": true})
}

func (h *Handler) setPassword(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		h.cfg.Pages.RenderProblem(w, r, http.StatusBadRequest, "error.bad_request", "")
		return
	}
	token := r.PostForm.Get("token")
	a, err := h.cfg.Accounts.AcceptInvitation(r.Context(), token, r.PostForm.Get("password"), r.PostForm.Get("password_confirm"), h.meta(r))
	var (
		le *account.LinkError
		v  account.ValidationError
	)
	switch {
	case errors.As(err, &le):
		h.linkProblem(w, r, le)
	case errors.As(err, &v):
		h.cfg.Pages.RenderPage(w, r, http.StatusUnprocessableEntity, "activation_password", "loginhelp.activation.password.title",
			map[string]any{"Form": url.Values{"token": {token}}, "Errors": v, "Email": a.Email, "NewPassword": true})
	case errors.Is(err, account.ErrDisabled):
		h.cfg.Pages.RenderProblem(w, r, http.StatusForbidden, "login.disabled", "")
	case err != nil:
		h.internal(w, r, err)
	default:
		h.cfg.Pages.RenderPage(w, r, http.StatusOK, "activation_done", "loginhelp.activation.done.title",
			map[string]any{"Email": a.Email, "LoginLink": "/login?" + url.Values{"email": {a.Email}}.Encode()})
	}
}
