package proofing

import (
	"embed"
	"errors"
	"io/fs"
	"net/http"
	"net/url"
	"strings"

	"github.com/portti/portti/internal/account"
	"github.com/portti/portti/internal/authn"
	"github.com/portti/portti/internal/session"
	"github.com/portti/portti/internal/storage"
)

// The pages, all under /proofing/:
//
//	GET  /proofing/jwks.json            portti's relying-party keys (sig, enc)
//	GET  /proofing/lost-authenticator   "I lost my authenticator" from /login: e-mail address + provider
//	POST /proofing/lost-authenticator   the same from the second-step page (carries its challenge)
//	GET  /proofing/username             "I forgot my username"
//	GET  /proofing/password             forgotten password, set anew after strong identification
//	GET  /proofing/bind                 bind the identity to the signed-in account (from /account)
//	POST /proofing/start                begin: to the provider
//	GET  /proofing/callback             the provider's answer
//	GET  /proofing/done                 what the proven identity allows, by the flow's purpose
//	POST /proofing/password             the new password
//
// Every page works without JavaScript; the flow lives in a cookie that
// holds a random secret (its hash keys the stored flow).

//go:embed templates/*.html
var templateFiles embed.FS

// Templates are the package's pages, for web.Server.AddPages.
func Templates() fs.FS { return templateFiles }

const flowCookie = "portti_proofing"

func (s *Service) cookieName() string {
	if s.cfg.Secure {
		return "__Host-" + flowCookie
	}
	return flowCookie
}

func (s *Service) setFlowCookie(w http.ResponseWriter, v string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: s.cookieName(), Value: v, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: s.cfg.Secure, SameSite: http.SameSiteLaxMode})
}

func (s *Service) flowSecret(r *http.Request) string {
	c, err := r.Cookie(s.cookieName())
	if err != nil {
		return ""
	}
	return c.Value
}

func (s *Service) meta(r *http.Request) account.Meta {
	ip := r.RemoteAddr
	if s.cfg.ClientIP != nil {
		ip = s.cfg.ClientIP(r)
	}
	return account.Meta{ClientIP: ip, UserAgent: r.UserAgent(), Lang: s.cfg.Pages.Lang(r)}
}

// Handler serves the pages; wrap it with the web front's Protect.
func (s *Service) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /proofing/jwks.json", s.jwks)
	mux.HandleFunc("GET /proofing/lost-authenticator", s.startPage(PurposeMFAReset))
	mux.HandleFunc("POST /proofing/lost-authenticator", s.startPage(PurposeMFAReset))
	mux.HandleFunc("GET /proofing/username", s.startPage(PurposeUsername))
	mux.HandleFunc("GET /proofing/password", s.startPage(PurposePassword))
	mux.HandleFunc("GET /proofing/bind", s.startPage(PurposeBind))
	mux.HandleFunc("POST /proofing/start", s.start)
	mux.HandleFunc("GET /proofing/callback", s.callback)
	mux.HandleFunc("GET /proofing/done", s.done)
	mux.HandleFunc("POST /proofing/password", s.setPassword)
	mux.HandleFunc("/proofing/", func(w http.ResponseWriter, r *http.Request) {
		s.cfg.Pages.RenderProblem(w, r, http.StatusNotFound, "error.not_found", "")
	})
	return mux
}

