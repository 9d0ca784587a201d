package app_test

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/portti/portti/internal/account"
	"github.com/portti/portti/internal/app/apptest"
	"github.com/portti/portti/internal/authn"
	"github.com/portti/portti/internal/oidc"
	"github.com/portti/portti/internal/secret"
	"github.com/portti/portti/internal/storage"
)

const rememberCookie = "portti-mfa-browser"

// hiddenFields are a page's first form's hidden fields (those of the
// second step's code form, which comes first).
func hiddenFields(body string) url.Values {
	f := url.Values{}
	if i := strings.Index(body, "</form>"); i >= 0 {
		body = body[:i]
	}
	for _, m := range hiddenInput.FindAllStringSubmatch(body, -1) {
		if !f.Has(m[1]) {
			f.Set(m[1], html.UnescapeString(m[2]))
		}
	}
	return f
}

// secondStepRemember posts a code on the second step's page with every
// hidden field of its form, ticking "don't ask again" when remember.
func secondStepRemember(t testing.TB, env *apptest.Env, c *http.Client, page answer, code string, remember bool) answer {
	t.Helper()
	f := hiddenFields(page.Body)
	f.Set("code", code)
	if remember {
		f.Set("remember_browser", "yes")
	}
	return send(t, c, http.MethodPost, env.URL+"/login/mfa", f)
}

// browserToken is the remember cookie's value in c's jar.
func browserToken(t testing.TB, env *apptest.Env, c *http.Client) string {
	t.Helper()
	u, _ := url.Parse(env.URL)
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == rememberCookie {
			return ck.Value
		}
	}
	return ""
}

func setBrowserToken(t testing.TB, env *apptest.Env, c *http.Client, v string) {
	t.Helper()
	u, _ := url.Parse(env.URL)
	c.Jar.SetCookies(u, []*http.Cookie{{Name: rememberCookie, Value: v, Path: "/"}})
}

// passwordSkips posts the password and reports whether the sign-in was
// complete without a second step.
func passwordSkips(t testing.TB, env *apptest.Env, c *http.Client, email, pw string) bool {
	t.Helper()
	a := send(t, c, http.MethodPost, env.URL+"/login", url.Values{"email": {email}, "password": {pw}})
	switch {
	case a.URL.Path == "/account" && a.Status == http.StatusOK:
		return true
	case strings.Contains(a.Body, `action="/login/mfa"`):
		return false
	}
	t.Fatalf("password for %s: %d at %s\n%s", email, a.Status, a.URL, a.Body)
	return false
}

