package web

import (
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/portti/portti/internal/account"
)

// accountSection is one entry of the account area's navigation. The area
// is one page (/account) with a section per entry, plus pages of their
// own for features that need one (MFA methods, linked identities): add
// an entry here, one line, and the navigation of every account page has
// it.
type accountSection struct {
	Href     string // "/account#profile" for a section of /account, or a page's own path
	TitleKey string
	// federation: shown only when home organisations are offered.
	federation bool
}

var accountSections = []accountSection{
	{Href: "/account#profile", TitleKey: "account.nav.profile"},
	{Href: "/account#security", TitleKey: "account.nav.security"},
	{Href: "/account/mfa", TitleKey: "mfa.nav"},
	{Href: "/federation/links", TitleKey: "federation.nav", federation: true},
	{Href: "/account#browsers", TitleKey: "account.nav.browsers"},
}

// navItem is an accountSection as a page draws it.
type navItem struct {
	Href, Title string
	Current     bool
}

// AccountNav is the account area's navigation for the account shown, each
// link keeping the account chosen (several may be signed in).
func (p *page) AccountNav() []navItem {
	current := p.Path
	if u, err := url.Parse(p.Path); err == nil {
		current = u.Path
	}
	var out []navItem
	for _, s := range accountSections {
		if s.federation && !p.s.cfg.HomeOrganisations {
			continue
		}
		u, _ := url.Parse(s.Href)
		if p.Account != nil {
			u.RawQuery = url.Values{"account": {p.Account.ID}}.Encode()
		}
		out = append(out, navItem{Href: u.String(), Title: p.T(s.TitleKey), Current: u.Fragment == "" && u.Path == current})
	}
	return out
}

// appRow is one application on the account page.
type appRow struct {
	ClientID, Name, Consented, LastUsed string
	ConsentedISO, LastUsedISO           string
	Offline                             bool
}

func (s *Server) appRows(r *http.Request, lang, accountID string) ([]appRow, error) {
	apps, err := s.cfg.Accounts.Apps(r.Context(), accountID)
	if err != nil {
		return nil, err
	}
	var out []appRow
	for _, a := range apps {
		row := appRow{ClientID: a.ClientID, Name: a.ClientName, Offline: a.Offline}
		if row.Name == "" {
			row.Name = a.ClientID
		}
		if !a.Consented.IsZero() {
			row.Consented, row.ConsentedISO = s.shortTime(lang, a.Consented), a.Consented.UTC().Format(time.RFC3339)
		}
		if !a.LastUsed.IsZero() {
			row.LastUsed, row.LastUsedISO = s.shortTime(lang, a.LastUsed), a.LastUsed.UTC().Format(time.RFC3339)
		}
		out = append(out, row)
	}
	return out, nil
}

// removeApp withdraws an application's access: its consent, its tokens
// and the browsers' sign-ins to it (account.RemoveAppAccess).
func (s *Server) removeApp(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(r); err != nil {
		return err
	}
	_, a, ok, err := s.signedIn(w, r)
	if !ok {
		return err
	}
	removed, err := s.cfg.Accounts.RemoveAppAccess(r.Context(), a.ID, r.PostForm.Get("client_id"), s.meta(w, r))
	if errors.Is(err, account.ErrNoAppAccess) {
		return errNotFound
	}
	if err != nil {
		return err
	}
	if s.cfg.OnAppAccessRemoved != nil {
		s.cfg.OnAppAccessRemoved(r.Context(), a.ID, r.PostForm.Get("client_id"), removed.SessionIDs)
	}
	http.Redirect(w, r, "/account?"+url.Values{"notice": {"app_removed"}, "account": {a.ID}}.Encode()+"#browsers", http.StatusSeeOther)
	return nil
}

// shortTime is a time in a table or card: short enough to stay on one or
// two lines at 320 px ("2.12.2026 klo 9.05", "2 Dec 2026, 09:05"). The
// zone (Finland's) is said once on the page.
func (s *Server) shortTime(lang string, t time.Time) string {
	t = t.In(helsinki)
	switch lang {
	case "fi":
		return t.Format("2.1.2006") + " klo " + t.Format("15.04")
	case "sv":
		return t.Format("2.1.2006") + " kl. " + t.Format("15.04")
	}
	return t.Format("2 Jan 2006, 15:04")
}

// AcceptTermsLabel is the registration form's "I accept the terms of use
// and the privacy notice", with each document linked when its URL is
// configured, so that it can be read before it is accepted. The links open
// in a new tab: following one must not lose what was typed in the form.
func (p *page) AcceptTermsLabel() template.HTML {
	terms, privacy := "", ""
	if p.s.cfg.TermsURL != nil {
		terms = p.s.cfg.TermsURL(p.Lang)
	}
	if p.s.cfg.PrivacyURL != nil {
		privacy = p.s.cfg.PrivacyURL(p.Lang)
	}
	if terms == "" && privacy == "" {
		return template.HTML(template.HTMLEscapeString(p.T("field.accept_terms")))
	}
	link := func(href, key string) string {
		text := template.HTMLEscapeString(p.T(key))
		if href == "" {
			return text
		}
		return `<a href="` + template.HTMLEscapeString(href) + `" target="_blank" rel="noopener">` + text +
			` <span class="visually-hidden">` + template.HTMLEscapeString(p.T("register.new_tab")) + `</span></a>`
	}
	// Translate with markers, escape the sentence, then put the links in.
	s := template.HTMLEscapeString(p.T("register.accept_linked", "Terms", "\x01T\x01", "Privacy", "\x01P\x01"))
	s = strings.Replace(s, "\x01T\x01", link(terms, "register.terms_link"), 1)
	s = strings.Replace(s, "\x01P\x01", link(privacy, "register.privacy_link"), 1)
	return template.HTML(s)
}
