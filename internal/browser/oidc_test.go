package browser

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/portti/portti/internal/account"
	"github.com/portti/portti/internal/app/apptest"
	"github.com/portti/portti/internal/i18n"
	"github.com/portti/portti/internal/oidc"
)

// The single sign-on pages in Chromium: the account chooser and the page
// of an application restricted to the organisation's network, in each
// language, with screenshots (<lang>-chooser.png, <lang>-restricted.png).

const ssoPassword = "kesämökki järven rannalla"

// application is a relying party on a loopback server: its pages say
// where the browser arrived, and it keeps the codes portti sends it.
type application struct {
	t    *testing.T
	env  *apptest.Env
	srv  *httptest.Server
	conf *oauth2.Config
	mu   sync.Mutex
	last url.Values
}

// newApplication registers a relying party with portti; spec's redirect
// and post-logout URIs are set to the application's own.
func newApplication(t *testing.T, env *apptest.Env, spec oidc.ClientSpec) *application {
	t.Helper()
	a := &application{t: t, env: env}
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/callback" { // not the browser's /favicon.ico
			a.mu.Lock()
			a.last = r.URL.Query()
			a.mu.Unlock()
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, `<!doctype html><html lang="en"><title>Application</title><main><h1>Application: `+r.URL.Path+`</h1></main></html>`)
	}))
	t.Cleanup(a.srv.Close)
	spec.RedirectURIs = []string{a.srv.URL + "/callback"}
	spec.PostLogoutRedirectURIs = []string{a.srv.URL + "/bye"}
	_, secret, err := oidc.RegisterClient(context.Background(), env.App.Store, spec, env.Clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	a.conf = &oauth2.Config{
		ClientID: spec.ID, ClientSecret: secret, RedirectURL: a.srv.URL + "/callback",
		Endpoint: oauth2.Endpoint{AuthURL: env.URL + oidc.PathAuthorize, TokenURL: env.URL + oidc.PathToken},
		Scopes:   []string{"openid", "profile", "email"},
	}
	return a
}

// authorizeURL starts a sign-in; the PKCE verifier is kept for exchange.
func (a *application) authorizeURL(verifier string, opts ...oauth2.AuthCodeOption) string {
	return a.conf.AuthCodeURL("state-"+verifier[:8], append([]oauth2.AuthCodeOption{oauth2.S256ChallengeOption(verifier)}, opts...)...)
}

