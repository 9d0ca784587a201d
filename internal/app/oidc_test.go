package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/portti/portti/internal/account"
	"github.com/portti/portti/internal/app/apptest"
	"github.com/portti/portti/internal/oidc"
	"github.com/portti/portti/internal/storage"
)

// relyingParty is an application on a loopback server: its redirect URI
// records what portti sends to it.
type relyingParty struct {
	srv  *httptest.Server
	mu   sync.Mutex
	last url.Values
}

func newRelyingParty(t *testing.T) *relyingParty {
	rp := &relyingParty{}
	rp.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rp.mu.Lock()
		rp.last = r.URL.Query()
		rp.mu.Unlock()
		_, _ = io.WriteString(w, "relying party: "+r.URL.Path)
	}))
	t.Cleanup(rp.srv.Close)
	return rp
}

func (rp *relyingParty) redirectURI() string { return rp.srv.URL + "/callback" }

// callback returns what the last redirect to the relying party carried.
func (rp *relyingParty) callback() url.Values {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	v := rp.last
	rp.last = nil
	return v
}

var (
	returnField = regexp.MustCompile(`<input type="hidden" name="return" value="([^"]*)">`)
	emailValue  = regexp.MustCompile(`<input[^>]*name="email"[^>]*value="([^"]*)"|<input[^>]*value="([^"]*)"[^>]*name="email"`)
)

// browse GETs u, following redirects, and returns the final page.
func browse(t *testing.T, c *http.Client, u string) (*http.Response, string) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// loginForm checks that page is portti's login form and returns its
// hidden "return" field and the prefilled e-mail.
func loginForm(t *testing.T, resp *http.Response, page string) (ret, email string) {
	t.Helper()
	if resp.Request.URL.Path != "/login" {
		t.Fatalf("want the login form, at %s (%d):\n%s", resp.Request.URL, resp.StatusCode, page)
	}
	m := returnField.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("login form has no return field:\n%s", page)
	}
	if e := emailValue.FindStringSubmatch(page); e != nil {
		email = html.UnescapeString(e[1] + e[2])
	}
	return html.UnescapeString(m[1]), email
}

