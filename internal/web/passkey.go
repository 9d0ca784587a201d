package web

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/portti/portti/internal/account"
	"github.com/portti/portti/internal/authn"
)

// The pages of passkeys (package authn/passkey through authn.Service).
// Only these call the WebAuthn API, from /static/passkey.js; every other
// page has no script.
//
//	POST /login/passkey/options      a ceremony's options (JSON), its state in a cookie of this browser
//	POST /login/passkey              a passwordless sign-in: the browser's answer in the field `response`
//	POST /login/mfa/passkey          the second step with a passkey
//	POST /account/mfa/rename         rename a method
//
// Adding a passkey is the generic /account/mfa/webauthn/new (mfa.go).

// passkeyCookie holds the sealed state of the ceremony this browser
// started; only /login paths see it.
const passkeyCookie = "portti_passkey"

func init() {
	noticeKeys["mfa_renamed"] = true
}

func (s *Server) passkeyRoutes(h func(pattern string, fn handlerFunc)) {
	h("POST /login/passkey/options", s.passkeyOptions)
	h("POST /login/passkey", s.passkeySignIn)
	h("POST /login/mfa/passkey", s.passkeySecondStep)
	h("POST /account/mfa/rename", s.renameMethod)
}

// PasskeySignIn tells the login page to offer "Sign in with a passkey".
func (p *page) PasskeySignIn() bool {
	return p.s.cfg.MFA != nil && p.s.cfg.MFA.PasswordlessOffered()
}

func (s *Server) setPasskeyCookie(w http.ResponseWriter, value string, expires time.Time) {
	c := &http.Cookie{
		Name: passkeyCookie, Value: value, Path: "/login",
		HttpOnly: true, Secure: s.cfg.Secure, SameSite: http.SameSiteStrictMode,
	}
	if value == "" {
		c.MaxAge = -1
	} else {
		c.MaxAge = max(1, int(expires.Sub(s.cfg.Now()).Seconds())) // the ceremony's clock, not the wall's
	}
	http.SetCookie(w, c)
}

func passkeyState(r *http.Request) string {
	c, err := r.Cookie(passkeyCookie)
	if err != nil {
		return ""
	}
	return c.Value
}

// passkeyOptions starts a ceremony: with the field `challenge`, the second
// step of that sign-in; without, a passwordless sign-in. The answer is
// JSON: {"publicKey": …} for navigator.credentials.get, or {"error": text}
// in the person's language.
func (s *Server) passkeyOptions(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(r); err != nil {
		return err
	}
	p := s.newPage(r, "login.title")
	cer, err := s.cfg.MFA.BeginAssertion(r.Context(), r.PostForm.Get("challenge"))
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	fail := func(status int, key string) error {
		w.WriteHeader(status)
		return json.NewEncoder(w).Encode(map[string]string{"error": p.T(key)})
	}
	switch {
	case errors.Is(err, authn.ErrChallengeGone):
		return fail(http.StatusGone, "mfa.login.gone")
	case errors.Is(err, authn.ErrUnknownMethod):
		return fail(http.StatusNotFound, "passkey.error.unknown")
	case err != nil:
		return err
	}
	s.setPasskeyCookie(w, cer.State, cer.Expires)
	_, err = w.Write(cer.Options)
	return err
}

// passkeyErrorKey is the message of an assertion's failure.
func passkeyErrorKey(err error) (string, bool) {
	for _, e := range []struct {
		err error
		key string
	}{
		{authn.ErrCeremonyGone, "passkey.error.gone"},
		{authn.ErrWrongChallenge, "passkey.error.wrong_challenge"},
		{authn.ErrWrongOrigin, "passkey.error.wrong_origin"},
		{authn.ErrUnknownCredential, "passkey.error.unknown"},
		{authn.ErrOtherAccount, "passkey.error.other_account"},
		{authn.ErrUserNotVerified, "passkey.error.not_verified"},
		{authn.ErrReplayed, "passkey.error.replayed"},
		{authn.ErrAssertionInvalid, "passkey.error.invalid"},
		{authn.ErrMalformed, "passkey.error.invalid"},
	} {
		if errors.Is(err, e.err) {
			return e.key, true
		}
	}
	return "", false
}

