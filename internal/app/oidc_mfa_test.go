package app_test

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/portti/portti/internal/app/apptest"
	"github.com/portti/portti/internal/authn"
	"github.com/portti/portti/internal/oidc"
	"github.com/portti/portti/internal/storage"
)

var continueLink = regexp.MustCompile(`<a class="button" href="([^"]+)">`)

// TestOpenIDConnectMFA: a go-oidc relying party sees amr and acr, a
// client or acr_values demanding a second factor gets it (step-up, or
// enrolment first), and acr_values nobody can meet are answered with
// unmet_authentication_requirements.
func TestOpenIDConnectMFA(t *testing.T) {
	env := apptest.Start(t, nil)
	ctx := context.Background()
	addUser(t, env, "aino@example.fi", goodPassword)
	addUser(t, env, "eero@example.fi", goodPassword)

	// Aino has an authenticator app.
	setup := newBrowser(t)
	signIn(t, env, setup, "aino@example.fi", goodPassword, false)
	ainoSecret, _ := enrolTOTP(t, env, setup)

	rp := newRelyingParty(t)
	_, secret, err := oidc.RegisterClient(ctx, env.App.Store, oidc.ClientSpec{ID: "rp", RedirectURIs: []string{rp.redirectURI()}}, env.Clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	_, strictSecret, err := oidc.RegisterClient(ctx, env.App.Store, oidc.ClientSpec{ID: "strict", RedirectURIs: []string{rp.redirectURI()}, RequireMFA: true}, env.Clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	provider, err := gooidc.NewProvider(ctx, env.URL)
	if err != nil {
		t.Fatal(err)
	}
	var disc struct {
		ACRValues []string `json:"acr_values_supported"`
		Claims    []string `json:"claims_supported"`
	}
	if err := provider.Claims(&disc); err != nil || !slices.Contains(disc.ACRValues, authn.ACRMFA) || !slices.Contains(disc.Claims, "acr") {
		t.Errorf("discovery: %+v %v", disc, err)
	}
	confFor := func(id, sec string) *oauth2.Config {
		return &oauth2.Config{ClientID: id, ClientSecret: sec, Endpoint: provider.Endpoint(), RedirectURL: rp.redirectURI(), Scopes: []string{gooidc.ScopeOpenID, "email"}}
	}

	type claims struct {
		AMR []string `json:"amr"`
		ACR string   `json:"acr"`
	}
	// start begins a code flow; finish exchanges the code the browser
	// brought to the relying party.
	start := func(c *http.Client, conf *oauth2.Config, extra ...oauth2.AuthCodeOption) (*http.Response, string, string) {
		t.Helper()
		state := oauth2.GenerateVerifier()[:20]
		resp, page := browse(t, c, conf.AuthCodeURL(state, extra...))
		return resp, page, state
	}
	finish := func(conf *oauth2.Config, state string) claims {
		t.Helper()
		cb := rp.callback()
		if cb.Get("state") != state || cb.Get("code") == "" {
			t.Fatalf("callback %v", cb)
		}
		tok, err := conf.Exchange(ctx, cb.Get("code"))
		if err != nil {
			t.Fatalf("exchange: %v", err)
		}
		raw, _ := tok.Extra("id_token").(string)
		idt, err := provider.Verifier(&gooidc.Config{ClientID: conf.ClientID, Now: env.Clock.Now}).Verify(ctx, raw)
		if err != nil {
			t.Fatalf("verify: %v", err)
		}
		var cl claims
		if err := idt.Claims(&cl); err != nil {
			t.Fatal(err)
		}
		return cl
	}
	// password posts the login form the flow landed on.
	password := func(c *http.Client, resp *http.Response, page, email string) answer {
		t.Helper()
		ret, _ := loginForm(t, resp, page)
		return send(t, c, http.MethodPost, env.URL+"/login", url.Values{"email": {email}, "password": {goodPassword}, "return": {ret}})
	}

	// Aino: password, then a code; the application hears pwd otp mfa.
	c := newBrowser(t)
	conf := confFor("rp", secret)
	resp, page, state := start(c, conf)
	step := password(c, resp, page, "aino@example.fi")
	if !strings.Contains(step.Body, `action="/login/mfa"`) {
		t.Fatalf("after Aino's password: %d at %s, want the second step", step.Status, step.URL)
	}
	if rp.callback() != nil {
		t.Fatal("the application got a code before the second step")
	}
	env.Clock.Advance(30 * time.Second)
	done := secondStep(t, env, c, step, totpCode(t, env, ainoSecret))
	if !strings.HasPrefix(done.URL.String(), rp.redirectURI()) {
		t.Fatalf("after the code: at %s (%d)\n%s", done.URL, done.Status, done.Body)
	}
	if cl := finish(conf, state); strings.Join(cl.AMR, " ") != "pwd otp mfa" || cl.ACR != authn.ACRMFA {
		t.Errorf("Aino's id_token: %+v", cl)
	}

	// Eero: password only; amr pwd, acr sfa.
	e := newBrowser(t)
	resp, page, state = start(e, conf)
	if got := password(e, resp, page, "eero@example.fi"); !strings.HasPrefix(got.URL.String(), rp.redirectURI()) {
		t.Fatalf("Eero's sign-in ended at %s", got.URL)
	}
	if cl := finish(conf, state); strings.Join(cl.AMR, " ") != "pwd" || cl.ACR != authn.ACRPassword {
		t.Errorf("Eero's id_token: %+v", cl)
	}

	// acr_values nobody can meet: the spec's error, at the application.
	_, _, state = start(e, conf, oauth2.SetAuthURLParam("acr_values", "urn:example:loa:4"))
	if cb := rp.callback(); cb.Get("error") != "unmet_authentication_requirements" || cb.Get("state") != state {
		t.Errorf("unmeetable acr_values: callback %v", cb)
	}
	// prompt=none with a second factor missing: interaction_required.
	_, _, _ = start(e, conf, oauth2.SetAuthURLParam("acr_values", authn.ACRMFA), oauth2.SetAuthURLParam("prompt", "none"))
	if cb := rp.callback(); cb.Get("error") != "interaction_required" {
		t.Errorf("prompt=none step-up: callback %v", cb)
	}

	// acr_values asking for MFA, Eero has none: enrolment comes first,
	// then the application gets its code with mfa.
	resp, page, state = start(e, conf, oauth2.SetAuthURLParam("acr_values", authn.ACRMFA))
	if resp.Request.URL.Path != "/account/mfa" || rp.callback() != nil {
		t.Fatalf("step-up without a method: at %s, want /account/mfa", resp.Request.URL)
	}
	mustContainText(t, page, enText("mfa.setup_first"))
	enrol := regexp.MustCompile(`href="(/account/mfa/totp/new[^"]*)"`).FindStringSubmatch(page)
	if enrol == nil {
		t.Fatalf("no enrolment link:\n%s", page)
	}
	en := send(t, e, http.MethodGet, env.URL+html.UnescapeString(enrol[1]), nil)
	eeroSecret := strings.ReplaceAll(secretRE.FindStringSubmatch(en.Body)[1], " ", "")
	codes := send(t, e, http.MethodPost, env.URL+"/account/mfa/totp/new", url.Values{
		"pending": {hiddenValue(t, en.Body, "pending")}, "account_id": {hiddenValue(t, en.Body, "account_id")},
		"return": {hiddenValue(t, en.Body, "return")}, "code": {totpCode(t, env, eeroSecret)},
	})
	cont := continueLink.FindStringSubmatch(codes.Body)
	if codes.Status != http.StatusOK || cont == nil || !strings.HasPrefix(html.UnescapeString(cont[1]), oidc.PathContinue) {
		t.Fatalf("codes page after enrolment during a sign-in: %d\n%s", codes.Status, codes.Body)
	}
	if got := send(t, e, http.MethodGet, env.URL+html.UnescapeString(cont[1]), nil); !strings.HasPrefix(got.URL.String(), rp.redirectURI()) {
		t.Fatalf("continue after enrolment: at %s", got.URL)
	}
	if cl := finish(conf, state); cl.ACR != authn.ACRMFA || !slices.Contains(cl.AMR, "otp") {
		t.Errorf("Eero's id_token after enrolment: %+v", cl)
	}

	// A client that requires MFA, and a session from before a method
	// was added: sign in again with the second factor (step-up).
	k := newBrowser(t)
	addUser(t, env, "kalle@example.fi", goodPassword)
	signIn(t, env, k, "kalle@example.fi", goodPassword, false)
	other := newBrowser(t)
	signIn(t, env, other, "kalle@example.fi", goodPassword, false)
	kalleSecret, _ := enrolTOTP(t, env, other)
	strict := confFor("strict", strictSecret)
	resp, page, state = start(k, strict)
	if _, email := loginForm(t, resp, page); email != "kalle@example.fi" {
		t.Fatalf("step-up login form for %q", email)
	}
	step = password(k, resp, page, "kalle@example.fi")
	env.Clock.Advance(30 * time.Second)
	if got := secondStep(t, env, k, step, totpCode(t, env, kalleSecret)); !strings.HasPrefix(got.URL.String(), rp.redirectURI()) {
		t.Fatalf("step-up ended at %s\n%s", got.URL, got.Body)
	}
	if cl := finish(strict, state); cl.ACR != authn.ACRMFA {
		t.Errorf("strict client's id_token: %+v", cl)
	}
	// The same browser, the ordinary client: the MFA session is used as is.
	_, _, state = start(k, conf)
	if cl := finish(conf, state); cl.ACR != authn.ACRMFA {
		t.Errorf("reusing the MFA session: %+v", cl)
	}
	_ = storage.ErrNotFound
}