// TestOpenIDConnect runs a relying party built with go-oidc and
// golang.org/x/oauth2 — code nobody here wrote — against portti, through
// the real login form.
func TestOpenIDConnect(t *testing.T) {
	env := apptest.Start(t, nil)
	ctx := context.Background()
	const pw = "kesämökki järven rannalla"
	meta := account.Meta{ClientIP: "test", Lang: "en"}
	aino, err := env.App.Accounts.AddUser(ctx, "aino@example.fi", account.Profile{GivenName: "Aino", FamilyName: "Virtanen"}, pw, meta)
	if err != nil {
		t.Fatal(err)
	}
	eero, err := env.App.Accounts.AddUser(ctx, "eero@example.fi", account.Profile{GivenName: "Eero", FamilyName: "Korhonen"}, pw, meta)
	if err != nil {
		t.Fatal(err)
	}

	rp := newRelyingParty(t)
	_, secret, err := oidc.RegisterClient(ctx, env.App.Store, oidc.ClientSpec{
		ID: "rp", Name: "Test application", RedirectURIs: []string{rp.redirectURI()},
		PostLogoutRedirectURIs: []string{rp.srv.URL + "/bye"},
	}, env.Clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	svcSecret := "service-secret-0123456789-0123456789-xyz"
	if _, _, err := oidc.RegisterClient(ctx, env.App.Store, oidc.ClientSpec{
		ID: "svc", Secret: svcSecret, GrantTypes: []string{oidc.GrantClientCredentials}, Scopes: []string{"grades:read", "grades:write"},
	}, env.Clock.Now()); err != nil {
		t.Fatal(err)
	}

	provider, err := gooidc.NewProvider(ctx, env.URL)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	verifier := provider.Verifier(&gooidc.Config{ClientID: "rp", Now: env.Clock.Now})
	conf := &oauth2.Config{
		ClientID: "rp", ClientSecret: secret, Endpoint: provider.Endpoint(), RedirectURL: rp.redirectURI(),
		Scopes: []string{gooidc.ScopeOpenID, "profile", "email", gooidc.ScopeOfflineAccess},
	}

	// signIn runs the code flow with PKCE in browser c, typing a password
	// when portti asks for one, and returns the verified id_token and
	// the tokens.
	type result struct {
		id    *gooidc.IDToken
		token *oauth2.Token
	}
	signIn := func(c *http.Client, as string, extra ...oauth2.AuthCodeOption) result {
		t.Helper()
		state, nonce, pkce := oauth2.GenerateVerifier()[:20], oauth2.GenerateVerifier()[:20], oauth2.GenerateVerifier()
		opts := append([]oauth2.AuthCodeOption{gooidc.Nonce(nonce), oauth2.S256ChallengeOption(pkce)}, extra...)
		resp, page := browse(t, c, conf.AuthCodeURL(state, opts...))
		if as != "" {
			ret, _ := loginForm(t, resp, page)
			if !strings.HasPrefix(ret, oidc.PathContinue+"?id=") {
				t.Fatalf("return field %q", ret)
			}
			resp, err = c.PostForm(env.URL+"/login", url.Values{"email": {as}, "password": {pw}, "return": {ret}})
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
		}
		if !strings.HasPrefix(resp.Request.URL.String(), rp.redirectURI()) {
			t.Fatalf("sign-in ended at %s (%d)", resp.Request.URL, resp.StatusCode)
		}
		cb := rp.callback()
		if cb.Get("state") != state || cb.Get("code") == "" {
			t.Fatalf("callback %v", cb)
		}
		tok, err := conf.Exchange(ctx, cb.Get("code"), oauth2.VerifierOption(pkce))
		if err != nil {
			t.Fatalf("exchange: %v", err)
		}
		raw, _ := tok.Extra("id_token").(string)
		idt, err := verifier.Verify(ctx, raw)
		if err != nil {
			t.Fatalf("verify id_token: %v", err)
		}
		if idt.Nonce != nonce {
			t.Errorf("nonce %q, want %q", idt.Nonce, nonce)
		}
		return result{idt, tok}
	}

	browser := env.Browser(t)
	first := signIn(browser, "AINO@example.fi ")
	var claims struct {
		Email         string   `json:"email"`
		EmailVerified bool     `json:"email_verified"`
		Name          string   `json:"name"`
		SID           string   `json:"sid"`
		AMR           []string `json:"amr"`
		AuthTime      int64    `json:"auth_time"`
	}
	if err := first.id.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	if first.id.Subject != aino.ID || first.id.Issuer != env.URL || claims.Email != "aino@example.fi" ||
		!claims.EmailVerified || claims.Name != "Aino Virtanen" || claims.SID == "" || len(claims.AMR) != 1 ||
		claims.AuthTime != env.Clock.Now().Unix() {
		t.Errorf("id_token: sub %s iss %s claims %+v", first.id.Subject, first.id.Issuer, claims)
	}

	// userinfo with the access token.
	info, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(first.token))
	if err != nil {
		t.Fatalf("userinfo: %v", err)
	}
	if info.Subject != aino.ID || info.Email != "aino@example.fi" || !info.EmailVerified {
		t.Errorf("userinfo %+v", info)
	}

	// Refresh: rotated; the old refresh token is then refused, and using
	// it kills the chain, the new token included.
	refreshed, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: first.token.RefreshToken}).Token()
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if refreshed.RefreshToken == "" || refreshed.RefreshToken == first.token.RefreshToken || refreshed.AccessToken == first.token.AccessToken {
		t.Fatalf("refresh did not rotate: %+v", refreshed)
	}
	if _, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(refreshed)); err != nil {
		t.Errorf("userinfo with the refreshed token: %v", err)
	}
	// Within the reuse grace period the same client gets the same new
	// refresh token (parallel refreshes); after it, reuse is theft.
	again, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: first.token.RefreshToken}).Token()
	if err != nil || again.RefreshToken != refreshed.RefreshToken {
		t.Fatalf("refresh within the grace period: %v", err)
	}
	env.Clock.Advance(6 * time.Second)
	_, err = conf.TokenSource(ctx, &oauth2.Token{RefreshToken: first.token.RefreshToken}).Token()
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
		t.Fatalf("reused refresh token: %v", err)
	}
	if _, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: refreshed.RefreshToken}).Token(); err == nil {
		t.Error("the chain survived the reuse")
	}
	if _, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(refreshed)); err == nil {
		t.Error("access token of a revoked chain still works")
	}

	// client_credentials: a JWT access token that verifies with the JWKS,
	// with the scope asked for.
	cc := clientcredentials.Config{ClientID: "svc", ClientSecret: svcSecret, TokenURL: provider.Endpoint().TokenURL, Scopes: []string{"grades:read"}}
	ccTok, err := cc.Token(ctx)
	if err != nil {
		t.Fatalf("client_credentials: %v", err)
	}
	if ccTok.Extra("scope") != "grades:read" {
		t.Errorf("client_credentials scope %v", ccTok.Extra("scope"))
	}
	ccVerifier := provider.Verifier(&gooidc.Config{ClientID: "svc", SupportedSigningAlgs: []string{"ES256"}, Now: env.Clock.Now})
	var ccClaims struct {
		Scope string `json:"scope"`
	}
	if at, err := ccVerifier.Verify(ctx, ccTok.AccessToken); err != nil || at.Subject != "svc" || at.Claims(&ccClaims) != nil || ccClaims.Scope != "grades:read" {
		t.Errorf("client_credentials token: %v, scope %q", err, ccClaims.Scope)
	}
	cc.Scopes = []string{"grades:delete"}
	if _, err := cc.Token(ctx); !errors.As(err, &re) || re.ErrorCode != "invalid_scope" {
		t.Errorf("a scope the client may not have: %v", err)
	}

	// Introspection of an active and of a revoked token, and revocation.
	second := signIn(browser, "") // Aino is signed in: no password
	introspect := func(token string) map[string]any {
		t.Helper()
		return postJSON(t, env.URL+oidc.PathIntrospect, url.Values{"token": {token}}, "rp", secret)
	}
	if m := introspect(second.token.AccessToken); m["active"] != true || m["sub"] != aino.ID || m["client_id"] != "rp" {
		t.Errorf("introspect active: %v", m)
	}
	if m := introspect(ccTok.AccessToken); m["active"] != false {
		t.Errorf("another client's token visible: %v", m)
	}
	postJSON(t, env.URL+oidc.PathRevoke, url.Values{"token": {second.token.AccessToken}}, "rp", secret)
	if m := introspect(second.token.AccessToken); m["active"] != false {
		t.Errorf("introspect revoked: %v", m)
	}
	postJSON(t, env.URL+oidc.PathRevoke, url.Values{"token": {second.token.RefreshToken}, "token_type_hint": {"refresh_token"}}, "rp", secret)
	if _, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: second.token.RefreshToken}).Token(); err == nil {
		t.Error("revoked refresh token works")
	}

	// prompt=none: with a session a code comes back without a page;
	// without one, login_required.
	env.Clock.Advance(time.Minute)
	none := oauth2.SetAuthURLParam("prompt", "none")
	signIn(browser, "", none)
	stranger := env.Browser(t)
	resp, _ := browse(t, stranger, conf.AuthCodeURL("s-none", none, oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	if cb := rp.callback(); !strings.HasPrefix(resp.Request.URL.String(), rp.redirectURI()) || cb.Get("error") != "login_required" || cb.Get("state") != "s-none" {
		t.Errorf("prompt=none without a session: at %s, %v", resp.Request.URL, cb)
	}

	// max_age=0: the password again, and auth_time moves.
	env.Clock.Advance(time.Minute)
	fresh := signIn(browser, "aino@example.fi", oauth2.SetAuthURLParam("max_age", "0"))
	if fresh.id.Subject != aino.ID || !fresh.id.IssuedAt.Equal(env.Clock.Now().Truncate(time.Second)) {
		t.Errorf("max_age=0: sub %s iat %v", fresh.id.Subject, fresh.id.IssuedAt)
	}
	var ft struct {
		AuthTime int64 `json:"auth_time"`
	}
	_ = fresh.id.Claims(&ft)
	if ft.AuthTime != env.Clock.Now().Unix() || ft.AuthTime == claims.AuthTime {
		t.Errorf("auth_time after max_age=0: %d (first %d)", ft.AuthTime, claims.AuthTime)
	}

	// A login_hint for Eero while Aino is signed in: never Aino's session;
	// the login form, prefilled with Eero's address.
	env.Clock.Advance(time.Minute)
	state, pkce := "s-hint", oauth2.GenerateVerifier()
	resp, page := browse(t, browser, conf.AuthCodeURL(state, oauth2.S256ChallengeOption(pkce), oauth2.SetAuthURLParam("login_hint", "eero@example.fi")))
	ret, email := loginForm(t, resp, page)
	if email != "eero@example.fi" {
		t.Errorf("login form prefilled with %q", email)
	}
	if cb := rp.callback(); cb != nil {
		t.Fatalf("the relying party got %v before Eero signed in", cb)
	}
	resp, err = browser.PostForm(env.URL+"/login", url.Values{"email": {"eero@example.fi"}, "password": {pw}, "return": {ret}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cb := rp.callback()
	tok, err := conf.Exchange(ctx, cb.Get("code"), oauth2.VerifierOption(pkce))
	if err != nil {
		t.Fatalf("exchange after the hinted login: %v", err)
	}
	idt, err := verifier.Verify(ctx, tok.Extra("id_token").(string))
	if err != nil || idt.Subject != eero.ID {
		t.Errorf("hinted sign-in: %v, sub %v", err, idt)
	}
	// Both are signed in now; each hint gets its own account.
	env.Clock.Advance(time.Minute)
	latest := map[string]result{}
	for _, who := range []storage.Account{aino, eero} {
		r := signIn(browser, "", oauth2.SetAuthURLParam("login_hint", who.Email))
		if r.id.Subject != who.ID {
			t.Errorf("hint %s: got sub %s", who.Email, r.id.Subject)
		}
		latest[who.ID] = r
	}

	// RP-initiated logout with Aino's id_token as hint ends her session
	// (the one the token's sid names), and only hers.
	raw := latest[aino.ID].token.Extra("id_token").(string)
	resp, _ = browse(t, browser, env.URL+oidc.PathEndSession+"?"+url.Values{
		"id_token_hint": {raw}, "post_logout_redirect_uri": {rp.srv.URL + "/bye"}, "state": {"bye"},
	}.Encode())
	if resp.Request.URL.Path != "/bye" || resp.Request.URL.Query().Get("state") != "bye" {
		t.Errorf("logout ended at %s", resp.Request.URL)
	}
	env.Clock.Advance(time.Minute)
	resp, _ = browse(t, browser, conf.AuthCodeURL("s-gone", none, oauth2.S256ChallengeOption(oauth2.GenerateVerifier()),
		oauth2.SetAuthURLParam("login_hint", aino.Email)))
	if cb := rp.callback(); cb.Get("error") != "login_required" {
		t.Errorf("Aino after her logout: %v", cb)
	}
	if r := signIn(browser, "", none, oauth2.SetAuthURLParam("login_hint", eero.Email)); r.id.Subject != eero.ID {
		t.Errorf("Eero after Aino's logout: sub %s", r.id.Subject)
	}

	// Nothing secret reached the log.
	logs := env.Logs()
	for name, s := range map[string]string{
		"client secret": secret, "refresh token": first.token.RefreshToken,
		"access token": first.token.AccessToken, "id_token": raw, "password": pw,
	} {
		if strings.Contains(logs, s) {
			t.Errorf("the log contains a %s", name)
		}
	}
}

// postJSON posts a form with HTTP Basic client authentication and decodes
// the JSON answer.
func postJSON(t *testing.T, u string, form url.Values, user, pass string) map[string]any {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(user), url.QueryEscape(pass))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("POST %s: %d %s", u, resp.StatusCode, b)
	}
	out := map[string]any{}
	b, _ := io.ReadAll(resp.Body)
	if len(b) > 0 {
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatalf("POST %s: %v: %s", u, err, b)
		}
	}
	return out
}
