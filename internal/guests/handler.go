package guests

import (
	"embed"
	"errors"
	"io/fs"
	"net/http"
	"net/url"
	"time"

	"github.com/portti/portti/internal/account"
	"github.com/portti/portti/internal/federation"
	"github.com/portti/portti/internal/storage"
)

//go:embed templates/*.html
var templateFiles embed.FS

// Templates are the package's pages, for web's AddPages(fsys, "templates").
func Templates() fs.FS { return templateFiles }

// Pages is what the package needs from the web front (web.Server).
type Pages interface {
	RenderPage(w http.ResponseWriter, r *http.Request, status int, name, titleKey string, data map[string]any)
	RenderProblem(w http.ResponseWriter, r *http.Request, status int, key, ref string)
	Lang(r *http.Request) string
}

// HomeOrganisations is sign-in with a home organisation
// (federation.Service), when configured.
type HomeOrganisations interface {
	Choices(lang string) []federation.Choice
	StartGuest(w http.ResponseWriter, r *http.Request, idp, invitationHash string) bool
	SetGuestAcceptor(fn federation.GuestAcceptor)
}

// Handler serves /guests/ (the acceptance page); wrap it with the web
// front's Protect. home may be nil (no home organisations). The link's code travels in the query on GET and in a
// hidden field on POST; pages that show it are not cached (Protect's
// headers) and send no referrer.
func (s *Service) Handler(pages Pages, clientIP func(*http.Request) string, home HomeOrganisations) http.Handler {
	h := &handler{s: s, pages: pages, clientIP: clientIP, home: home}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /guests/accept", h.show)
	mux.HandleFunc("POST /guests/accept", h.accept)
	if home != nil {
		mux.HandleFunc("POST /guests/accept/home", h.startHome)
		home.SetGuestAcceptor(h.finishHome)
	}
	mux.HandleFunc("/guests/", func(w http.ResponseWriter, r *http.Request) {
		pages.RenderProblem(w, r, http.StatusNotFound, "error.not_found", "")
	})
	return mux
}

type handler struct {
	s        *Service
	pages    Pages
	clientIP func(*http.Request) string
	home     HomeOrganisations
}

func (h *handler) meta(r *http.Request) account.Meta {
	ip := r.RemoteAddr
	if h.clientIP != nil {
		ip = h.clientIP(r)
	}
	return account.Meta{ClientIP: ip, UserAgent: r.UserAgent(), Lang: h.pages.Lang(r)}
}

// show answers the link: the form, or "sign in" when the address has an
// account, or the problem page for a link that does not work. Only the
// holder of a working link learns anything about the address.
func (h *handler) show(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Referrer-Policy", "no-referrer")
	code := r.URL.Query().Get("code")
	inv, err := h.s.Lookup(r.Context(), code)
	if err != nil {
		h.problem(w, r, err)
		return
	}
	has, err := h.s.HasAccount(r.Context(), inv)
	if err != nil {
		h.problem(w, r, err)
		return
	}
	if has {
		h.hasAccount(w, r, inv.Email)
		return
	}
	h.form(w, r, http.StatusOK, code, inv.Email, inviterName(inv), inv.EndsAt, nil)
}

func (h *handler) accept(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Referrer-Policy", "no-referrer")
	if err := r.ParseForm(); err != nil {
		h.pages.RenderProblem(w, r, http.StatusBadRequest, "error.bad_request", "")
		return
	}
	code := r.PostForm.Get("code")
	a, err := h.s.AcceptWithPassword(r.Context(), code, r.PostForm.Get("password"), r.PostForm.Get("password_confirm"), h.meta(r))
	var v account.ValidationError
	switch {
	case errors.As(err, &v):
		inv, lerr := h.s.Lookup(r.Context(), code)
		if lerr != nil {
			h.problem(w, r, lerr)
			return
		}
		h.form(w, r, http.StatusUnprocessableEntity, code, inv.Email, inviterName(inv), inv.EndsAt, v)
		return
	case errors.Is(err, ErrHasAccount):
		inv, _ := h.s.Lookup(r.Context(), code)
		h.hasAccount(w, r, inv.Email)
		return
	case err != nil:
		h.problem(w, r, err)
		return
	}
	h.pages.RenderPage(w, r, http.StatusOK, "guests_accepted", "guests.accepted.title", map[string]any{
		"Email": a.Email, "LoginLink": "/login?" + url.Values{"email": {a.Email}}.Encode(), "Path": "/guests/accept",
	})
}

