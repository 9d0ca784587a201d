package app_test

import (
	"context"
	"errors"
	"html"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/portti/portti/internal/account"
	"github.com/portti/portti/internal/app/apptest"
	"github.com/portti/portti/internal/oidc"
	"github.com/portti/portti/internal/storage"
)

// TestProvisionClaimsAndGroupAccess: through the real login form and an
// independent relying party (go-oidc, x/oauth2), an application limited
// to the group Staff refuses a person outside it with its own page;
// once the registry puts her in the group over SCIM she signs in and the
// id_token and userinfo carry portti_user_type and groups; when the
// registry takes her out, her refresh token stops working.
func TestProvisionClaimsAndGroupAccess(t *testing.T) {
	env := apptest.StartWithFile(t, `
provision:
  user_types: [student=*@student.example.fi, staff=*@example.fi]
  registry_only: ["*@student.example.fi"]
clients:
  - id: registry
    grants: [client_credentials]
    secret_env: REGISTRY_SECRET
    scopes: [scim]
`, map[string]string{"REGISTRY_SECRET": registrySecret})
	ctx := context.Background()
	const pw = "kesämökki järven rannalla"
	aino, err := env.App.Accounts.AddUser(ctx, "aino@example.fi", account.Profile{GivenName: "Aino", FamilyName: "Virtanen"}, pw, account.Meta{ClientIP: "test", Lang: "en"})
	if err != nil {
		t.Fatal(err)
	}
	// Aino's account is taken over by the registry (what the CSV import
	// of the next session does for existing accounts).
	if err := env.App.Store.CreateProvisioned(ctx, storage.Provisioned{AccountID: aino.ID, State: storage.ProvisionActive}); err != nil {
		t.Fatal(err)
	}

	rp := newRelyingParty(t)
	_, secret, err := oidc.RegisterClient(ctx, env.App.Store, oidc.ClientSpec{
		ID: "intranet", Name: "Staff intranet", RedirectURIs: []string{rp.redirectURI()}, AllowedGroups: []string{"Staff"},
	}, env.Clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	provider, err := gooidc.NewProvider(ctx, env.URL)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(scopesSupported(t, provider), "groups") {
		t.Error("discovery does not list the groups scope")
	}
	conf := &oauth2.Config{ClientID: "intranet", ClientSecret: secret, Endpoint: provider.Endpoint(), RedirectURL: rp.redirectURI(),
		Scopes: []string{gooidc.ScopeOpenID, "profile", "groups", "portti_user_type", gooidc.ScopeOfflineAccess}}
	browser := env.Browser(t)

	// Not in Staff: the sign-in stops at the page that says so.
	state, pkce := oauth2.GenerateVerifier()[:20], oauth2.GenerateVerifier()
	resp, page := browse(t, browser, conf.AuthCodeURL(state, oauth2.S256ChallengeOption(pkce)))
	ret, _ := loginForm(t, resp, page)
	status, body := post(t, browser, env.URL+"/login", url.Values{"email": {"aino@example.fi"}, "password": {pw}, "return": {ret}})
	if status != http.StatusForbidden {
		t.Fatalf("outside the group: %d\n%s", status, body)
	}
	mustContain(t, html.UnescapeString(body), "Staff intranet is only for some groups", "aino@example.fi", "Sign in with another account")
	if rp.callback() != nil {
		t.Fatal("the application got a callback")
	}

	// The registry adds her to Staff.
	scim := scimClient(t, env)
	status, grp := scim("POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Staff","members":[{"value":"`+aino.ID+`"}]}`)
	if status != http.StatusCreated {
		t.Fatalf("create group: %d %v", status, grp)
	}
	state = oauth2.GenerateVerifier()[:20]
	resp, _ = browse(t, browser, conf.AuthCodeURL(state, oauth2.S256ChallengeOption(pkce)))
	if !strings.HasPrefix(resp.Request.URL.String(), rp.redirectURI()) {
		t.Fatalf("member's sign-in ended at %s (%d)", resp.Request.URL, resp.StatusCode)
	}
	tok, err := conf.Exchange(ctx, rp.callback().Get("code"), oauth2.VerifierOption(pkce))
	if err != nil {
		t.Fatal(err)
	}
	idt, err := provider.Verifier(&gooidc.Config{ClientID: "intranet", Now: env.Clock.Now}).Verify(ctx, tok.Extra("id_token").(string))
	if err != nil {
		t.Fatal(err)
	}
	var claims struct {
		UserType string   `json:"portti_user_type"`
		Groups   []string `json:"groups"`
	}
	if err := idt.Claims(&claims); err != nil || claims.UserType != "staff" || !slices.Equal(claims.Groups, []string{"Staff"}) {
		t.Errorf("id_token claims %+v %v", claims, err)
	}
	info, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		t.Fatal(err)
	}
	claims.UserType, claims.Groups = "", nil
	if err := info.Claims(&claims); err != nil || claims.UserType != "staff" || !slices.Equal(claims.Groups, []string{"Staff"}) {
		t.Errorf("userinfo claims %+v %v", claims, err)
	}

	// The registry takes her out: the refresh token no longer works.
	status, out := scim("PATCH", "/Groups/"+grp["id"].(string), `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
		"Operations":[{"op":"Remove","path":"members","value":[{"value":"`+aino.ID+`"}]}]}`)
	if status != http.StatusOK {
		t.Fatalf("remove member: %d %v", status, out)
	}
	_, err = conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
		t.Fatalf("refresh outside the group: %v", err)
	}

	// Signed in but out of the group, with prompt=none: the application
	// hears access_denied at its redirect URI, no page.
	resp, _ = browse(t, browser, conf.AuthCodeURL("s2", oauth2.S256ChallengeOption(pkce), oauth2.SetAuthURLParam("prompt", "none")))
	if cb := rp.callback(); !strings.HasPrefix(resp.Request.URL.String(), rp.redirectURI()) || cb.Get("error") != "access_denied" || cb.Get("code") != "" {
		t.Fatalf("prompt=none outside the group: at %s, callback %v", resp.Request.URL, cb)
	}

	// Self-registration with a registry-only address is refused, saying
	// where the account comes from; nothing is created.
	status, body = post(t, env.Browser(t), env.URL+"/register", registration("new@student.example.fi", pw))
	mustContain(t, html.UnescapeString(body), "come from the organisation's registry")
	if status == http.StatusOK && strings.Contains(body, "Check your email") {
		t.Fatal("registration went on")
	}
	if _, err := env.App.Store.GetAccountByEmail(ctx, "new@student.example.fi"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("an account was created: %v", err)
	}
}

func scopesSupported(t *testing.T, p *gooidc.Provider) []string {
	var d struct {
		Scopes []string `json:"scopes_supported"`
	}
	if err := p.Claims(&d); err != nil {
		t.Fatal(err)
	}
	return d.Scopes
}

// scimClient returns a function calling /scim/v2 with the registry's token.
func scimClient(t *testing.T, env *apptest.Env) func(method, path, body string) (int, map[string]any) {
	cc := clientcredentials.Config{ClientID: "registry", ClientSecret: registrySecret, TokenURL: env.URL + oidc.PathToken}
	tok, err := cc.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return func(method, path, body string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(method, env.URL+"/scim/v2"+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		req.Header.Set("Content-Type", "application/scim+json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var out map[string]any
		_ = decodeJSON(res.Body, &out)
		return res.StatusCode, out
	}
}

// TestMFAPolicyByUserType: mfa.required_types reaches the sign-in policy
// through the wiring, with the type the registry set or the domain's.
func TestMFAPolicyByUserType(t *testing.T) {
	env := apptest.StartWithFile(t, `
provision:
  user_types: [guest=*@guest.example.fi]
mfa:
  policy: optional
  required_types: [student]
  optional_types: [guest]
  required_domains: ["*@guest.example.fi"]
`, nil)
	ctx := context.Background()
	meta := account.Meta{ClientIP: "test", Lang: "en"}
	add := func(email, typ string) storage.Account {
		a, err := env.App.Accounts.AddUser(ctx, email, account.Profile{GivenName: "A", FamilyName: "B"}, "kesämökki järven rannalla", meta)
		if err != nil {
			t.Fatal(err)
		}
		if typ != "" {
			if err := env.App.Store.CreateProvisioned(ctx, storage.Provisioned{AccountID: a.ID, UserType: typ, State: storage.ProvisionActive}); err != nil {
				t.Fatal(err)
			}
		}
		return a
	}
	for _, tc := range []struct {
		email, typ string
		want       bool
	}{
		{"s@example.fi", "student", true},     // the registry's type
		{"g@guest.example.fi", "", false},     // the domain's type beats the domain pattern
		{"o@example.fi", "", false},           // no type: the policy
		{"x@guest.example.fi", "staff", true}, // an unlisted type: the domain pattern
	} {
		if got := env.App.MFA.RequiredFor(add(tc.email, tc.typ)); got != tc.want {
			t.Errorf("%s (%q): required %v, want %v", tc.email, tc.typ, got, tc.want)
		}
	}
}
