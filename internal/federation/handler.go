package federation

import (
	"embed"
	"errors"
	"io/fs"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/portti/portti/internal/account"
	"github.com/portti/portti/internal/authn"
	"github.com/portti/portti/internal/refcode"
	"github.com/portti/portti/internal/session"
	"github.com/portti/portti/internal/storage"
)

//go:embed templates/*.html
var templateFiles embed.FS

// Templates are the package's pages, for web's AddPages.
func Templates() fs.FS { return templateFiles }

const (
	flowCookie = "portti_federation"
	// ChoiceCookie remembers the home organisation last chosen in this
	// browser (an ID, nothing personal), so the chooser offers it first.
	ChoiceCookie = "portti_home_org"
	choiceMaxAge = 400 * 24 * time.Hour // the longest browsers keep a cookie
)

func (s *Service) flowCookieName() string {
	if s.cfg.Secure {
		return "__Host-" + flowCookie
	}
	return flowCookie
}

func (s *Service) meta(w http.ResponseWriter, r *http.Request) account.Meta {
	ip := r.RemoteAddr
	if s.cfg.ClientIP != nil {
		ip = s.cfg.ClientIP(r)
	}
	m := account.Meta{ClientIP: ip, UserAgent: r.UserAgent(), Lang: s.cfg.Pages.Lang(r)}
	if s.cfg.Sessions != nil {
		m.DeviceID = s.cfg.Sessions.DeviceID(w, r)
	}
	return m
}

// Handler serves /federation/; wrap it with the web front's Protect.
func (s *Service) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /federation/choose", s.choose)
	mux.HandleFunc("GET /federation/start", s.start)
	mux.HandleFunc("GET /federation/callback", s.callback)
	mux.HandleFunc("GET /federation/links", s.links)
	mux.HandleFunc("POST /federation/links", s.startLink)
	mux.HandleFunc("POST /federation/links/remove", s.unlink)
	mux.HandleFunc("/federation/", func(w http.ResponseWriter, r *http.Request) {
		s.cfg.Pages.RenderProblem(w, r, http.StatusNotFound, "error.not_found", "")
	})
	return mux
}

// LoginRedirect answers /login?idp=ID (a link that skips the chooser):
// it reports false, leaving the request to the login page, when there is
// no idp parameter.
func (s *Service) LoginRedirect(w http.ResponseWriter, r *http.Request) bool {
	idp := r.URL.Query().Get("idp")
	if r.Method != http.MethodGet || idp == "" || !s.Enabled() {
		return false
	}
	q := url.Values{"idp": {idp}}
	if ret := localPath(r.URL.Query().Get("return")); ret != "" {
		q.Set("return", ret)
	}
	http.Redirect(w, r, "/federation/start?"+q.Encode(), http.StatusSeeOther)
	return true
}

// choose is the home-organisation chooser: a search form that works
// without JavaScript (the server filters), the organisation last chosen
// in this browser first, every result a plain link.
func (s *Service) choose(w http.ResponseWriter, r *http.Request) {
	if !s.Enabled() {
		s.cfg.Pages.RenderProblem(w, r, http.StatusNotFound, "error.not_found", "")
		return
	}
	lang := s.cfg.Pages.Lang(r)
	q := clip(r.URL.Query().Get("q"), 100)
	ret := localPath(r.URL.Query().Get("return"))
	results := s.Search(q, lang)
	data := map[string]any{"Query": q, "Return": ret, "Results": s.rows(results, ret), "Count": len(results), "Searched": q != ""}
	if c, err := r.Cookie(ChoiceCookie); err == nil {
		if p, ok := s.providers[c.Value]; ok {
			data["Last"] = s.row(Choice{ID: p.ID, Name: p.DisplayName(lang)}, ret)
		}
	}
	s.cfg.Pages.RenderPage(w, r, http.StatusOK, "federation_choose", "federation.choose.title", data)
}

type choiceRow struct{ ID, Name, Href string }

func (s *Service) row(c Choice, ret string) choiceRow {
	q := url.Values{"idp": {c.ID}}
	if ret != "" {
		q.Set("return", ret)
	}
	return choiceRow{ID: c.ID, Name: c.Name, Href: "/federation/start?" + q.Encode()}
}

func (s *Service) rows(cs []Choice, ret string) []choiceRow {
	out := make([]choiceRow, len(cs))
	for i, c := range cs {
		out[i] = s.row(c, ret)
	}
	return out
}

