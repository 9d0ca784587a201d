package app_test

import (
	"context"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/portti/portti/internal/account"
	"github.com/portti/portti/internal/app/apptest"
	"github.com/portti/portti/internal/i18n"
	"github.com/portti/portti/internal/oidc"
	"github.com/portti/portti/internal/storage"
)

// ssoPassword is every test account's password in these tests.
const ssoPassword = "kesämökki järven rannalla"

// ssoApp is a relying party built with go-oidc and x/oauth2, registered
// with portti.
type ssoApp struct {
	t        *testing.T
	env      *apptest.Env
	rp       *relyingParty
	conf     *oauth2.Config
	provider *gooidc.Provider
	verifier *gooidc.IDTokenVerifier
}

// newSSOApp registers spec (its redirect URI is the relying party's) and
// runs discovery.
func newSSOApp(t *testing.T, env *apptest.Env, spec oidc.ClientSpec) *ssoApp {
	t.Helper()
	ctx := context.Background()
	rp := newRelyingParty(t)
	spec.RedirectURIs = []string{rp.redirectURI()}
	_, secret, err := oidc.RegisterClient(ctx, env.App.Store, spec, env.Clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	provider, err := gooidc.NewProvider(ctx, env.URL)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	return &ssoApp{
		t: t, env: env, rp: rp, provider: provider,
		verifier: provider.Verifier(&gooidc.Config{ClientID: spec.ID, Now: env.Clock.Now}),
		conf: &oauth2.Config{
			ClientID: spec.ID, ClientSecret: secret, Endpoint: provider.Endpoint(), RedirectURL: rp.redirectURI(),
			Scopes: []string{gooidc.ScopeOpenID, "profile", "email", gooidc.ScopeOfflineAccess},
		},
	}
}

// ssoFlow is one authorization request in progress.
type ssoFlow struct {
	state, nonce, verifier string
	resp                   *http.Response // where the browser is now
	page                   string
}

// begin sends browser c to the authorization endpoint and follows
// redirects to the first page (or the relying party).
func (a *ssoApp) begin(c *http.Client, opts ...oauth2.AuthCodeOption) *ssoFlow {
	a.t.Helper()
	f := &ssoFlow{state: oauth2.GenerateVerifier()[:20], nonce: oauth2.GenerateVerifier()[:20], verifier: oauth2.GenerateVerifier()}
	opts = append([]oauth2.AuthCodeOption{gooidc.Nonce(f.nonce), oauth2.S256ChallengeOption(f.verifier)}, opts...)
	f.resp, f.page = browse(a.t, c, a.conf.AuthCodeURL(f.state, opts...))
	return f
}

// at reports whether the flow's browser is on the portti page path.
func (f *ssoFlow) at(path string) bool { return f.resp.Request.URL.Path == path }

// logIn types the password into the login form the flow is on.
func (a *ssoApp) logIn(c *http.Client, f *ssoFlow, email string) {
	a.t.Helper()
	ret, _ := loginForm(a.t, f.resp, f.page)
	resp, err := c.PostForm(a.env.URL+"/login", url.Values{"email": {email}, "password": {ssoPassword}, "return": {ret}})
	if err != nil {
		a.t.Fatal(err)
	}
	f.resp, f.page = readAll(a.t, resp)
}

// postForm posts form in browser c and moves the flow to the answer.
func (a *ssoApp) postForm(c *http.Client, f *ssoFlow, path string, form url.Values) {
	a.t.Helper()
	resp, err := c.PostForm(a.env.URL+path, form)
	if err != nil {
		a.t.Fatal(err)
	}
	f.resp, f.page = readAll(a.t, resp)
}

func readAll(t *testing.T, resp *http.Response) (*http.Response, string) {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// ssoResult is a finished sign-in as the relying party sees it.
type ssoResult struct {
	id    *gooidc.IDToken
	raw   string
	token *oauth2.Token
}

// finish checks that the flow ended at the relying party with a code,
// exchanges it and verifies the id_token.
func (a *ssoApp) finish(f *ssoFlow) ssoResult {
	a.t.Helper()
	if !strings.HasPrefix(f.resp.Request.URL.String(), a.rp.redirectURI()) {
		a.t.Fatalf("sign-in ended at %s (%d), not at the application:\n%s", f.resp.Request.URL, f.resp.StatusCode, f.page)
	}
	cb := a.rp.callback()
	if cb.Get("state") != f.state || cb.Get("code") == "" {
		a.t.Fatalf("callback %v", cb)
	}
	ctx := context.Background()
	tok, err := a.conf.Exchange(ctx, cb.Get("code"), oauth2.VerifierOption(f.verifier))
	if err != nil {
		a.t.Fatalf("exchange: %v", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := a.verifier.Verify(ctx, raw)
	if err != nil {
		a.t.Fatalf("verify id_token: %v", err)
	}
	if idt.Nonce != f.nonce {
		a.t.Errorf("nonce %q, want %q", idt.Nonce, f.nonce)
	}
	return ssoResult{id: idt, raw: raw, token: tok}
}

// signIn runs a whole sign-in in c, typing the password of email when
// portti asks for it (email "" when it must not ask).
func (a *ssoApp) signIn(c *http.Client, email string, opts ...oauth2.AuthCodeOption) ssoResult {
	a.t.Helper()
	f := a.begin(c, opts...)
	if email != "" {
		a.logIn(c, f, email)
	}
	return a.finish(f)
}

func addSSOUser(t *testing.T, env *apptest.Env, email, given, family string) storage.Account {
	t.Helper()
	acct, err := env.App.Accounts.AddUser(context.Background(), email, account.Profile{GivenName: given, FamilyName: family},
		ssoPassword, account.Meta{ClientIP: "test", Lang: "en"})
	if err != nil {
		t.Fatal(err)
	}
	return acct
}

// forwardedFor is a browser behind portti's reverse proxy: every request
// carries X-Forwarded-For and a language.
type forwardedFor struct {
	ip, lang string
	next     http.RoundTripper
}

func (f forwardedFor) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	if f.ip != "" {
		r.Header.Set("X-Forwarded-For", f.ip)
	}
	if f.lang != "" {
		r.Header.Set("Accept-Language", f.lang)
	}
	return f.next.RoundTrip(r)
}

func browserFrom(t *testing.T, env *apptest.Env, ip, lang string) *http.Client {
	c := env.Browser(t)
	c.Transport = forwardedFor{ip: ip, lang: lang, next: http.DefaultTransport}
	return c
}

var (
	chooserID       = regexp.MustCompile(`<input type="hidden" name="id" value="([^"]+)">`)
	chooserAccounts = regexp.MustCompile(`<input type="hidden" name="account" value="([^"]+)">`)
	anotherLink     = regexp.MustCompile(`href="(/oauth2/authorize/continue\?id=[^"]+another=1)"`)
)

// chooser checks that the flow shows the account chooser and returns the
// request ID and the accounts offered, in order.
func chooser(t *testing.T, f *ssoFlow) (string, []string) {
	t.Helper()
	if !f.at(oidc.PathContinue) || f.resp.StatusCode != http.StatusOK || !strings.Contains(f.page, "<h1>Choose an account</h1>") {
		t.Fatalf("want the account chooser, at %s (%d):\n%s", f.resp.Request.URL, f.resp.StatusCode, f.page)
	}
	m := chooserID.FindStringSubmatch(f.page)
	if m == nil {
		t.Fatalf("chooser without a request ID:\n%s", f.page)
	}
	var ids []string
	for _, a := range chooserAccounts.FindAllStringSubmatch(f.page, -1) {
		ids = append(ids, a[1])
	}
	return m[1], ids
}

// TestOIDCNetworkRestriction: a client limited to the campus network
// stops a sign-in from elsewhere at a page naming it, in the person's
// language, with 403; from inside, the sign-in goes on. The address is
// X-Forwarded-For only from a trusted proxy.
func TestOIDCNetworkRestriction(t *testing.T) {
	env := apptest.Start(t, map[string]string{"PORTTI_TRUSTED_PROXIES": "127.0.0.1"})
	aino := addSSOUser(t, env, "aino@example.fi", "Aino", "Virtanen")
	campus := newSSOApp(t, env, oidc.ClientSpec{ID: "wiki", Name: "Campus wiki", AllowedNetworks: []string{"10.0.0.0/8"}})
	open := newSSOApp(t, env, oidc.ClientSpec{ID: "open", Name: "Open app"})
	cat, err := i18n.Load()
	if err != nil {
		t.Fatal(err)
	}

	for _, lang := range []string{"fi", "sv", "en"} {
		outside := browserFrom(t, env, "203.0.113.9", lang)
		f := campus.begin(outside)
		body := html.UnescapeString(f.page)
		heading := cat.T(lang, "restricted.heading", map[string]any{"App": "Campus wiki"})
		if f.resp.StatusCode != http.StatusForbidden || !f.at(oidc.PathAuthorize) || !strings.Contains(body, "<h1>"+heading+"</h1>") ||
			!strings.Contains(body, cat.T(lang, "restricted.message", map[string]any{"App": "Campus wiki"})) ||
			!strings.Contains(body, `<html lang="`+lang+`">`) || !strings.Contains(body, `href="/static/style.css"`) {
			t.Errorf("%s, from outside: %d at %s\n%s", lang, f.resp.StatusCode, f.resp.Request.URL, f.page)
		}
		if cb := campus.rp.callback(); cb != nil {
			t.Errorf("%s: the application got %v", lang, cb)
		}
	}
	// The same browser may sign in to an unrestricted application.
	outside := browserFrom(t, env, "203.0.113.9", "en")
	if r := open.signIn(outside, aino.Email); r.id.Subject != aino.ID {
		t.Errorf("open app from outside: %s", r.id.Subject)
	}

	// From the campus network (through the proxy): the login form, then
	// the application.
	inside := browserFrom(t, env, "10.20.30.40", "en")
	f := campus.begin(inside)
	if !f.at("/login") {
		t.Fatalf("from inside: at %s (%d)", f.resp.Request.URL, f.resp.StatusCode)
	}
	campus.logIn(inside, f, aino.Email)
	if r := campus.finish(f); r.id.Subject != aino.ID {
		t.Errorf("inside: sub %s", r.id.Subject)
	}
	// A client's own X-Forwarded-For, left of the proxy's, is not believed.
	spoof := browserFrom(t, env, "10.1.1.1, 203.0.113.9", "en")
	if f := campus.begin(spoof); f.resp.StatusCode != http.StatusForbidden {
		t.Errorf("spoofed X-Forwarded-For: %d at %s", f.resp.StatusCode, f.resp.Request.URL)
	}

	// Without trusted proxies, X-Forwarded-For is ignored: the peer
	// (127.0.0.1) is outside the campus network.
	t.Run("untrusted proxy", func(t *testing.T) {
		env := apptest.Start(t, nil)
		campus := newSSOApp(t, env, oidc.ClientSpec{ID: "wiki", Name: "Campus wiki", AllowedNetworks: []string{"10.0.0.0/8"}})
		if f := campus.begin(browserFrom(t, env, "10.20.30.40", "en")); f.resp.StatusCode != http.StatusForbidden || !strings.Contains(f.page, "Campus wiki") {
			t.Errorf("X-Forwarded-For from an untrusted peer was believed: %d", f.resp.StatusCode)
		}
	})
}

// TestOIDCAccountChooser: two accounts in one browser; the chooser, the
// choice, signing out on it, "use another account", prompt=select_account
// with one account, and hints that never hand over the wrong account.
func TestOIDCAccountChooser(t *testing.T) {
	env := apptest.Start(t, nil)
	aino := addSSOUser(t, env, "aino@example.fi", "Aino", "Virtanen")
	eero := addSSOUser(t, env, "eero@example.fi", "Eero", "Korhonen")
	satu := addSSOUser(t, env, "satu@example.fi", "Satu", "Mäkinen")
	app := newSSOApp(t, env, oidc.ClientSpec{ID: "rp", Name: "Test application"})
	browser := env.Browser(t)

	// Aino signs in; with one account and no prompt, no chooser.
	if r := app.signIn(browser, aino.Email); r.id.Subject != aino.ID {
		t.Fatalf("aino: %s", r.id.Subject)
	}
	env.Clock.Advance(time.Minute)
	if r := app.signIn(browser, ""); r.id.Subject != aino.ID {
		t.Fatalf("aino again: %s", r.id.Subject)
	}

	// prompt=select_account with one account: the chooser, with her.
	env.Clock.Advance(time.Minute)
	f := app.begin(browser, oauth2.SetAuthURLParam("prompt", "select_account"))
	id, offered := chooser(t, f)
	if len(offered) != 1 || offered[0] != aino.ID || !strings.Contains(f.page, "Continue as Aino Virtanen, aino@example.fi") {
		t.Fatalf("select_account, one account: %v\n%s", offered, f.page)
	}
	app.postForm(browser, f, oidc.PathContinue, url.Values{"id": {id}, "op": {"continue"}, "account": {aino.ID}})
	if r := app.finish(f); r.id.Subject != aino.ID {
		t.Errorf("select_account: %s", r.id.Subject)
	}

	// A login_hint for Eero, who is not signed in here: never Aino's
	// session, the login form for Eero.
	env.Clock.Advance(time.Minute)
	f = app.begin(browser, oauth2.SetAuthURLParam("login_hint", eero.Email))
	if _, email := loginForm(t, f.resp, f.page); email != eero.Email {
		t.Fatalf("login form prefilled with %q", email)
	}
	if cb := app.rp.callback(); cb != nil {
		t.Fatalf("the application got %v before Eero signed in", cb)
	}
	app.logIn(browser, f, eero.Email)
	if r := app.finish(f); r.id.Subject != eero.ID {
		t.Fatalf("eero: %s", r.id.Subject)
	}

	// Two accounts and no hint: the chooser, newest first, "continue as
	// <name, e-mail>" for each. Picking the second gives its sub.
	env.Clock.Advance(time.Minute)
	f = app.begin(browser)
	id, offered = chooser(t, f)
	if len(offered) != 2 || offered[0] != eero.ID || offered[1] != aino.ID {
		t.Fatalf("chooser offers %v", offered)
	}
	for _, want := range []string{"Continue as Eero Korhonen, eero@example.fi", "Continue as Aino Virtanen, aino@example.fi",
		"Sign out of eero@example.fi", "Use another account", "Test application"} {
		if !strings.Contains(f.page, want) {
			t.Errorf("chooser lacks %q", want)
		}
	}
	app.postForm(browser, f, oidc.PathContinue, url.Values{"id": {id}, "op": {"continue"}, "account": {offered[1]}})
	if r := app.finish(f); r.id.Subject != offered[1] {
		t.Errorf("picked the second account (%s), got sub %s", offered[1], r.id.Subject)
	}
	// A hint for one of them still goes straight through.
	env.Clock.Advance(time.Minute)
	if r := app.signIn(browser, "", oauth2.SetAuthURLParam("login_hint", eero.Email)); r.id.Subject != eero.ID {
		t.Errorf("hint eero with both signed in: %s", r.id.Subject)
	}
	// prompt=none cannot choose.
	f = app.begin(browser, oauth2.SetAuthURLParam("prompt", "none"))
	if cb := app.rp.callback(); cb.Get("error") != "account_selection_required" || cb.Get("state") != f.state {
		t.Errorf("prompt=none with two accounts: %v", cb)
	}

	// "Use another account": the login form, returning to the request.
	env.Clock.Advance(time.Minute)
	f = app.begin(browser)
	chooser(t, f)
	m := anotherLink.FindStringSubmatch(f.page)
	if m == nil {
		t.Fatalf("no 'use another account' link:\n%s", f.page)
	}
	f.resp, f.page = browse(t, browser, env.URL+html.UnescapeString(m[1]))
	app.logIn(browser, f, satu.Email)
	if r := app.finish(f); r.id.Subject != satu.ID {
		t.Errorf("another account: %s", r.id.Subject)
	}

	// "Sign out of …" on the chooser: that account leaves this browser,
	// the chooser stays with the others.
	env.Clock.Advance(time.Minute)
	f = app.begin(browser)
	id, offered = chooser(t, f)
	if len(offered) != 3 {
		t.Fatalf("three accounts: %v", offered)
	}
	app.postForm(browser, f, oidc.PathContinue, url.Values{"id": {id}, "op": {"signout"}, "account": {eero.ID}})
	_, offered = chooser(t, f)
	if len(offered) != 2 || offered[0] != satu.ID || offered[1] != aino.ID {
		t.Errorf("after signing Eero out: %v", offered)
	}
	if ss, _ := env.App.Store.ListSessions(context.Background(), eero.ID); len(ss) != 0 {
		t.Errorf("Eero's session survived: %d", len(ss))
	}
	app.postForm(browser, f, oidc.PathContinue, url.Values{"id": {id}, "op": {"continue"}, "account": {satu.ID}})
	if r := app.finish(f); r.id.Subject != satu.ID {
		t.Errorf("after the sign-out: %s", r.id.Subject)
	}
}

// TestOIDCConsent: a third-party application is shown what it asks for,
// once; the answer is remembered; prompt=consent asks again; a denial is
// access_denied at the application.
func TestOIDCConsent(t *testing.T) {
	env := apptest.Start(t, nil)
	aino := addSSOUser(t, env, "aino@example.fi", "Aino", "Virtanen")
	partner := newSSOApp(t, env, oidc.ClientSpec{ID: "partner", Name: "Partner service", ThirdParty: true})
	browser := env.Browser(t)

	f := partner.begin(browser)
	partner.logIn(browser, f, aino.Email)
	consent := func(f *ssoFlow) string {
		t.Helper()
		body := html.UnescapeString(f.page)
		if !f.at(oidc.PathContinue) || !strings.Contains(body, "<h1>Partner service asks for your details</h1>") {
			t.Fatalf("want the consent page, at %s (%d):\n%s", f.resp.Request.URL, f.resp.StatusCode, f.page)
		}
		for _, want := range []string{"Your name and language", "Your email address", "until you sign out of portti", "Aino Virtanen, aino@example.fi"} {
			if !strings.Contains(body, want) {
				t.Errorf("consent page lacks %q", want)
			}
		}
		if strings.Contains(body, "Your phone number") {
			t.Error("consent page lists a scope not asked for")
		}
		return chooserID.FindStringSubmatch(f.page)[1]
	}
	id := consent(f)
	partner.postForm(browser, f, oidc.PathContinue, url.Values{"id": {id}, "op": {"allow"}})
	if r := partner.finish(f); r.id.Subject != aino.ID {
		t.Fatalf("after allowing: %s", r.id.Subject)
	}
	// Remembered: not asked again, also for fewer scopes.
	env.Clock.Advance(time.Minute)
	partner.signIn(browser, "")
	partner.signIn(browser, "", oauth2.SetAuthURLParam("scope", "openid email"))
	// prompt=consent asks again; Deny is access_denied with the state.
	f = partner.begin(browser, oauth2.SetAuthURLParam("prompt", "consent"))
	id = consent(f)
	partner.postForm(browser, f, oidc.PathContinue, url.Values{"id": {id}, "op": {"deny"}})
	cb := partner.rp.callback()
	if !strings.HasPrefix(f.resp.Request.URL.String(), partner.rp.redirectURI()) || cb.Get("error") != "access_denied" || cb.Get("state") != f.state || cb.Get("code") != "" {
		t.Errorf("deny: at %s, %v", f.resp.Request.URL, cb)
	}
}

// TestOIDCErrorPages: problems shown to the person look like every other
// page, in their language.
func TestOIDCErrorPages(t *testing.T) {
	env := apptest.Start(t, nil)
	app := newSSOApp(t, env, oidc.ClientSpec{ID: "rp", Name: "Test application"})
	cat, err := i18n.Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, pr := range oidc.Problems() {
		if !cat.Has(pr.Key) || !cat.Has(pr.Key+".title") {
			t.Errorf("problem %s has no translation", pr.Key)
		}
	}
	for _, tc := range []struct {
		key   string
		query url.Values
	}{
		{"oidc.unknown_client", url.Values{"client_id": {"nobody"}, "redirect_uri": {app.rp.redirectURI()}, "response_type": {"code"}, "scope": {"openid"}}},
		{"oidc.redirect_uri", url.Values{"client_id": {"rp"}, "redirect_uri": {"https://evil.example/cb"}, "response_type": {"code"}, "scope": {"openid"}}},
	} {
		for _, lang := range []string{"fi", "sv"} {
			c := browserFrom(t, env, "", lang)
			resp, page := browse(t, c, env.URL+oidc.PathAuthorize+"?"+tc.query.Encode())
			body := html.UnescapeString(page)
			if resp.StatusCode != http.StatusBadRequest || resp.Request.URL.Host != strings.TrimPrefix(env.URL, "http://") ||
				!strings.Contains(body, "<h1>"+cat.T(lang, tc.key+".title", nil)+"</h1>") || !strings.Contains(body, cat.T(lang, tc.key, nil)) ||
				!strings.Contains(body, `<html lang="`+lang+`">`) || !strings.Contains(body, `href="/static/style.css"`) {
				t.Errorf("%s in %s: %d at %s\n%s", tc.key, lang, resp.StatusCode, resp.Request.URL, page)
			}
		}
	}
}