func (s *Service) jwks(w http.ResponseWriter, r *http.Request) {
	b, err := s.cfg.Keys.JWKS(r.Context())
	if err != nil {
		s.internal(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	w.Header().Set("Access-Control-Allow-Origin", "*")
	_, _ = w.Write(b)
}

// internal logs err with a reference code and shows the error page.
func (s *Service) internal(w http.ResponseWriter, r *http.Request, err error) {
	ref := newRef()
	s.cfg.Logger.ErrorContext(r.Context(), "strong identification failed", "ref", ref, "error", err)
	s.cfg.Pages.RenderProblem(w, r, http.StatusInternalServerError, "error.internal", ref)
}

// providerRow is a provider as the start pages list it.
type providerRow struct{ ID, Name string }

func (s *Service) providerRows(lang string) []providerRow {
	out := make([]providerRow, 0, len(s.order))
	for _, id := range s.order {
		out = append(out, providerRow{ID: id, Name: s.clients[id].p.DisplayName(lang)})
	}
	return out
}

// startPage explains a purpose and offers the providers.
func (s *Service) startPage(purpose string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.Enabled() {
			s.cfg.Pages.RenderProblem(w, r, http.StatusNotFound, "error.not_found", "")
			return
		}
		_ = r.ParseForm()
		data := map[string]any{
			"Purpose":   purpose,
			"Providers": s.providerRows(s.cfg.Pages.Lang(r)),
			"Return":    localPath(r.Form.Get("return")),
			"Email":     clipField(r.Form.Get("email")),
		}
		if purpose == PurposeMFAReset && r.Method == http.MethodPost {
			// From the second step: the pending sign-in names the account.
			if _, err := s.cfg.MFA.Challenge(r.Context(), r.PostForm.Get("challenge")); err != nil {
				s.cfg.Pages.RenderPage(w, r, http.StatusGone, "proofing_gone", "proofing.gone.title", nil)
				return
			}
			data["Challenge"] = r.PostForm.Get("challenge")
		}
		if purpose == PurposeBind {
			if _, ok := s.bindable(w, r); !ok {
				return
			}
		}
		s.cfg.Pages.RenderPage(w, r, http.StatusOK, "proofing_start", "proofing."+purpose+".title", data)
	}
}

// bindable checks that a signed-in person may bind: a session whose
// second factor (or, without one, its password) is fresh.
func (s *Service) bindable(w http.ResponseWriter, r *http.Request) (storage.Session, bool) {
	se, err := s.cfg.Sessions.Current(r.Context(), r, "")
	if err != nil {
		http.Redirect(w, r, "/login?return="+url.QueryEscape("/proofing/bind"), http.StatusSeeOther)
		return se, false
	}
	entries, err := s.cfg.MFA.Entries(r.Context(), se.AccountID)
	if err != nil {
		s.internal(w, r, err)
		return se, false
	}
	enabled := authn.Enabled(entries)
	if !enabled {
		s.cfg.Pages.RenderPage(w, r, http.StatusForbidden, "proofing_result", "proofing.bind.needs_mfa.title",
			map[string]any{"Key": "proofing.bind.needs_mfa", "Link": "/account/mfa", "LinkKey": "proofing.bind.needs_mfa.link"})
		return se, false
	}
	if !s.cfg.MFA.Fresh(se, enabled) {
		http.Redirect(w, r, "/login?return="+url.QueryEscape("/proofing/bind")+"&reauth=1", http.StatusSeeOther)
		return se, false
	}
	return se, true
}

func (s *Service) start(w http.ResponseWriter, r *http.Request) {
	if !s.Enabled() {
		s.cfg.Pages.RenderProblem(w, r, http.StatusNotFound, "error.not_found", "")
		return
	}
	if err := r.ParseForm(); err != nil {
		s.cfg.Pages.RenderProblem(w, r, http.StatusBadRequest, "error.bad_request", "")
		return
	}
	f := r.PostForm
	m := s.meta(r)
	st := Start{Purpose: f.Get("purpose"), Provider: f.Get("provider"), Return: localPath(f.Get("return")), Lang: m.Lang}
	switch st.Purpose {
	case PurposeUsername, PurposePassword:
	case PurposeMFAReset:
		if c := f.Get("challenge"); c != "" {
			a, err := s.cfg.MFA.Challenge(r.Context(), c)
			if err != nil {
				s.cfg.Pages.RenderPage(w, r, http.StatusGone, "proofing_gone", "proofing.gone.title", nil)
				return
			}
			st.AccountID, st.Challenge = a.ID, c
		} else if a, err := s.cfg.Accounts.Find(r.Context(), f.Get("email")); err == nil {
			// An unknown address starts the same flow and ends on the
			// same "no account of yours matched" page.
			st.AccountID = a.ID
		}
	case PurposeBind:
		se, ok := s.bindable(w, r)
		if !ok {
			return
		}
		st.AccountID = se.AccountID
	default:
		s.cfg.Pages.RenderProblem(w, r, http.StatusBadRequest, "error.bad_request", "")
		return
	}
	secret, to, err := s.Begin(r.Context(), st, m)
	switch {
	case errors.Is(err, ErrRateLimited):
		s.cfg.Pages.RenderPage(w, r, http.StatusTooManyRequests, "proofing_result", "proofing.rate.title", map[string]any{"Key": "proofing.rate"})
		return
	case errors.Is(err, ErrUnknownProvider):
		s.cfg.Pages.RenderProblem(w, r, http.StatusBadRequest, "error.bad_request", "")
		return
	case err != nil:
		s.providerProblem(w, r, "", err)
		return
	}
	s.setFlowCookie(w, secret, int(FlowTTL.Seconds()))
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// providerProblem: the provider could not be reached or its answer
// failed; the person reads one page in their language with a reference
// code (the audit event of the failure carries it, so the helpdesk finds
// it), the log has the cause.
func (s *Service) providerProblem(w http.ResponseWriter, r *http.Request, ref string, err error) {
	if ref == "" {
		ref = newRef()
		m := s.meta(r)
		m.Ref = ref
		s.event(r.Context(), m, storage.Event{Kind: EventFailed, Reason: err.Error()})
	}
	s.cfg.Logger.WarnContext(r.Context(), "strong identification failed", "ref", ref, "error", err)
	s.cfg.Pages.RenderPage(w, r, http.StatusBadGateway, "proofing_result", "proofing.failed.title",
		map[string]any{"Key": "proofing.failed", "Ref": ref})
}

func (s *Service) callback(w http.ResponseWriter, r *http.Request) {
	m := s.meta(r)
	m.Ref = newRef()
	_, err := s.Callback(r.Context(), s.flowSecret(r), r.URL.Query(), m)
	switch {
	case errors.Is(err, ErrFlowGone):
		s.setFlowCookie(w, "", -1)
		s.cfg.Pages.RenderPage(w, r, http.StatusGone, "proofing_gone", "proofing.gone.title", nil)
		return
	case errors.Is(err, ErrProviderError) && strings.Contains(err.Error(), "access_denied"):
		// The person cancelled at the provider.
		s.setFlowCookie(w, "", -1)
		s.cfg.Pages.RenderPage(w, r, http.StatusOK, "proofing_result", "proofing.cancelled.title",
			map[string]any{"Key": "proofing.cancelled", "Link": "/login", "LinkKey": "proofing.back_login"})
		return
	case errors.Is(err, ErrBadAnswer) || errors.Is(err, ErrProviderError) || errors.Is(err, ErrNoIdentifier):
		// Callback recorded the failure with m.Ref.
		s.setFlowCookie(w, "", -1)
		s.providerProblem(w, r, m.Ref, err)
		return
	case err != nil:
		s.setFlowCookie(w, "", -1)
		s.providerProblem(w, r, "", err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, "/proofing/done", http.StatusSeeOther)
}

// done does what the proven identity was for.
func (s *Service) done(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	w.Header().Set("Cache-Control", "no-store")
	f, err := s.Proven(ctx, s.flowSecret(r))
	if err != nil {
		if !errors.Is(err, ErrFlowGone) {
			s.internal(w, r, err)
			return
		}
		s.cfg.Pages.RenderPage(w, r, http.StatusGone, "proofing_gone", "proofing.gone.title", nil)
		return
	}
	m := s.meta(r)
	noMatch := func() {
		s.End(ctx, f)
		s.setFlowCookie(w, "", -1)
		s.cfg.Pages.RenderPage(w, r, http.StatusOK, "proofing_result", "proofing.nomatch.title",
			map[string]any{"Key": "proofing.nomatch", "Link": "/login", "LinkKey": "proofing.back_login"})
	}
	switch f.Purpose {
	case PurposeUsername:
		accounts, err := s.Bound(ctx, f)
		if err != nil {
			s.internal(w, r, err)
			return
		}
		if len(accounts) == 0 {
			noMatch()
			return
		}
		s.UsernamesShown(ctx, f, accounts, m)
		s.End(ctx, f)
		s.setFlowCookie(w, "", -1)
		emails := make([]string, len(accounts))
		for i, a := range accounts {
			emails[i] = a.Email
		}
		s.cfg.Pages.RenderPage(w, r, http.StatusOK, "proofing_usernames", "proofing.usernames.title",
			map[string]any{"Emails": emails, "Name": provenName(f)})
	case PurposePassword:
		accounts, err := s.Bound(ctx, f)
		if err != nil {
			s.internal(w, r, err)
			return
		}
		if len(accounts) == 0 {
			noMatch()
			return
		}
		s.passwordForm(w, r, http.StatusOK, f, accounts, "", nil)
	case PurposeMFAReset:
		a, matched, err := s.ResetMFA(ctx, f, m)
		if err != nil {
			s.internal(w, r, err)
			return
		}
		if !matched {
			noMatch()
			return
		}
		s.End(ctx, f)
		s.setFlowCookie(w, "", -1)
		// From the second step, the password was right minutes ago: the
		// person goes straight on to enrol a new method, signed in with
		// the password alone (the reset never stands in for a factor).
		if f.Challenge != "" {
			if ca, err := s.cfg.MFA.Challenge(ctx, f.Challenge); err == nil && ca.ID == a.ID {
				_, _ = s.cfg.Store.DeleteTokens(ctx, a.ID, storage.TokenMFAChallenge)
				meta := session.Meta{ClientIP: m.ClientIP, UserAgent: m.UserAgent, DeviceID: s.cfg.Sessions.DeviceID(w, r)}
				meta.Factors = []storage.AuthFactor{authn.Factor(authn.MethodPassword, s.now())}
				if _, err := s.cfg.Sessions.Start(ctx, w, r, a.ID, false, meta); err != nil {
					s.internal(w, r, err)
					return
				}
				q := url.Values{"notice": {"mfa_required"}, "return": {localPathOr(f.Return, "/account")}}
				http.Redirect(w, r, "/account/mfa?"+q.Encode(), http.StatusSeeOther)
				return
			}
		}
		s.cfg.Pages.RenderPage(w, r, http.StatusOK, "proofing_result", "proofing.mfa_reset.done.title",
			map[string]any{"Key": "proofing.mfa_reset.done", "Link": "/login?email=" + url.QueryEscape(a.Email), "LinkKey": "proofing.to_login"})
	case PurposeBind:
		se, err := s.cfg.Sessions.Current(ctx, r, "")
		if err != nil || se.AccountID != f.AccountID {
			s.End(ctx, f)
			s.setFlowCookie(w, "", -1)
			s.cfg.Pages.RenderPage(w, r, http.StatusGone, "proofing_gone", "proofing.gone.title", nil)
			return
		}
		a, err := s.cfg.Store.GetAccount(ctx, se.AccountID)
		if err != nil {
			s.internal(w, r, err)
			return
		}
		err = s.Bind(ctx, f, a, m)
		s.End(ctx, f)
		s.setFlowCookie(w, "", -1)
		switch {
		case errors.Is(err, ErrAlreadyBound):
			s.cfg.Pages.RenderPage(w, r, http.StatusConflict, "proofing_result", "proofing.bind.already.title",
				map[string]any{"Key": "proofing.bind.already", "Link": "/account", "LinkKey": "proofing.to_account"})
		case err != nil:
			s.internal(w, r, err)
		default:
			s.cfg.Pages.RenderPage(w, r, http.StatusOK, "proofing_result", "proofing.bind.done.title",
				map[string]any{"Key": "proofing.bind.done", "Link": "/account", "LinkKey": "proofing.to_account"})
		}
	default:
		s.internal(w, r, errors.New("proofing: flow of unknown purpose"))
	}
}

// passwordForm shows the new-password form for the accounts of the
// proven identity.
func (s *Service) passwordForm(w http.ResponseWriter, r *http.Request, status int, f storage.ProofingFlow, accounts []storage.Account, chosen string, errs account.ValidationError) {
	type row struct{ ID, Email string }
	rows := make([]row, len(accounts))
	for i, a := range accounts {
		rows[i] = row{a.ID, a.Email}
	}
	if chosen == "" && len(rows) > 0 {
		chosen = rows[0].ID
	}
	s.cfg.Pages.RenderPage(w, r, status, "proofing_password", "proofing.password.set.title",
		map[string]any{"Accounts": rows, "Chosen": chosen, "Errors": errs, "NewPassword": true, "Name": provenName(f)})
}

func (s *Service) setPassword(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	w.Header().Set("Cache-Control", "no-store")
	f, err := s.Proven(ctx, s.flowSecret(r))
	if err != nil || f.Purpose != PurposePassword {
		s.cfg.Pages.RenderPage(w, r, http.StatusGone, "proofing_gone", "proofing.gone.title", nil)
		return
	}
	if err := r.ParseForm(); err != nil {
		s.cfg.Pages.RenderProblem(w, r, http.StatusBadRequest, "error.bad_request", "")
		return
	}
	accounts, err := s.Bound(ctx, f)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	chosen := r.PostForm.Get("account")
	m := s.meta(r)
	a, err := s.SetPassword(ctx, f, chosen, r.PostForm.Get("password"), r.PostForm.Get("password_confirm"), m)
	var v account.ValidationError
	switch {
	case errors.As(err, &v):
		s.passwordForm(w, r, http.StatusUnprocessableEntity, f, accounts, chosen, v)
		return
	case errors.Is(err, ErrFlowGone):
		// Not one of the proven person's accounts (a tampered form).
		s.passwordForm(w, r, http.StatusUnprocessableEntity, f, accounts, "", account.ValidationError{{Field: "account", Code: "field.required"}})
		return
	case errors.Is(err, account.ErrDisabled):
		s.End(ctx, f)
		s.setFlowCookie(w, "", -1)
		s.cfg.Pages.RenderPage(w, r, http.StatusForbidden, "proofing_result", "login.title", map[string]any{"Key": "login.disabled"})
		return
	case err != nil:
		s.internal(w, r, err)
		return
	}
	s.End(ctx, f)
	s.setFlowCookie(w, "", -1)
	s.cfg.Pages.RenderPage(w, r, http.StatusOK, "proofing_result", "proofing.password.done.title",
		map[string]any{"Key": "proofing.password.done", "Link": "/login?email=" + url.QueryEscape(a.Email), "LinkKey": "proofing.to_login"})
}

// provenName is the name the provider gave, shown so the person sees
// whom the service identified.
func provenName(f storage.ProofingFlow) string {
	return strings.TrimSpace(f.GivenName + " " + f.FamilyName)
}

// localPath keeps a return address only when it is a path on this site.
func localPath(p string) string {
	if p == "" || len(p) > 2000 || !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.HasPrefix(p, "/\\") || strings.ContainsAny(p, "\r\n\t") {
		return ""
	}
	return p
}

func localPathOr(p, def string) string {
	if p = localPath(p); p == "" {
		return def
	}
	return p
}

func clipField(v string) string {
	if len(v) > 320 {
		return ""
	}
	return v
}