// TestMFARememberBrowser: "don't ask again in this browser" skips the
// second step in that browser only, for that account only, until it
// expires or the password changes or MFA is reset; and the session says
// what happened (amr pwd, the password's acr).
func TestMFARememberBrowser(t *testing.T) {
	ctx := context.Background()
	// Off by default: no box.
	plain := apptest.Start(t, nil)
	addUser(t, plain, "aino@example.fi", goodPassword)
	pc := newBrowser(t)
	signIn(t, plain, pc, "aino@example.fi", goodPassword, false)
	enrolTOTP(t, plain, pc)
	mustLogOut(t, plain, pc)
	if page := passwordStep(t, plain, pc, "aino@example.fi", goodPassword); strings.Contains(page.Body, `name="remember_browser"`) {
		t.Fatal("the box is offered although mfa.remember_browser is 0")
	}

	env := apptest.Start(t, map[string]string{"PORTTI_MFA_REMEMBER_BROWSER": "720h"})
	a := addUser(t, env, "aino@example.fi", goodPassword)
	e := addUser(t, env, "eero@example.fi", goodPassword)
	c := newBrowser(t)
	signIn(t, env, c, "aino@example.fi", goodPassword, false)
	ainoSecret, _ := enrolTOTP(t, env, c)
	mustLogOut(t, env, c)
	ec := newBrowser(t)
	signIn(t, env, ec, "eero@example.fi", goodPassword, false)
	eeroSecret, _ := enrolTOTP(t, env, ec)
	mustLogOut(t, env, ec)

	// The box, off by default, says for how long.
	page := passwordStep(t, env, c, "aino@example.fi", goodPassword)
	mustContainText(t, page.Body, enText("mfarest.remember.days", "Days", 30))
	if !strings.Contains(page.Body, `name="remember_browser" value="yes" aria-describedby`) {
		t.Fatalf("the box is not there, or ticked:\n%s", page.Body)
	}
	// Not ticked: nothing is remembered.
	env.Clock.Advance(30 * time.Second)
	if got := secondStepRemember(t, env, c, page, totpCode(t, env, ainoSecret), false); got.URL.Path != "/account" {
		t.Fatalf("second step: %d at %s", got.Status, got.URL)
	}
	if browserToken(t, env, c) != "" {
		t.Fatal("a browser remembered without the box ticked")
	}
	mustLogOut(t, env, c)

	remember := func(c *http.Client, email, totpSecret string) {
		t.Helper()
		page := passwordStep(t, env, c, email, goodPassword)
		env.Clock.Advance(30 * time.Second)
		if got := secondStepRemember(t, env, c, page, totpCode(t, env, totpSecret), true); got.URL.Path != "/account" {
			t.Fatalf("second step: %d at %s", got.Status, got.URL)
		}
		if browserToken(t, env, c) == "" {
			t.Fatal("no remember cookie after the box was ticked")
		}
		mustLogOut(t, env, c)
	}
	remember(c, "aino@example.fi", ainoSecret)
	tok := browserToken(t, env, c)
	if tk, err := env.App.Store.GetToken(ctx, secret.Hash(tok)); err != nil || tk.AccountID != a.ID || tk.Kind != storage.TokenMFABrowser {
		t.Fatalf("the remembered browser is not stored under its hash: %+v %v", tk, err)
	}

	// Within 30 days: the password alone, and the session says so.
	env.Clock.Advance(29 * 24 * time.Hour)
	if !passwordSkips(t, env, c, "aino@example.fi", goodPassword) {
		t.Fatal("a remembered browser was asked for the second step")
	}
	se := liveSessions(t, env, a.ID)[0]
	if amr := env.App.MFA.Registry().AMR(se.Factors); strings.Join(amr, " ") != "pwd" {
		t.Errorf("amr of a remembered-browser sign-in: %v, want pwd alone", amr)
	}
	if acr := env.App.MFA.ACR(se.Factors); acr != authn.ACRPassword {
		t.Errorf("acr of a remembered-browser sign-in: %s", acr)
	}
	// Adding a method needs a fresh second factor: the remembered browser
	// is not one, and the sign-in it sends to asks for the code.
	add := send(t, c, http.MethodGet, env.URL+"/account/mfa/totp/new", nil)
	if add.URL.Path != "/login" || hiddenValue(t, add.Body, "mfa") != "fresh" {
		t.Fatalf("adding a method from a remembered-browser session: at %s", add.URL)
	}
	f := hiddenFields(add.Body)
	f.Set("email", "aino@example.fi")
	f.Set("password", goodPassword)
	if got := send(t, c, http.MethodPost, env.URL+"/login", f); !strings.Contains(got.Body, `action="/login/mfa"`) {
		t.Fatalf("re-authentication for a change skipped the second step: %d at %s", got.Status, got.URL)
	}

	// Another browser, another account's cookie, a tampered cookie: asked.
	if passwordSkips(t, env, newBrowser(t), "aino@example.fi", goodPassword) {
		t.Fatal("a browser never remembered skipped the second step")
	}
	remember(ec, "eero@example.fi", eeroSecret)
	other := newBrowser(t)
	setBrowserToken(t, env, other, browserToken(t, env, ec))
	if passwordSkips(t, env, other, "aino@example.fi", goodPassword) {
		t.Fatal("Eero's remembered browser skipped Aino's second step")
	}
	tampered := []byte(tok)
	tampered[5] ^= 1
	if tampered[5] == '.' || tampered[5] > 'z' {
		tampered[5] = 'A'
	}
	setBrowserToken(t, env, other, string(tampered))
	if passwordSkips(t, env, other, "aino@example.fi", goodPassword) {
		t.Fatal("a tampered cookie skipped the second step")
	}
	// Both accounts remembered in one browser: each is.
	setBrowserToken(t, env, other, browserToken(t, env, ec)+"."+tok)
	if !passwordSkips(t, env, other, "aino@example.fi", goodPassword) {
		t.Fatal("Aino's token beside Eero's does not count")
	}
	mustLogOut(t, env, other)

	// After 30 days: asked again.
	env.Clock.Advance(24*time.Hour + time.Minute)
	if passwordSkips(t, env, c, "aino@example.fi", goodPassword) {
		t.Fatal("an expired remembered browser skipped the second step")
	}

	// A password change forgets every remembered browser.
	remember(c, "aino@example.fi", ainoSecret)
	if !passwordSkips(t, env, c, "aino@example.fi", goodPassword) {
		t.Fatal("not remembered")
	}
	got := send(t, c, http.MethodPost, env.URL+"/account/password", url.Values{
		"form": {"password"}, "account_id": {a.ID},
		"current_password": {goodPassword}, "password": {otherPassword}, "password_confirm": {otherPassword},
	})
	if got.URL.Path != "/account" {
		t.Fatalf("change password: %d at %s", got.Status, got.URL)
	}
	mustLogOut(t, env, c)
	if passwordSkips(t, env, c, "aino@example.fi", otherPassword) {
		t.Fatal("a remembered browser survived a password change")
	}

	// The operator's MFA reset forgets them too: after setting up a new
	// app, the old browser is asked.
	if !passwordSkips(t, env, ec, "eero@example.fi", goodPassword) {
		t.Fatal("Eero's browser is not remembered")
	}
	mustLogOut(t, env, ec)
	if _, _, err := env.App.MFA.Reset(ctx, "eero@example.fi", "lost phone", account.Meta{ClientIP: "cli"}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.App.Store.GetToken(ctx, secret.Hash(browserToken(t, env, ec))); err == nil {
		t.Fatal("the remembered browser's row outlived the MFA reset")
	}
	signIn(t, env, ec, "eero@example.fi", goodPassword, false)
	eeroSecret, _ = enrolTOTP(t, env, ec)
	mustLogOut(t, env, ec)
	if passwordSkips(t, env, ec, "eero@example.fi", goodPassword) {
		t.Fatal("a remembered browser survived the MFA reset")
	}
	_ = e
}

// TestOpenIDConnectRememberBrowser: a remembered browser satisfies the
// operator's policy (the id_token then says pwd and the password's acr),
// but a client with require_mfa, acr_values asking for MFA, or max_age
// gets the second step.
func TestOpenIDConnectRememberBrowser(t *testing.T) {
	env := apptest.Start(t, map[string]string{"PORTTI_MFA_REMEMBER_BROWSER": "168h", "PORTTI_MFA_POLICY": "required"})
	ctx := context.Background()
	addUser(t, env, "aino@example.fi", goodPassword)
	c := newBrowser(t)
	send(t, c, http.MethodPost, env.URL+"/login", url.Values{"email": {"aino@example.fi"}, "password": {goodPassword}})
	ainoSecret, _ := enrolTOTP(t, env, c)
	mustLogOut(t, env, c)
	page := passwordStep(t, env, c, "aino@example.fi", goodPassword)
	env.Clock.Advance(30 * time.Second)
	secondStepRemember(t, env, c, page, totpCode(t, env, ainoSecret), true)
	mustLogOut(t, env, c)

	rp := newRelyingParty(t)
	_, sec, err := oidc.RegisterClient(ctx, env.App.Store, oidc.ClientSpec{ID: "rp", RedirectURIs: []string{rp.redirectURI()}}, env.Clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	_, strictSec, err := oidc.RegisterClient(ctx, env.App.Store, oidc.ClientSpec{ID: "strict", RedirectURIs: []string{rp.redirectURI()}, RequireMFA: true}, env.Clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	provider, err := gooidc.NewProvider(ctx, env.URL)
	if err != nil {
		t.Fatal(err)
	}
	confFor := func(id, s string) *oauth2.Config {
		return &oauth2.Config{ClientID: id, ClientSecret: s, Endpoint: provider.Endpoint(), RedirectURL: rp.redirectURI(), Scopes: []string{gooidc.ScopeOpenID}}
	}
	type claims struct {
		AMR []string `json:"amr"`
		ACR string   `json:"acr"`
	}
	finish := func(conf *oauth2.Config, state string) claims {
		t.Helper()
		cb := rp.callback()
		if cb.Get("state") != state || cb.Get("code") == "" {
			t.Fatalf("callback %v", cb)
		}
		tok, err := conf.Exchange(ctx, cb.Get("code"))
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := tok.Extra("id_token").(string)
		idt, err := provider.Verifier(&gooidc.Config{ClientID: conf.ClientID, Now: env.Clock.Now}).Verify(ctx, raw)
		if err != nil {
			t.Fatal(err)
		}
		var cl claims
		if err := idt.Claims(&cl); err != nil {
			t.Fatal(err)
		}
		return cl
	}
	// signInFor runs a code flow in c from the login form (posting every
	// hidden field it has) and reports whether the second step was asked;
	// it answers it.
	signInFor := func(conf *oauth2.Config, opts ...oauth2.AuthCodeOption) (claims, bool) {
		t.Helper()
		state := oauth2.GenerateVerifier()[:20]
		resp, body := browse(t, c, conf.AuthCodeURL(state, opts...))
		if resp.Request.URL.Path != "/login" {
			t.Fatalf("flow at %s, want the login form", resp.Request.URL)
		}
		f := hiddenFields(body)
		f.Set("email", "aino@example.fi")
		f.Set("password", goodPassword)
		got := send(t, c, http.MethodPost, env.URL+"/login", f)
		asked := strings.Contains(got.Body, `action="/login/mfa"`)
		if asked {
			env.Clock.Advance(30 * time.Second)
			got = secondStepRemember(t, env, c, got, totpCode(t, env, ainoSecret), false)
		}
		if !strings.HasPrefix(got.URL.String(), rp.redirectURI()) {
			t.Fatalf("flow ended at %s (%d)\n%s", got.URL, got.Status, got.Body)
		}
		cl := finish(conf, state)
		mustLogOut(t, env, c)
		return cl, asked
	}

	conf := confFor("rp", sec)
	if cl, asked := signInFor(conf); asked || strings.Join(cl.AMR, " ") != "pwd" || cl.ACR != authn.ACRPassword {
		t.Errorf("ordinary client, remembered browser, required policy: asked=%v %+v", asked, cl)
	}
	if cl, asked := signInFor(confFor("strict", strictSec)); !asked || cl.ACR != authn.ACRMFA || !slices.Contains(cl.AMR, "otp") {
		t.Errorf("require_mfa client: asked=%v %+v", asked, cl)
	}
	if cl, asked := signInFor(conf, oauth2.SetAuthURLParam("acr_values", authn.ACRMFA)); !asked || cl.ACR != authn.ACRMFA {
		t.Errorf("acr_values MFA: asked=%v %+v", asked, cl)
	}
	if cl, asked := signInFor(conf, oauth2.SetAuthURLParam("max_age", "0")); !asked || cl.ACR != authn.ACRMFA {
		t.Errorf("max_age: asked=%v %+v", asked, cl)
	}
	// And the form's mfa field removed by hand: the session is not
	// enough for the strict client, which asks for the step-up.
	state := oauth2.GenerateVerifier()[:20]
	strict := confFor("strict", strictSec)
	resp, body := browse(t, c, strict.AuthCodeURL(state))
	f := hiddenFields(body)
	f.Del("mfa")
	f.Set("email", "aino@example.fi")
	f.Set("password", goodPassword)
	got := send(t, c, http.MethodPost, env.URL+"/login", f)
	if strings.HasPrefix(got.URL.String(), rp.redirectURI()) || rp.callback() != nil {
		t.Fatalf("require_mfa client got a code without a second factor (from %s)", resp.Request.URL)
	}
	if got.URL.Path != "/login" || hiddenValue(t, got.Body, "mfa") != "fresh" {
		t.Fatalf("step-up after a skipped second step: at %s", got.URL)
	}
}

// TestOpenIDConnectACRNames: mfa.acr_mfa and mfa.acr_password name the
// classes in discovery, in the id_token and in acr_values.
func TestOpenIDConnectACRNames(t *testing.T) {
	env := apptest.Start(t, map[string]string{"PORTTI_MFA_ACR_MFA": "urn:example:loa:mfa", "PORTTI_MFA_ACR_PASSWORD": "urn:example:loa:pwd"})
	ctx := context.Background()
	addUser(t, env, "aino@example.fi", goodPassword)
	addUser(t, env, "eero@example.fi", goodPassword)
	setup := newBrowser(t)
	signIn(t, env, setup, "aino@example.fi", goodPassword, false)
	ainoSecret, _ := enrolTOTP(t, env, setup)

	rp := newRelyingParty(t)
	_, sec, err := oidc.RegisterClient(ctx, env.App.Store, oidc.ClientSpec{ID: "rp", RedirectURIs: []string{rp.redirectURI()}}, env.Clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	provider, err := gooidc.NewProvider(ctx, env.URL)
	if err != nil {
		t.Fatal(err)
	}
	var disc struct {
		ACRValues []string `json:"acr_values_supported"`
	}
	if err := provider.Claims(&disc); err != nil || strings.Join(disc.ACRValues, " ") != "urn:example:loa:mfa urn:example:loa:pwd" {
		t.Errorf("discovery acr_values_supported: %v %v", disc.ACRValues, err)
	}
	conf := &oauth2.Config{ClientID: "rp", ClientSecret: sec, Endpoint: provider.Endpoint(), RedirectURL: rp.redirectURI(), Scopes: []string{gooidc.ScopeOpenID}}
	acrOf := func(state string) string {
		t.Helper()
		cb := rp.callback()
		if cb.Get("state") != state || cb.Get("code") == "" {
			t.Fatalf("callback %v", cb)
		}
		tok, err := conf.Exchange(ctx, cb.Get("code"))
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := tok.Extra("id_token").(string)
		idt, err := provider.Verifier(&gooidc.Config{ClientID: "rp", Now: env.Clock.Now}).Verify(ctx, raw)
		if err != nil {
			t.Fatal(err)
		}
		var cl struct {
			ACR string `json:"acr"`
		}
		_ = idt.Claims(&cl)
		return cl.ACR
	}

	// Eero, password only: the configured password class.
	e := newBrowser(t)
	state := "s1-0123456789abcdef"
	resp, body := browse(t, e, conf.AuthCodeURL(state))
	ret, _ := loginForm(t, resp, body)
	send(t, e, http.MethodPost, env.URL+"/login", url.Values{"email": {"eero@example.fi"}, "password": {goodPassword}, "return": {ret}})
	if acr := acrOf(state); acr != "urn:example:loa:pwd" {
		t.Errorf("Eero's acr: %q", acr)
	}
	// The REFEDS name is no longer one portti meets.
	state = "s2-0123456789abcdef"
	browse(t, e, conf.AuthCodeURL(state, oauth2.SetAuthURLParam("acr_values", authn.ACRMFA)))
	if cb := rp.callback(); cb.Get("error") != "unmet_authentication_requirements" {
		t.Errorf("acr_values with the default name: callback %v", cb)
	}
	// The configured MFA name asks Aino for her code, and says so.
	a := newBrowser(t)
	state = "s3-0123456789abcdef"
	resp, body = browse(t, a, conf.AuthCodeURL(state, oauth2.SetAuthURLParam("acr_values", "urn:example:loa:mfa")))
	ret, _ = loginForm(t, resp, body)
	step := send(t, a, http.MethodPost, env.URL+"/login", url.Values{"email": {"aino@example.fi"}, "password": {goodPassword}, "return": {ret}})
	env.Clock.Advance(30 * time.Second)
	secondStep(t, env, a, step, totpCode(t, env, ainoSecret))
	if acr := acrOf(state); acr != "urn:example:loa:mfa" {
		t.Errorf("Aino's acr: %q", acr)
	}
}

// TestMFARememberBrowserRevoked: "sign out of every browser" and removing
// a method forget the remembered browsers.
func TestMFARememberBrowserRevoked(t *testing.T) {
	ctx := context.Background()
	env := apptest.Start(t, map[string]string{"PORTTI_MFA_REMEMBER_BROWSER": "720h"})
	a := addUser(t, env, "aino@example.fi", goodPassword)
	c := newBrowser(t)
	signIn(t, env, c, "aino@example.fi", goodPassword, false)
	totpSecret, _ := enrolTOTP(t, env, c)
	mustLogOut(t, env, c)
	remember := func() string {
		t.Helper()
		page := passwordStep(t, env, c, "aino@example.fi", goodPassword)
		env.Clock.Advance(30 * time.Second)
		if got := secondStepRemember(t, env, c, page, totpCode(t, env, totpSecret), true); got.URL.Path != "/account" {
			t.Fatalf("second step: %d at %s", got.Status, got.URL)
		}
		return browserToken(t, env, c)
	}
	gone := func(what, tok string) {
		t.Helper()
		if _, err := env.App.Store.GetToken(ctx, secret.Hash(tok)); err == nil {
			t.Fatalf("the remembered browser outlived %s", what)
		}
	}

	tok := remember()
	if got := send(t, c, http.MethodPost, env.URL+"/account/sessions/end-all", url.Values{"account_id": {a.ID}}); got.URL.Path != "/login" {
		t.Fatalf("sign out of every browser: at %s", got.URL)
	}
	gone("signing out of every browser", tok)
	if passwordSkips(t, env, c, "aino@example.fi", goodPassword) {
		t.Fatal("remembered after signing out of every browser")
	}

	// Remembered again; then the method is removed (with a fresh code)
	// and a new one added: the old browser is asked again.
	c = newBrowser(t)
	tok = remember()
	var id string
	for _, cr := range credentials(t, env, a.ID) {
		if cr.Kind == "totp" {
			id = cr.ID
		}
	}
	if got := send(t, c, http.MethodPost, env.URL+"/account/mfa/remove", url.Values{"account_id": {a.ID}, "id": {id}}); got.Status != http.StatusOK {
		t.Fatalf("remove: %d at %s", got.Status, got.URL)
	}
	gone("removing a method", tok)
	env.Clock.Advance(time.Minute)
	totpSecret, _ = enrolTOTP(t, env, c)
	mustLogOut(t, env, c)
	if passwordSkips(t, env, c, "aino@example.fi", goodPassword) {
		t.Fatal("remembered after the method was removed")
	}
}