// subject exchanges the code the application last got and returns the
// verified id_token's sub.
func (a *application) subject(verifier string) string {
	a.t.Helper()
	a.mu.Lock()
	q := a.last
	a.mu.Unlock()
	if q.Get("code") == "" {
		a.t.Fatalf("the application got no code: %v", q)
	}
	ctx := context.Background()
	tok, err := a.conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		a.t.Fatalf("exchange: %v", err)
	}
	provider, err := gooidc.NewProvider(ctx, a.env.URL)
	if err != nil {
		a.t.Fatal(err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := provider.Verifier(&gooidc.Config{ClientID: a.conf.ClientID, Now: a.env.Clock.Now}).Verify(ctx, raw)
	if err != nil {
		a.t.Fatalf("id_token: %v", err)
	}
	return idt.Subject
}

// arrivedAt checks that the tab is on the application's page path.
func (a *application) arrivedAt(b *tab, path string) {
	a.t.Helper()
	if loc := b.location(); !strings.HasPrefix(loc, a.srv.URL+path) {
		a.t.Fatalf("at %s, want the application's %s; the page says:\n%s", loc, path, b.mainText())
	}
}

func addPerson(t *testing.T, env *apptest.Env, email, given, family string) string {
	t.Helper()
	acct, err := env.App.Accounts.AddUser(context.Background(), email, account.Profile{GivenName: given, FamilyName: family},
		ssoPassword, account.Meta{ClientIP: "test", Lang: "en"})
	if err != nil {
		t.Fatal(err)
	}
	return acct.ID
}

func catalog(t *testing.T) *i18n.Catalog {
	t.Helper()
	c, err := i18n.Load()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// switchTo picks a language with the switcher and expects status want.
func (b *tab) switchTo(lang string, want int) {
	b.t.Helper()
	if b.lang() != lang {
		b.click(fmt.Sprintf(`header nav a[hreflang=%q]`, lang), want)
	}
	if got := b.lang(); got != lang {
		b.t.Fatalf("page is in %q after switching to %s", got, lang)
	}
}

// TestBrowserAccountChooser: two accounts signed in side by side; the
// application gets the chooser, and the account picked on it.
func TestBrowserAccountChooser(t *testing.T) {
	startChromium(t) // skip (or fail) before starting portti
	env := apptest.Start(t, nil)
	aino := addPerson(t, env, "aino@example.fi", "Aino", "Virtanen")
	eero := addPerson(t, env, "eero@example.fi", "Eero", "Korhonen")
	app := newApplication(t, env, oidc.ClientSpec{ID: "moodle", Name: "Moodle"})
	b := newTab(t, env)

	// Aino signs in to the application through the login form.
	v := oauth2.GenerateVerifier()
	b.open(app.authorizeURL(v), 200)
	b.at("/login")
	b.logIn("aino@example.fi", ssoPassword, false, 200)
	app.arrivedAt(b, "/callback")
	if sub := app.subject(v); sub != aino {
		t.Fatalf("first sign-in: sub %s", sub)
	}
	// Then Eero, in the same browser (the application hints at him).
	env.Clock.Advance(time.Minute)
	v = oauth2.GenerateVerifier()
	b.open(app.authorizeURL(v, oauth2.SetAuthURLParam("login_hint", "eero@example.fi")), 200)
	b.at("/login")
	if got := b.value("email"); got != "eero@example.fi" {
		t.Errorf("login form prefilled with %q", got)
	}
	b.logIn("eero@example.fi", ssoPassword, false, 200)
	app.arrivedAt(b, "/callback")
	if sub := app.subject(v); sub != eero {
		t.Fatalf("second sign-in: sub %s", sub)
	}

	// Both are signed in: the application gets the chooser, in each
	// language.
	env.Clock.Advance(time.Minute)
	v = oauth2.GenerateVerifier()
	b.open(app.authorizeURL(v), 200)
	b.at(oidc.PathContinue)
	for _, lang := range []string{"fi", "sv", "en"} {
		b.switchTo(lang, 200)
		b.at(oidc.PathContinue)
		b.heading(catalog(t).T(lang, "chooser.title", nil))
		b.see("Moodle", "aino@example.fi", "eero@example.fi")
		b.screenshot(lang + "-chooser")
	}
	// Each button says what it does and for whom.
	buttons := evalJS[[]string](b, `[...document.querySelectorAll("main button")].map(e => e.innerText.trim())`)
	want := []string{
		"Continue as Eero Korhonen, eero@example.fi", "Sign out of eero@example.fi",
		"Continue as Aino Virtanen, aino@example.fi", "Sign out of aino@example.fi",
	}
	if strings.Join(buttons, "|") != strings.Join(want, "|") {
		t.Errorf("buttons %q, want %q", buttons, want)
	}
	// Pick the second account: Aino, the older sign-in.
	b.click(`main li:nth-of-type(2) button[value="continue"]`, 200)
	app.arrivedAt(b, "/callback")
	if sub := app.subject(v); sub != aino {
		t.Errorf("picked Aino, the application got %s", sub)
	}

	// Sign Eero out on the chooser: it stays, with Aino only.
	env.Clock.Advance(time.Minute)
	v = oauth2.GenerateVerifier()
	b.open(app.authorizeURL(v), 200)
	b.click(`main li:nth-of-type(1) button[value="signout"]`, 200)
	b.at(oidc.PathContinue)
	if n := evalJS[int](b, `document.querySelectorAll("main .accounts li").length`); n != 1 {
		t.Fatalf("%d accounts after signing Eero out", n)
	}
	b.see("aino@example.fi")
	b.screenshot("en-chooser-signed-out")
	b.click(`main li:nth-of-type(1) button[value="continue"]`, 200)
	app.arrivedAt(b, "/callback")
	if sub := app.subject(v); sub != aino {
		t.Errorf("after signing Eero out: %s", sub)
	}

	// The application's logout without a hint asks first, then returns.
	b.open(oidc.PathEndSession+"?"+url.Values{"client_id": {"moodle"}, "post_logout_redirect_uri": {app.srv.URL + "/bye"}}.Encode(), 200)
	b.heading("Sign out of portti?")
	b.screenshot("en-logout")
	b.submit(oidc.PathEndSession, 200)
	app.arrivedAt(b, "/bye")
	b.open("/account", 200)
	b.at("/login")
}

// TestBrowserRestrictedApp: an application limited to the campus network
// stops a sign-in from elsewhere at a page naming it, in the person's
// language, with 403; from the campus network the sign-in goes through.
// portti sits behind a proxy (PORTTI_TRUSTED_PROXIES=127.0.0.1), whose
// X-Forwarded-For the tab sends.
func TestBrowserRestrictedApp(t *testing.T) {
	startChromium(t)
	env := apptest.Start(t, map[string]string{"PORTTI_TRUSTED_PROXIES": "127.0.0.1"})
	aino := addPerson(t, env, "aino@example.fi", "Aino", "Virtanen")
	app := newApplication(t, env, oidc.ClientSpec{ID: "hr", Name: "HR system", AllowedNetworks: []string{"10.0.0.0/8"}})
	b := newTab(t, env)
	from := func(ip string) {
		t.Helper()
		if _, err := chromedp.Call(b.ctx, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{
			Headers: network.Headers{"X-Forwarded-For": ip},
		}); err != nil {
			t.Fatalf("set X-Forwarded-For: %v", err)
		}
	}

	from("203.0.113.9")
	v := oauth2.GenerateVerifier()
	b.open(app.authorizeURL(v), 403)
	for _, lang := range []string{"fi", "sv", "en"} {
		b.switchTo(lang, 403)
		b.at(oidc.PathAuthorize)
		b.heading(catalog(t).T(lang, "restricted.heading", map[string]any{"App": "HR system"}))
		b.see(catalog(t).T(lang, "restricted.message", map[string]any{"App": "HR system"}))
		b.screenshot(lang + "-restricted")
	}
	app.mu.Lock()
	if app.last != nil {
		t.Errorf("the application was reached: %v", app.last)
	}
	app.mu.Unlock()

	// From the campus network: the login form, then the application.
	from("10.20.30.40")
	b.open(app.authorizeURL(v), 200)
	b.at("/login")
	b.logIn("aino@example.fi", ssoPassword, false, 200)
	app.arrivedAt(b, "/callback")
	if sub := app.subject(v); sub != aino {
		t.Errorf("from inside: sub %s", sub)
	}
}