// passkeySignIn is a passwordless sign-in. The account then gets the
// answers a right password gets.
func (s *Server) passkeySignIn(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(r); err != nil {
		return err
	}
	f := r.PostForm
	m := s.meta(w, r)
	started, err := s.startsSession(w, r, &m, f.Get("remember_me") != "")
	if err != nil {
		return err
	}
	res, err := s.cfg.MFA.SignInWithAssertion(r.Context(), passkeyState(r), []byte(f.Get("response")), m)
	s.setPasskeyCookie(w, "", time.Time{})
	p := s.newPage(r, "login.title")
	p.Form.Set("return", localPath(f.Get("return"), ""))
	p.Form.Set("mfa", f.Get("mfa"))
	a := res.Account
	var locked *account.LockedError
	switch {
	case err == nil:
		if !*started {
			meta := sessionMeta(m)
			meta.Factors = res.Factors
			if _, err := s.cfg.Sessions.Start(r.Context(), w, r, a.ID, f.Get("remember_me") != "", meta); err != nil {
				return err
			}
		}
		http.Redirect(w, r, localPath(f.Get("return"), "/account"), http.StatusSeeOther)
		return nil
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
	case errors.Is(err, account.ErrDisabled):
		// The login.failure event recorded by authn carries m.Ref: the
		// helpdesk finds it by the code on this page.
		s.cfg.Logger.InfoContext(r.Context(), "disabled account tried to sign in with a passkey", "ref", m.Ref, "account_id", a.ID)
		p.Ref = m.Ref
		p.Message = p.T("login.disabled")
		s.render(w, r, http.StatusForbidden, "login", p)
	default:
		key, ok := passkeyErrorKey(err)
		if !ok {
			return err
		}
		p.Message = p.T(key)
		s.render(w, r, http.StatusUnauthorized, "login", p)
	}
	return nil
}

// passkeySecondStep completes the second step of a sign-in with a passkey.
func (s *Server) passkeySecondStep(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(r); err != nil {
		return err
	}
	f := r.PostForm
	m := s.meta(w, r)
	started, err := s.startsSession(w, r, &m, f.Get("remember_me") != "")
	if err != nil {
		return err
	}
	res, err := s.cfg.MFA.VerifyAssertion(r.Context(), f.Get("challenge"), passkeyState(r), []byte(f.Get("response")), m)
	s.setPasskeyCookie(w, "", time.Time{})
	p := s.secondStepPage(r)
	if done, err := s.secondStepEnds(w, r, p, m, res, err, *started); done {
		return err
	}
	key, ok := passkeyErrorKey(err)
	if !ok {
		return err
	}
	p.Data["PasskeyError"] = p.T(key)
	return s.secondStep(w, r, http.StatusUnauthorized, p, res.Account, f.Get("challenge"))
}

// renameMethod names one of the signed-in person's methods.
func (s *Server) renameMethod(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(r); err != nil {
		return err
	}
	_, a, ok, err := s.signedIn(w, r)
	if !ok {
		return err
	}
	err = s.cfg.MFA.Rename(r.Context(), a, r.PostForm.Get("id"), r.PostForm.Get("name"), s.meta(w, r))
	switch {
	case errors.Is(err, authn.ErrUnknownMethod):
		return errNotFound
	case err != nil:
		return err
	}
	http.Redirect(w, r, "/account/mfa?notice=mfa_renamed", http.StatusSeeOther)
	return nil
}

// passkeyEntries reports whether entries include a passkey, for the
// second step's "Use a passkey".
func (s *Server) passkeyEntries(entries []authn.Entry) bool {
	return s.cfg.MFA.HasAssertion(entries)
}

func isPasskeyFailure(err error) bool {
	_, ok := passkeyErrorKey(err)
	return ok
}