func (h *handler) form(w http.ResponseWriter, r *http.Request, status int, code, email, inviter string, endsAt time.Time, v account.ValidationError) {
	h.pages.RenderPage(w, r, status, "guests_accept", "guests.accept.title", map[string]any{
		"Code": code, "Email": email, "Inviter": inviter, "Until": endsAt.In(Helsinki).Format("2.1.2006"),
		"Form": url.Values{"code": {code}}, "Errors": v, "NewPassword": true, "Home": h.choices(r),
		// The language switcher keeps the link working.
		"Path": "/guests/accept?" + url.Values{"code": {code}}.Encode(),
	})
}

func (h *handler) hasAccount(w http.ResponseWriter, r *http.Request, email string) {
	h.pages.RenderPage(w, r, http.StatusOK, "guests_has_account", "guests.has_account.title", map[string]any{
		"Email": email, "LoginLink": "/login?" + url.Values{"email": {email}}.Encode(),
	})
}

func (h *handler) problem(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, ErrLinkInvalid) {
		h.pages.RenderProblem(w, r, http.StatusGone, "guests.link_invalid", "")
		return
	}
	h.s.cfg.Logger.ErrorContext(r.Context(), "guest invitation failed", "error", err)
	h.pages.RenderProblem(w, r, http.StatusInternalServerError, "error.internal", "")
}

func (h *handler) choices(r *http.Request) []federation.Choice {
	if h.home == nil {
		return nil
	}
	return h.home.Choices(h.pages.Lang(r))
}

// startHome sends the guest to their home organisation, the invitation
// checked first so that a dead link goes nowhere.
func (h *handler) startHome(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		h.pages.RenderProblem(w, r, http.StatusBadRequest, "error.bad_request", "")
		return
	}
	code := r.PostForm.Get("code")
	inv, err := h.s.Lookup(r.Context(), code)
	if err != nil {
		h.problem(w, r, err)
		return
	}
	if has, err := h.s.HasAccount(r.Context(), inv); err != nil || has {
		if err != nil {
			h.problem(w, r, err)
			return
		}
		h.hasAccount(w, r, inv.Email)
		return
	}
	if !h.home.StartGuest(w, r, r.PostForm.Get("idp"), inv.TokenHash) {
		h.pages.RenderProblem(w, r, http.StatusNotFound, "federation.unknown_provider", "")
	}
}

// finishHome is federation's callback for a guest's flow.
func (h *handler) finishHome(w http.ResponseWriter, r *http.Request, hash string, u federation.Upstream, m account.Meta) {
	inv, _ := h.s.LookupHash(r.Context(), hash)
	a, err := h.s.AcceptWithHome(r.Context(), hash, u.Provider, u.Subject, m)
	switch {
	case errors.Is(err, ErrHasAccount):
		h.hasAccount(w, r, inv.Email)
		return
	case errors.Is(err, ErrIdentityLinked):
		h.pages.RenderPage(w, r, http.StatusConflict, "guests_has_account", "guests.identity_linked.title", map[string]any{
			"Key": "guests.identity_linked", "LoginLink": "/login?" + url.Values{"idp": {u.Provider}}.Encode(),
		})
		return
	case err != nil:
		h.problem(w, r, err)
		return
	}
	h.pages.RenderPage(w, r, http.StatusOK, "guests_accepted", "guests.accepted.title", map[string]any{
		"Email": a.Email, "Home": true, "LoginLink": "/login?" + url.Values{"idp": {u.Provider}}.Encode(), "Path": "/guests/accept",
	})
}

// inviterName is who the page says invited: a staff member's address,
// or nobody named for the command line.
func inviterName(inv storage.Invitation) string {
	if inv.InvitedBy == "" {
		return ""
	}
	return inv.Inviter
}
