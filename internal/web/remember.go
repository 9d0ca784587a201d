package web

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/portti/portti/internal/account"
	"github.com/portti/portti/internal/authn"
	"github.com/portti/portti/internal/storage"
)

// "Don't ask again in this browser" (authn/remember.go holds the rules).
// The browser keeps its tokens, one per account remembered in it, in one
// HttpOnly cookie; the server keeps their hashes.

// rememberCookie is the cookie's name; over https the __Host- prefix pins
// it to this host, as the session cookies are.
func (s *Server) rememberCookie() string {
	if s.cfg.Secure {
		return "__Host-portti-mfa-browser"
	}
	return "portti-mfa-browser"
}

func (s *Server) rememberedTokens(r *http.Request) []string {
	c, err := r.Cookie(s.rememberCookie())
	if err != nil {
		return nil
	}
	return authn.RememberedTokens(c.Value)
}

// mayRemember: the second step may be skipped for this sign-in. Not when
// the login form says the application that sent the person demands a
// second factor or a fresh sign-in (mfa=required or mfa=fresh), nor when
// remembering is off.
func (s *Server) mayRemember(f url.Values) bool {
	return s.cfg.MFA != nil && s.cfg.MFA.RememberBrowser() > 0 && f.Get("mfa") == ""
}

// rememberedSignIn finishes a sign-in whose second step this browser is
// remembered for: the session records the password and the remembered
// browser, which claims no second factor (amr pwd, the password's acr).
func (s *Server) rememberedSignIn(w http.ResponseWriter, r *http.Request, a storage.Account, m account.Meta, f url.Values) error {
	if err := s.cfg.Accounts.CompleteLogin(r.Context(), a, m); err != nil {
		return err
	}
	now := s.cfg.Now()
	meta := sessionMeta(m)
	meta.Factors = []storage.AuthFactor{authn.Factor(authn.MethodPassword, now), authn.Factor(authn.MethodRememberedBrowser, now)}
	if _, err := s.cfg.Sessions.Start(r.Context(), w, r, a.ID, f.Get("remember_me") != "", meta); err != nil {
		return err
	}
	http.Redirect(w, r, localPath(f.Get("return"), "/account"), http.StatusSeeOther)
	return nil
}

// rememberIfAsked remembers this browser for account a after a second
// step that succeeded with the box ticked.
func (s *Server) rememberIfAsked(w http.ResponseWriter, r *http.Request, a storage.Account, f url.Values) error {
	if f.Get("remember_browser") == "" || s.cfg.MFA == nil || s.cfg.MFA.RememberBrowser() <= 0 {
		return nil
	}
	tok, err := s.cfg.MFA.RememberThisBrowser(r.Context(), a)
	if err != nil {
		return err
	}
	// The newest first; other accounts' tokens stay, a bounded few.
	tokens := slices.DeleteFunc(s.rememberedTokens(r), func(t string) bool { return len(t) != len(tok) })
	tokens = append([]string{tok}, tokens...)
	if len(tokens) > 8 {
		tokens = tokens[:8]
	}
	http.SetCookie(w, &http.Cookie{
		Name: s.rememberCookie(), Value: strings.Join(tokens, "."), Path: "/",
		MaxAge:   int(s.cfg.MFA.RememberBrowser().Seconds()),
		HttpOnly: true, Secure: s.cfg.Secure, SameSite: http.SameSiteLaxMode,
	})
	return nil
}

// rememberOffer is the second-step page's "don't ask again" label: in
// days, or in hours for less than a day; "" when remembering is off.
func (s *Server) rememberOffer(p *page) string {
	if s.cfg.MFA == nil {
		return ""
	}
	d := s.cfg.MFA.RememberBrowser()
	const day = 24 * time.Hour
	switch {
	case d <= 0:
		return ""
	case d >= day:
		n := int((d + day - 1) / day)
		if n == 1 {
			return p.T("mfarest.remember.day")
		}
		return p.T("mfarest.remember.days", "Days", n)
	}
	n := int((d + time.Hour - 1) / time.Hour)
	if n == 1 {
		return p.T("mfarest.remember.hour")
	}
	return p.T("mfarest.remember.hours", "Hours", n)
}
