package web

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/portti/portti/internal/account"
	"github.com/portti/portti/internal/authn"
	"github.com/portti/portti/internal/storage"
)

func (s *Server) registerForm(w http.ResponseWriter, r *http.Request) error {
	p := s.newPage(r, "register.title")
	p.Form.Set("email", r.URL.Query().Get("email"))
	s.render(w, r, http.StatusOK, "register", p)
	return nil
}

func (s *Server) register(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(r); err != nil {
		return err
	}
	f := r.PostForm
	m := s.meta(w, r)
	err := s.cfg.Accounts.Register(r.Context(), account.Registration{
		Email: f.Get("email"), EmailConfirm: f.Get("email_confirm"),
		Password: f.Get("password"), PasswordConfirm: f.Get("password_confirm"),
		Profile:     profileFrom(f),
		AcceptTerms: f.Get("accept_terms") != "",
	}, m)
	var v account.ValidationError
	if errors.As(err, &v) {
		p := s.newPage(r, "register.title")
		p.Form, p.Errors = f, v
		s.render(w, r, http.StatusUnprocessableEntity, "register", p)
		return nil
	}
	if err != nil {
		return err
	}
	// The same page whether or not the address already had an account.
	p := s.newPage(r, "register.sent.title")
	email, _ := account.NormalizeEmail(f.Get("email"))
	p.Form.Set("email", email)
	p.Message = p.T("register.sent", "Email", email, "Minutes", int(s.cfg.Accounts.Settings().ActivationTTL.Minutes()))
	s.render(w, r, http.StatusOK, "sent", p)
	return nil
}

func profileFrom(f url.Values) account.Profile {
	return account.Profile{
		GivenName: f.Get("given_name"), FamilyName: f.Get("family_name"),
		PhoneNumber: f.Get("phone_number"), StreetAddress: f.Get("street_address"),
		PostalCode: f.Get("postal_code"), Locality: f.Get("locality"),
	}
}

// activate follows the link from the activation e-mail.
func (s *Server) activate(w http.ResponseWriter, r *http.Request) error {
	token := r.URL.Query().Get("token")
	a, err := s.cfg.Accounts.Activate(r.Context(), token, s.meta(w, r))
	p := s.newPage(r, "activate.title")
	p.Form.Set("email", a.Email)
	var le *account.LinkError
	switch {
	case err == nil:
		p.Message = p.T("activate.done")
		p.Data["LoginLink"] = "/login?" + url.Values{"email": {a.Email}}.Encode()
		s.render(w, r, http.StatusOK, "activated", p)
	case errors.Is(err, account.ErrAlreadyActive):
		p.Message = p.T("activate.already")
		p.Data["LoginLink"] = "/login?" + url.Values{"email": {a.Email}}.Encode()
		s.render(w, r, http.StatusOK, "activated", p)
	case errors.As(err, &le):
		if le.Reason == account.LinkUnknown {
			// An unknown link cannot send a new one; the page asks for the address.
			token = ""
		}
		return s.linkProblem(w, r, le, "activation", token)
	default:
		return err
	}
	return nil
}

// linkProblem explains an unusable link and offers the way out: a new link
// sent with one click, or the form to order one.
func (s *Server) linkProblem(w http.ResponseWriter, r *http.Request, le *account.LinkError, kind, token string) error {
	p := s.newPage(r, "link.title")
	p.Message = p.T("link." + kind + "." + string(le.Reason))
	p.Data["Kind"] = kind
	p.Data["Token"] = token
	p.Data["Reason"] = string(le.Reason)
	status := http.StatusGone
	if le.Reason == account.LinkUnknown {
		status = http.StatusNotFound
	}
	s.render(w, r, status, "link", p)
	return nil
}

// resendActivation sends a new activation link, for an expired link (by
// its token) or for an address typed on the page. Same answer either way.
func (s *Server) resendActivation(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(r); err != nil {
		return err
	}
	m := s.meta(w, r)
	var err error
	if token := r.PostForm.Get("token"); token != "" {
		err = s.cfg.Accounts.ResendActivationForLink(r.Context(), token, m)
	} else {
		err = s.cfg.Accounts.ResendActivation(r.Context(), r.PostForm.Get("email"), m)
	}
	var le *account.LinkError
	var v account.ValidationError
	switch {
	case errors.As(err, &le):
		return s.linkProblem(w, r, le, "activation", "")
	case errors.As(err, &v):
		return &httpError{Status: http.StatusUnprocessableEntity, Key: "email.invalid"}
	case err != nil:
		return err
	}
	p := s.newPage(r, "resend.title")
	p.Message = p.T("resend.sent", "Minutes", int(s.cfg.Accounts.Settings().ActivationTTL.Minutes()))
	s.render(w, r, http.StatusOK, "sent", p)
	return nil
}