// start sends the browser to the chosen home organisation and remembers
// the choice.
func (s *Service) start(w http.ResponseWriter, r *http.Request) {
	idp := r.URL.Query().Get("idp")
	if _, ok := s.providers[idp]; !ok {
		s.cfg.Pages.RenderProblem(w, r, http.StatusNotFound, "federation.unknown_provider", "")
		return
	}
	s.redirectUpstream(w, r, purposeLogin, idp, "", localPath(r.URL.Query().Get("return")))
}

func (s *Service) redirectUpstream(w http.ResponseWriter, r *http.Request, purpose, idp, accountID, ret string) {
	secret, to, err := s.begin(r.Context(), purpose, idp, accountID, ret, s.cfg.Pages.Lang(r))
	if err != nil {
		ref := refcode.New()
		s.cfg.Logger.ErrorContext(r.Context(), "home organisation unreachable", "ref", ref, "provider", idp, "error", err)
		s.cfg.Pages.RenderProblem(w, r, http.StatusBadGateway, "federation.unreachable", ref)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: s.flowCookieName(), Value: secret, Path: "/", MaxAge: int(FlowTTL.Seconds()),
		HttpOnly: true, Secure: s.cfg.Secure, SameSite: http.SameSiteLaxMode})
	if purpose == purposeLogin {
		http.SetCookie(w, &http.Cookie{Name: ChoiceCookie, Value: idp, Path: "/", MaxAge: int(choiceMaxAge.Seconds()),
			HttpOnly: true, Secure: s.cfg.Secure, SameSite: http.SameSiteLaxMode})
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// callback receives the home organisation's answer.
func (s *Service) callback(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	m := s.meta(w, r)
	secret := ""
	if c, err := r.Cookie(s.flowCookieName()); err == nil {
		secret = c.Value
	}
	f, u, err := s.finish(ctx, secret, r.URL.Query())
	if err != nil && !errors.Is(err, ErrState) {
		// A state that does not match leaves the cookie: the browser's own
		// sign-in may still be under way.
		http.SetCookie(w, &http.Cookie{Name: s.flowCookieName(), Value: "", Path: "/", MaxAge: -1,
			HttpOnly: true, Secure: s.cfg.Secure, SameSite: http.SameSiteLaxMode})
	}
	if err != nil {
		if errors.Is(err, ErrFlowGone) {
			s.cfg.Pages.RenderPage(w, r, http.StatusGone, "federation_result", "federation.gone.title",
				map[string]any{"Key": "federation.gone", "Link": "/login", "LinkKey": "nav.to_login", "Path": "/federation/choose"})
			return
		}
		m.Ref = refcode.New()
		s.event(ctx, m, storage.Event{Kind: EventFailed, Reason: clip(f.Provider+": "+err.Error(), 200)})
		s.cfg.Logger.WarnContext(ctx, "home organisation sign-in failed", "ref", m.Ref, "provider", f.Provider, "error", err)
		s.result(w, r, http.StatusBadGateway, "federation.failed", m.Ref, "/federation/choose", "federation.nolink.another")
		return
	}
	if f.Purpose == purposeLink {
		s.finishLink(w, r, f, u, m)
		return
	}
	if f.Purpose == purposeGuest {
		s.finishGuest(w, r, f, u, m) // guest.go
		return
	}
	s.signIn(w, r, f, u, m)
}

// signIn opens the account linked to the upstream identity, and never
// any other: with no link, the person is told so.
func (s *Service) signIn(w http.ResponseWriter, r *http.Request, f storage.ProofingFlow, u Upstream, m account.Meta) {
	ctx := r.Context()
	p := s.providers[u.Provider]
	name := p.DisplayName(s.cfg.Pages.Lang(r))
	link, err := s.cfg.Store.GetFederatedLink(ctx, u.Provider, u.Subject)
	if errors.Is(err, storage.ErrNotFound) {
		m.Ref = refcode.New()
		s.event(ctx, m, storage.Event{Kind: EventNoLink, Reason: "via " + u.Provider})
		s.cfg.Pages.RenderPage(w, r, http.StatusForbidden, "federation_nolink", "federation.nolink.title",
			map[string]any{"Provider": name, "Ref": m.Ref, "Return": f.Return, "Path": "/federation/choose"})
		return
	}
	if err != nil {
		s.internal(w, r, err)
		return
	}
	a, err := s.cfg.Store.GetAccount(ctx, link.AccountID)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	if a.Disabled || !a.Activated() {
		m.Ref = refcode.New()
		s.event(ctx, m, storage.Event{Kind: EventFailed, AccountID: a.ID, Email: a.Email, Reason: "account disabled or not activated, via " + u.Provider})
		s.result(w, r, http.StatusForbidden, "login.disabled", m.Ref, "", "")
		return
	}
	if !u.MFA && s.cfg.MFA != nil {
		// The account has a second factor and the home organisation did
		// not do one portti trusts: the upstream sign-in cannot stand in
		// for it.
		need, err := s.cfg.MFA.SecondStepNeeded(ctx, a)
		if err != nil {
			s.internal(w, r, err)
			return
		}
		if need {
			s.event(ctx, m, storage.Event{Kind: EventFailed, AccountID: a.ID, Email: a.Email, Reason: "second factor needed, via " + u.Provider})
			s.cfg.Pages.RenderPage(w, r, http.StatusForbidden, "federation_result", "federation.mfa_needed.title",
				map[string]any{"Key": "federation.mfa_needed", "Link": "/login?" + url.Values{"email": {a.Email}, "return": {f.Return}}.Encode(), "LinkKey": "federation.mfa_needed.link", "Path": "/federation/choose"})
			return
		}
	}
	factors := s.factors(u)
	m.Factors = factors
	if err := s.cfg.Accounts.CompleteLogin(ctx, a, m); err != nil {
		s.internal(w, r, err)
		return
	}
	if _, err := s.cfg.Sessions.Start(ctx, w, r, a.ID, false, session.Meta{ClientIP: m.ClientIP, UserAgent: m.UserAgent, DeviceID: m.DeviceID, Factors: factors}); err != nil {
		s.internal(w, r, err)
		return
	}
	s.event(ctx, m, storage.Event{Kind: EventSignIn, AccountID: a.ID, Email: a.Email, Reason: "via " + u.Provider})
	ret := f.Return
	if ret == "" {
		ret = "/account"
	}
	if !u.MFA && s.cfg.MFA != nil && s.cfg.MFA.RequiredFor(a) {
		// Required but not yet enrolled: enrolment before the application.
		http.Redirect(w, r, "/account/mfa?"+url.Values{"return": {ret}, "notice": {"mfa_required"}}.Encode(), http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, ret, http.StatusSeeOther)
}

// linkable checks that the signed-in person may link a home organisation:
// a local sign-in (password or passkey), fresh, with the second factor
// when the account has one. Otherwise it answers and reports false.
func (s *Service) linkable(w http.ResponseWriter, r *http.Request) (storage.Session, storage.Account, bool) {
	ctx := r.Context()
	se, err := s.cfg.Sessions.Current(ctx, r, r.PostForm.Get("account"))
	if err != nil {
		http.Redirect(w, r, "/login?return="+url.QueryEscape("/federation/links"), http.StatusSeeOther)
		return se, storage.Account{}, false
	}
	a, err := s.cfg.Store.GetAccount(ctx, se.AccountID)
	if err != nil {
		s.internal(w, r, err)
		return se, a, false
	}
	enabled := false
	if s.cfg.MFA != nil {
		entries, err := s.cfg.MFA.Entries(ctx, a.ID)
		if err != nil {
			s.internal(w, r, err)
			return se, a, false
		}
		enabled = authn.Enabled(entries)
	}
	if !Local(se.Factors) || (s.cfg.MFA != nil && !s.cfg.MFA.Fresh(se, enabled)) {
		http.Redirect(w, r, "/login?"+url.Values{"email": {a.Email}, "return": {"/federation/links"}, "notice": {"mfa_reauth"}, "mfa": {"fresh"}}.Encode(), http.StatusSeeOther)
		return se, a, false
	}
	return se, a, true
}

type linkRow struct{ Provider, Name, Subject, LinkedAt string }

// links lists the account's home-organisation identities and offers to
// link one more.
func (s *Service) links(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	se, err := s.cfg.Sessions.Current(ctx, r, r.URL.Query().Get("account"))
	if err != nil {
		http.Redirect(w, r, "/login?return="+url.QueryEscape("/federation/links"), http.StatusSeeOther)
		return
	}
	list, err := s.cfg.Store.ListFederatedLinks(ctx, se.AccountID)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	lang := s.cfg.Pages.Lang(r)
	rows := make([]linkRow, 0, len(list))
	for _, l := range list {
		name := l.Provider
		if p, ok := s.providers[l.Provider]; ok {
			name = p.DisplayName(lang)
		}
		rows = append(rows, linkRow{Provider: l.Provider, Name: name, Subject: l.Subject, LinkedAt: l.LinkedAt.Format("2006-01-02")})
	}
	data := map[string]any{"Links": rows, "Providers": s.Search("", lang), "Account": se.AccountID}
	if n := r.URL.Query().Get("notice"); n == "linked" || n == "removed" || n == "already" {
		data["Notice"] = "federation.links.notice." + n
	}
	s.cfg.Pages.RenderPage(w, r, http.StatusOK, "federation_links", "federation.links.title", data)
}

// startLink sends a signed-in person to their home organisation to link it.
func (s *Service) startLink(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		s.cfg.Pages.RenderProblem(w, r, http.StatusBadRequest, "error.bad_request", "")
		return
	}
	idp := r.PostForm.Get("idp")
	if _, ok := s.providers[idp]; !ok {
		s.cfg.Pages.RenderProblem(w, r, http.StatusNotFound, "federation.unknown_provider", "")
		return
	}
	_, a, ok := s.linkable(w, r)
	if !ok {
		return
	}
	s.redirectUpstream(w, r, purposeLink, idp, a.ID, "/federation/links")
}

// finishLink links the upstream identity to the account the flow began
// with, if this browser is still signed in to it.
func (s *Service) finishLink(w http.ResponseWriter, r *http.Request, f storage.ProofingFlow, u Upstream, m account.Meta) {
	ctx := r.Context()
	if _, err := s.cfg.Sessions.Current(ctx, r, f.AccountID); err != nil {
		s.cfg.Pages.RenderPage(w, r, http.StatusGone, "federation_result", "federation.gone.title",
			map[string]any{"Key": "federation.gone", "Link": "/login", "LinkKey": "nav.to_login", "Path": "/federation/choose"})
		return
	}
	a, err := s.cfg.Store.GetAccount(ctx, f.AccountID)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	err = s.Link(ctx, a, u.Provider, u.Subject, "self", m)
	switch {
	case errors.Is(err, ErrLinkedHere):
		http.Redirect(w, r, "/federation/links?notice=already", http.StatusSeeOther)
	case errors.Is(err, ErrLinkedElsewhere):
		m.Ref = refcode.New()
		s.event(ctx, m, storage.Event{Kind: EventFailed, AccountID: a.ID, Email: a.Email, Reason: "identity linked to another account, via " + u.Provider})
		s.result(w, r, http.StatusConflict, "federation.link.taken", m.Ref, "/federation/links", "federation.links.title")
	case err != nil:
		s.internal(w, r, err)
	default:
		http.Redirect(w, r, "/federation/links?notice=linked", http.StatusSeeOther)
	}
}

// unlink removes one of the signed-in account's links.
func (s *Service) unlink(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		s.cfg.Pages.RenderProblem(w, r, http.StatusBadRequest, "error.bad_request", "")
		return
	}
	ctx := r.Context()
	se, err := s.cfg.Sessions.Current(ctx, r, r.PostForm.Get("account"))
	if err != nil {
		http.Redirect(w, r, "/login?return="+url.QueryEscape("/federation/links"), http.StatusSeeOther)
		return
	}
	a, err := s.cfg.Store.GetAccount(ctx, se.AccountID)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	idp, sub := r.PostForm.Get("idp"), r.PostForm.Get("subject")
	if err := s.cfg.Store.DeleteFederatedLink(ctx, a.ID, idp, sub); err != nil && !errors.Is(err, storage.ErrNotFound) {
		s.internal(w, r, err)
		return
	} else if err == nil {
		s.event(ctx, s.meta(w, r), storage.Event{Kind: EventUnlinked, AccountID: a.ID, Email: a.Email, Reason: "by the owner, " + idp})
	}
	http.Redirect(w, r, "/federation/links?notice=removed", http.StatusSeeOther)
}

// result renders a page of the callback. Its own path is given as the
// chooser's, so that the page's language links never carry the callback's
// code and state.
func (s *Service) result(w http.ResponseWriter, r *http.Request, status int, key, ref, link, linkKey string) {
	title := key + ".title"
	if key == "login.disabled" {
		title = "login.title"
	}
	s.cfg.Pages.RenderPage(w, r, status, "federation_result", title,
		map[string]any{"Key": key, "Ref": ref, "Link": link, "LinkKey": linkKey, "Path": "/federation/choose"})
}

func (s *Service) internal(w http.ResponseWriter, r *http.Request, err error) {
	ref := refcode.New()
	s.cfg.Logger.ErrorContext(r.Context(), "home organisation sign-in failed", "ref", ref, "error", err)
	s.cfg.Pages.RenderProblem(w, r, http.StatusInternalServerError, "error.internal", ref)
}

// localPath keeps a return address only when it is a path on this site.
func localPath(p string) string {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.HasPrefix(p, "/\\") || len(p) > 2048 {
		return ""
	}
	for _, r := range p {
		if r < 0x20 || r == 0x7f {
			return ""
		}
	}
	return p
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for !utf8Valid(s) {
		s = s[:len(s)-1]
	}
	return s
}