func (s *Server) loginForm(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	p := s.newPage(r, "login.title")
	p.Form.Set("email", q.Get("email"))
	p.Form.Set("return", localPath(q.Get("return"), ""))
	if v := q.Get("mfa"); v == "required" || v == "fresh" {
		p.Form.Set("mfa", v)
	}
	if n := q.Get("notice"); n != "" && noticeKeys[n] {
		p.Notice = p.T("notice." + n)
	} else if e, ok := s.cfg.Sessions.EndedElsewhere(r.Context(), r); ok {
		// This browser was signed out from elsewhere: say why, once.
		key := "notice.ended." + e.Reason
		if !s.cfg.Catalog.Has(key) {
			key = "notice.ended." + account.EndedOther
		}
		p.Data["Ended"] = p.T(key)
	}
	s.loginContext(r, p)
	s.liveUsernameFormats(p)
	s.render(w, r, http.StatusOK, "login", p)
	return nil
}

// liveUsernameFormats gives the login page's script the username formats,
// each as the sentence the page would show, as JSON for a data attribute.
func (s *Server) liveUsernameFormats(p *page) {
	if s.cfg.UsernameFormats == nil {
		return
	}
	type entry struct {
		D string `json:"d"`
		T string `json:"t"`
	}
	var out []entry
	for _, f := range s.cfg.UsernameFormats(p.Lang) {
		out = append(out, entry{D: f.Domain, T: p.T("loginhelp.format", "Type", p.T(f.TypeKey), "Format", f.Format)})
	}
	if len(out) == 0 {
		return
	}
	if b, err := json.Marshal(out); err == nil {
		p.Data["UsernameFormats"] = string(b)
	}
}

// noticeKeys are the success messages a redirect may ask a page to show.
var noticeKeys = map[string]bool{
	"logged_out": true, "password_reset": true, "profile_saved": true, "password_changed": true,
	"email_change_sent": true, "email_changed": true, "sessions_ended": true, "session_ended": true,
	"app_removed": true, "email_changed_here": true,
	"mfa_added": true, "mfa_removed": true, "mfa_already_added": true, "mfa_reauth": true, "mfa_required": true,
	"tap_enrolled": true,
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(r); err != nil {
		return err
	}
	f := r.PostForm
	m := s.meta(w, r)
	// A right password without a second step begins the session in the
	// sign-in's transaction; the other paths go on with m.
	signIn := m
	started, err := s.startsSession(w, r, &signIn, f.Get("remember_me") != "")
	if err != nil {
		return err
	}
	signIn.Factors = []storage.AuthFactor{authn.Factor(authn.MethodPassword, s.cfg.Now())}
	a, err := s.cfg.Accounts.Login(r.Context(), f.Get("email"), f.Get("password"), signIn)
	p := s.newPage(r, "login.title")
	p.Form.Set("email", f.Get("email"))
	p.Form.Set("return", localPath(f.Get("return"), ""))
	p.Form.Set("remember_me", f.Get("remember_me"))
	if err != nil {
		// A page follows (a success only redirects): name its application.
		s.loginContext(r, p)
	}
	p.Form.Set("mfa", f.Get("mfa"))
	var locked *account.LockedError
	var expired *account.PasswordExpiredError
	switch {
	case err == nil:
		return s.afterPassword(w, r, a, m, f, *started)
	case errors.Is(err, account.ErrSecondStep):
		if s.mayRemember(f) {
			skip, err := s.cfg.MFA.BrowserRemembered(r.Context(), a, s.rememberedTokens(r))
			if err != nil {
				return err
			}
			if skip {
				return s.rememberedSignIn(w, r, a, m, f)
			}
		}
		challenge, err := s.cfg.MFA.BeginChallenge(r.Context(), a)
		if err != nil {
			return err
		}
		p.Form.Set("mfa", f.Get("mfa"))
		return s.secondStep(w, r, http.StatusOK, p, a, challenge)
	case errors.Is(err, account.ErrInvalidCredentials):
		p.Message = p.T("login.invalid")
		s.usernameHelp(p, f.Get("email"))
		s.liveUsernameFormats(p)
		s.render(w, r, http.StatusUnauthorized, "login", p)
	case errors.Is(err, account.ErrThrottled):
		window := s.cfg.Accounts.Settings().ThrottleWindow
		w.Header().Set("Retry-After", strconv.Itoa(int(window.Seconds())))
		p.Message = p.T("login.throttled", "Minutes", int(window.Minutes()))
		s.render(w, r, http.StatusTooManyRequests, "login", p)
	case errors.Is(err, account.ErrNotActivated):
		p.TitleKey = "login.not_activated.title"
		p.Form.Set("email", a.Email)
		p.Message = p.T("login.not_activated", "Email", a.Email)
		s.render(w, r, http.StatusForbidden, "not_activated", p)
	case errors.As(err, &locked):
		p.TitleKey = "login.locked.title"
		p.Message = p.T("login.locked", "Until", s.formatTime(p.Lang, locked.Until))
		p.Data["ForgotLink"] = "/password/forgot?" + url.Values{"email": {a.Email}}.Encode()
		s.render(w, r, http.StatusForbidden, "locked", p)
	case errors.As(err, &expired):
		p.TitleKey = "reset.expired.title"
		p.Message = p.T("login.password_expired")
		p.Form.Set("token", expired.ChangeToken)
		p.Data["Email"] = a.Email
		s.render(w, r, http.StatusForbidden, "reset", p)
	case errors.Is(err, account.ErrDisabled):
		// The login.failure event recorded by Login carries m.Ref: the
		// helpdesk finds it by the code on this page.
		s.cfg.Logger.InfoContext(r.Context(), "disabled account tried to sign in", "ref", m.Ref, "account_id", a.ID)
		p.Ref = m.Ref
		p.Message = p.T("login.disabled")
		s.render(w, r, http.StatusForbidden, "login", p)
	default:
		return err
	}
	return nil
}

// formatTime shows a time to a person in Finland's time zone, in the
// page's language conventions.
func (s *Server) formatTime(lang string, t time.Time) string {
	t = t.In(helsinki)
	switch lang {
	case "fi":
		return t.Format("2.1.2006 klo 15.04")
	case "sv":
		return t.Format("2.1.2006 kl. 15.04")
	}
	return t.Format("2 January 2006 at 15:04 (Helsinki time)")
}

var helsinki = func() *time.Location {
	loc, err := time.LoadLocation("Europe/Helsinki")
	if err != nil {
		return time.FixedZone("EET", 2*3600)
	}
	return loc
}()

func (s *Server) logout(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(r); err != nil {
		return err
	}
	se, err := s.cfg.Sessions.Current(r.Context(), r, r.PostForm.Get("account_id"))
	if errors.Is(err, storage.ErrNotFound) {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return nil
	}
	if err != nil {
		return err
	}
	if err := s.cfg.Sessions.End(r.Context(), w, r, se.ID); err != nil {
		return err
	}
	s.loggedOut(r.Context(), se.ID)
	s.cfg.Accounts.RecordLogout(r.Context(), se.AccountID, s.meta(w, r))
	http.Redirect(w, r, "/login?notice=logged_out", http.StatusSeeOther)
	return nil
}

// loggedOut tells the applications signed in through session id that it
// has ended (Config.OnLogout).
func (s *Server) loggedOut(ctx context.Context, id string) {
	if s.cfg.OnLogout != nil {
		s.cfg.OnLogout(ctx, id)
	}
}

// usernameHelp puts the username help for a typed address on the page:
// the format of its domain's user type, and "did you mean" for a typo in
// the domain, with a link that fills the form with the corrected address.
func (s *Server) usernameHelp(p *page, typed string) {
	if s.cfg.UsernameHelp == nil {
		return
	}
	h := s.cfg.UsernameHelp(typed, p.Lang)
	if h.Format == "" && h.Suggestion == "" {
		return
	}
	p.Data["UsernameHelp"] = h
	if h.Suggestion != "" {
		q := url.Values{"email": {h.Suggestion}}
		if ret := p.Form.Get("return"); ret != "" {
			q.Set("return", ret)
		}
		p.Data["SuggestionLink"] = "/login?" + q.Encode()
	}
}

// loginContext tells the login page where the person came from: the
// application that sent them (read from the pending sign-in, never from
// the URL), so the page can say "Sign in to continue to Moodle".
func (s *Server) loginContext(r *http.Request, p *page) {
	if ret := p.Form.Get("return"); ret != "" && s.cfg.ReturnApp != nil {
		if app := s.cfg.ReturnApp(r.Context(), ret); app != "" {
			p.Data["App"] = app
		}
	}
}
