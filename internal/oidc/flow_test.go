package oidc

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/portti/portti/internal/secret"
	"github.com/portti/portti/internal/storage"
)

const (
	webRedirect    = "https://app.example.org/callback"
	nativeRedirect = "http://127.0.0.1:8765/cb"
)

func TestCodeFlowConfidential(t *testing.T) {
	e := newEnv(t)
	acc := e.account("maija@example.fi")
	sec := e.client(ClientSpec{ID: "web", RedirectURIs: []string{webRedirect}})
	b := e.browser()

	// Nobody signed in: to the login form, which returns to the
	// continuation.
	h := b.follow(e.authorizeURL(authQuery("web", webRedirect, "")))
	if h.location == nil || h.location.Path != "/login" {
		t.Fatalf("want the login form, got %d %v", h.status, h.location)
	}
	ret := h.location.Query().Get("return")
	if !strings.HasPrefix(ret, PathContinue+"?id=") {
		t.Fatalf("return = %q", ret)
	}

	// The login form signs the person in and returns.
	resp, _ := b.get(e.srv.URL + "/test/login?" + url.Values{"account": {acc.ID}, "return": {ret}}.Encode())
	loc, _ := resp.Location()
	h = b.follow(loc.String())
	if h.location == nil || h.location.Host != "app.example.org" {
		t.Fatalf("want the redirect to the client, got %d %v\n%s", h.status, h.location, h.body)
	}
	code := h.location.Query().Get("code")
	if !secret.Plausible(code) || h.location.Query().Get("state") != "st-123" {
		t.Fatalf("callback %v", h.location)
	}

	status, tok := e.token(url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {webRedirect}}, "web", sec)
	if status != http.StatusOK {
		t.Fatalf("token: %d %v", status, tok)
	}
	if str(tok, "token_type") != "Bearer" || str(tok, "refresh_token") == "" || str(tok, "id_token") == "" {
		t.Fatalf("token response %v", tok)
	}

	// The id_token: RS256 by default, the stable sub, claims by scope.
	claims := e.verifyIDToken(str(tok, "id_token"), "RS256")
	if claims["sub"] != acc.ID || claims["aud"].([]any)[0] != "web" || claims["nonce"] != "n-456" ||
		claims["email"] != "maija@example.fi" || claims["email_verified"] != true || claims["name"] != "Maija Meikäläinen" {
		t.Errorf("id_token claims %v", claims)
	}
	if claims["phone_number"] != nil || claims["address"] != nil {
		t.Errorf("claims of scopes not asked for: %v", claims)
	}
	if amr, _ := claims["amr"].([]any); len(amr) != 1 || amr[0] != "pwd" {
		t.Errorf("amr %v", claims["amr"])
	}
	sessions, _ := e.store.ListSessions(context.Background(), acc.ID)
	if len(sessions) != 1 || claims["sid"] != SessionSID(sessions[0].ID) || claims["sid"] == sessions[0].ID {
		t.Errorf("sid %v", claims["sid"])
	}
	if int64(claims["auth_time"].(float64)) != sessions[0].CreatedAt.Unix() {
		t.Errorf("auth_time %v, session created %v", claims["auth_time"], sessions[0].CreatedAt)
	}
	// The session now records the client, for back-channel logout.
	scs, _ := e.store.ListSessionClients(context.Background(), sessions[0].ID)
	if len(scs) != 1 || scs[0].ClientID != "web" {
		t.Errorf("session clients %v", scs)
	}

	status, info := e.userinfo(str(tok, "access_token"))
	if status != http.StatusOK || info["sub"] != acc.ID || info["email"] != "maija@example.fi" || info["given_name"] != "Maija" {
		t.Errorf("userinfo: %d %v", status, info)
	}

	// The code is single-use; a second use also revokes what the first got.
	status, again := e.token(url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {webRedirect}}, "web", sec)
	if status != http.StatusBadRequest || again["error"] != "invalid_grant" {
		t.Errorf("second exchange: %d %v", status, again)
	}
	if status, _ := e.userinfo(str(tok, "access_token")); status != http.StatusUnauthorized {
		t.Errorf("access token after code reuse: %d, want 401", status)
	}
	status, _ = e.token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {str(tok, "refresh_token")}}, "web", sec)
	if status != http.StatusBadRequest {
		t.Errorf("refresh token after code reuse: %d, want 400", status)
	}
}

// verifyIDToken checks the signature with the JWKS and returns the claims.
func (e *testEnv) verifyIDToken(token, alg string) map[string]any {
	e.t.Helper()
	jws, err := jose.ParseSigned(token, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(alg)})
	if err != nil {
		e.t.Fatalf("id_token is not %s: %v", alg, err)
	}
	resp, err := http.Get(e.srv.URL + PathJWKS)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		e.t.Fatal(err)
	}
	keys := set.Key(jws.Signatures[0].Header.KeyID)
	if len(keys) != 1 {
		e.t.Fatalf("kid %q not in JWKS", jws.Signatures[0].Header.KeyID)
	}
	payload, err := jws.Verify(keys[0].Key)
	if err != nil {
		e.t.Fatalf("verify: %v", err)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		e.t.Fatal(err)
	}
	if claims["iss"] != e.srv.URL {
		e.t.Errorf("iss %v", claims["iss"])
	}
	return claims
}

func TestIDTokenES256(t *testing.T) {
	e := newEnv(t)
	acc := e.account("es@example.fi")
	sec := e.client(ClientSpec{ID: "es", RedirectURIs: []string{webRedirect}, IDTokenAlg: "ES256"})
	b := e.browser()
	b.signIn(acc.ID)
	code := e.codeFor(b, authQuery("es", webRedirect, "", "openid", "phone", "address"))
	status, tok := e.token(url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {webRedirect}}, "es", sec)
	if status != http.StatusOK {
		t.Fatalf("token: %d %v", status, tok)
	}
	claims := e.verifyIDToken(str(tok, "id_token"), "ES256")
	addr, _ := claims["address"].(map[string]any)
	if claims["phone_number"] != "+358401234567" || addr["formatted"] != "Mannerheimintie 1\n00100 Helsinki" ||
		addr["postal_code"] != "00100" || claims["email"] != nil {
		t.Errorf("claims %v", claims)
	}
	if str(tok, "refresh_token") != "" {
		t.Error("a refresh token without offline_access")
	}
}

func TestRefreshRotationAndReuse(t *testing.T) {
	e := newEnv(t)
	acc := e.account("refresh@example.fi")
	sec := e.client(ClientSpec{ID: "web", RedirectURIs: []string{webRedirect}})
	b := e.browser()
	b.signIn(acc.ID)
	code := e.codeFor(b, authQuery("web", webRedirect, ""))
	_, tok := e.token(url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {webRedirect}}, "web", sec)
	r1, a1 := str(tok, "refresh_token"), str(tok, "access_token")

	refresh := func(rt string) (int, map[string]any) {
		return e.token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, "web", sec)
	}
	status, tok2 := refresh(r1)
	if status != http.StatusOK {
		t.Fatalf("refresh: %d %v", status, tok2)
	}
	r2, a2 := str(tok2, "refresh_token"), str(tok2, "access_token")
	if r2 == "" || r2 == r1 || a2 == a1 {
		t.Fatalf("no rotation: %v", tok2)
	}
	// The stored record is the hash, and the old one is marked used in the
	// same chain.
	old, err := e.store.GetRefreshToken(context.Background(), secret.Hash(r1))
	if err != nil || old.UsedAt.IsZero() {
		t.Fatalf("old refresh token: %+v %v", old, err)
	}
	cur, _ := e.store.GetRefreshToken(context.Background(), secret.Hash(r2))
	if cur.ChainID != old.ChainID || cur.AccountID != acc.ID {
		t.Errorf("chain: %+v", cur)
	}
	// Narrowing the scope is allowed; widening is not.
	if status, m := e.token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {r2}, "scope": {"openid phone"}}, "web", sec); status != http.StatusBadRequest || m["error"] != "invalid_scope" {
		t.Errorf("wider scope: %d %v", status, m)
	}
	status, tok3 := refresh(r2)
	if status != http.StatusOK {
		t.Fatalf("second refresh: %d %v", status, tok3)
	}
	r3, a3 := str(tok3, "refresh_token"), str(tok3, "access_token")
	if status, _ := e.userinfo(a3); status != http.StatusOK {
		t.Errorf("newest access token: %d", status)
	}

	// Someone replays the first token: refused, and the whole chain dies,
	// the newest tokens included.
	if status, m := refresh(r1); status != http.StatusBadRequest || m["error"] != "invalid_grant" {
		t.Errorf("reuse: %d %v", status, m)
	}
	if status, m := refresh(r3); status != http.StatusBadRequest || m["error"] != "invalid_grant" {
		t.Errorf("newest refresh token after reuse: %d %v", status, m)
	}
	for _, at := range []string{a1, a2, a3} {
		if status, _ := e.userinfo(at); status != http.StatusUnauthorized {
			t.Errorf("access token after reuse: %d, want 401", status)
		}
	}

	// Another client cannot use the token, and a disabled account's chain
	// ends at the next refresh.
	sec2 := e.client(ClientSpec{ID: "other", RedirectURIs: []string{webRedirect}})
	code = e.codeFor(b, authQuery("web", webRedirect, ""))
	_, tok = e.token(url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {webRedirect}}, "web", sec)
	if status, _ := e.token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {str(tok, "refresh_token")}}, "other", sec2); status != http.StatusBadRequest {
		t.Errorf("other client's refresh: %d", status)
	}
	if _, err := e.store.UpdateAccount(context.Background(), acc.ID, func(a storage.Account) (storage.Account, error) {
		a.Disabled = true
		return a, nil
	}); err != nil {
		t.Fatal(err)
	}
	if status, _ := refresh(str(tok, "refresh_token")); status != http.StatusBadRequest {
		t.Errorf("disabled account's refresh: %d", status)
	}
}

func TestRefreshExpiry(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.RefreshTokenTTL = time.Hour })
	acc := e.account("exp@example.fi")
	sec := e.client(ClientSpec{ID: "web", RedirectURIs: []string{webRedirect}})
	b := e.browser()
	b.signIn(acc.ID)
	_, tok := e.token(url.Values{"grant_type": {"authorization_code"}, "code": {e.codeFor(b, authQuery("web", webRedirect, ""))}, "redirect_uri": {webRedirect}}, "web", sec)
	e.clock.Advance(2 * time.Hour)
	if status, m := e.token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {str(tok, "refresh_token")}}, "web", sec); status != http.StatusBadRequest || m["error"] != "invalid_grant" {
		t.Errorf("expired refresh token: %d %v", status, m)
	}
}

func TestPKCERequiredForPublicClients(t *testing.T) {
	e := newEnv(t)
	acc := e.account("pkce@example.fi")
	e.client(ClientSpec{ID: "app", Public: true, RedirectURIs: []string{nativeRedirect, "com.example.app:/cb"}})
	b := e.browser()
	b.signIn(acc.ID)
	verifier, challenge := pkce("abcDEF123-._~")

	refused := func(name string, q url.Values) {
		t.Helper()
		h := b.follow(e.authorizeURL(q))
		if h.location == nil || h.location.Query().Get("error") != "invalid_request" || h.location.Query().Get("code") != "" {
			t.Errorf("%s: want invalid_request at the redirect URI, got %d %v", name, h.status, h.location)
			return
		}
		if h.location.String()[:len(nativeRedirect)] != nativeRedirect || h.location.Query().Get("state") != "st-123" {
			t.Errorf("%s: error went to %v", name, h.location)
		}
	}
	refused("no challenge", authQuery("app", nativeRedirect, ""))
	q := authQuery("app", nativeRedirect, "")
	q.Set("code_challenge", verifier)
	q.Set("code_challenge_method", "plain")
	refused("plain", q)
	q.Del("code_challenge_method") // defaults to plain
	refused("no method", q)
	q = authQuery("app", nativeRedirect, "short")
	refused("malformed challenge", q)

	// S256 works; the verifier is checked.
	code := e.codeFor(b, authQuery("app", nativeRedirect, challenge))
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {nativeRedirect}, "client_id": {"app"}}
	if status, m := e.token(form, "", ""); status != http.StatusBadRequest || m["error"] != "invalid_grant" {
		t.Errorf("no verifier: %d %v", status, m)
	}
	wrong, _ := pkce("zzz")
	form.Set("code_verifier", wrong)
	if status, m := e.token(form, "", ""); status != http.StatusBadRequest || m["error"] != "invalid_grant" {
		t.Errorf("wrong verifier: %d %v", status, m)
	}
	form.Set("code_verifier", verifier)
	status, tok := e.token(form, "", "")
	if status != http.StatusOK || str(tok, "access_token") == "" {
		t.Fatalf("right verifier: %d %v", status, tok)
	}
	// A public client cannot use client_credentials, nor pretend to have
	// a secret.
	if status, _ := e.token(url.Values{"grant_type": {"client_credentials"}, "client_id": {"app"}}, "", ""); status == http.StatusOK {
		t.Error("client_credentials for a public client")
	}
	if status, m := e.token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {str(tok, "refresh_token")}}, "app", "some-secret-that-is-not-there-0123456789"); status != http.StatusUnauthorized || m["error"] != "invalid_client" {
		t.Errorf("public client with a secret: %d %v", status, m)
	}
	// Refresh works for the public client with its client_id alone.
	if status, m := e.token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {str(tok, "refresh_token")}, "client_id": {"app"}}, "", ""); status != http.StatusOK {
		t.Errorf("public refresh: %d %v", status, m)
	}
	// Private-use scheme redirect for the native app.
	code = e.codeFor(b, authQuery("app", "com.example.app:/cb", challenge))
	if code == "" {
		t.Error("no code for the private-use scheme")
	}
}

// A confidential client that used PKCE must send the verifier; one that
// did not must not send one (RFC 9700 2.1.1).
func TestPKCEConfidentialDowngrade(t *testing.T) {
	e := newEnv(t)
	acc := e.account("dg@example.fi")
	sec := e.client(ClientSpec{ID: "web", RedirectURIs: []string{webRedirect}})
	b := e.browser()
	b.signIn(acc.ID)
	verifier, challenge := pkce("q1w2e3")
	code := e.codeFor(b, authQuery("web", webRedirect, challenge))
	if status, _ := e.token(url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {webRedirect}}, "web", sec); status != http.StatusBadRequest {
		t.Errorf("challenge sent, verifier left out: %d", status)
	}
	code = e.codeFor(b, authQuery("web", webRedirect, ""))
	if status, _ := e.token(url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {webRedirect}, "code_verifier": {verifier}}, "web", sec); status != http.StatusBadRequest {
		t.Errorf("verifier without a challenge: %d", status)
	}
}

func TestExactRedirectURI(t *testing.T) {
	e := newEnv(t)
	acc := e.account("redir@example.fi")
	e.client(ClientSpec{ID: "web", RedirectURIs: []string{webRedirect}})
	e.client(ClientSpec{ID: "app", Public: true, RedirectURIs: []string{nativeRedirect}})
	b := e.browser()
	b.signIn(acc.ID)
	_, challenge := pkce("x")
	for _, tc := range []struct{ client, uri string }{
		{"web", webRedirect + "/"},
		{"web", webRedirect + "?next=/admin"},
		{"web", "https://APP.example.org/callback"},
		{"web", "https://app.example.org/callback#frag"},
		{"web", "https://evil.example/callback"},
		{"web", ""},
		// zitadel would accept any port on a native app's loopback URI.
		{"app", "http://127.0.0.1:9999/cb"},
		{"app", "http://localhost:8765/cb"},
		{"nobody", webRedirect},
	} {
		h := b.follow(e.authorizeURL(authQuery(tc.client, tc.uri, challenge)))
		if h.location != nil || h.status != http.StatusBadRequest || !strings.Contains(h.body, "<h1>") {
			t.Errorf("%s %q: want an error page, got %d %v", tc.client, tc.uri, h.status, h.location)
		}
		if strings.Contains(h.body, "evil.example") {
			t.Errorf("%q echoed in the page", tc.uri)
		}
	}
	// POST to the authorize endpoint is checked the same way.
	resp, err := b.c.PostForm(e.srv.URL+PathAuthorize, authQuery("web", webRedirect+"/", ""))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
		t.Errorf("POST: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	// The exact string works.
	if e.codeFor(b, authQuery("web", webRedirect, "")) == "" {
		t.Error("exact redirect_uri refused")
	}
	// The token endpoint insists on the same redirect_uri as well.
	sec := e.client(ClientSpec{ID: "web2", RedirectURIs: []string{webRedirect, webRedirect + "2"}})
	code := e.codeFor(b, authQuery("web2", webRedirect, ""))
	if status, m := e.token(url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {webRedirect + "2"}}, "web2", sec); status != http.StatusBadRequest || m["error"] != "invalid_grant" {
		t.Errorf("other redirect_uri at the token endpoint: %d %v", status, m)
	}
}

func TestClientAuthentication(t *testing.T) {
	e := newEnv(t)
	sec := e.client(ClientSpec{ID: "svc", GrantTypes: []string{GrantClientCredentials}})
	if len(sec) != 43 {
		t.Fatalf("generated secret %q", sec)
	}
	cc := url.Values{"grant_type": {"client_credentials"}}
	if status, m := e.token(cc, "svc", sec); status != http.StatusOK {
		t.Errorf("basic: %d %v", status, m)
	}
	post := url.Values{"grant_type": {"client_credentials"}, "client_id": {"svc"}, "client_secret": {sec}}
	if status, m := e.token(post, "", ""); status != http.StatusOK {
		t.Errorf("post: %d %v", status, m)
	}
	for name, pass := range map[string]string{
		"wrong":     sec[:42] + "x",
		"prefix":    sec[:42],
		"empty":     "",
		"hash":      secret.Hash(sec),
		"uppercase": strings.ToUpper(sec),
	} {
		status, m := e.token(cc, "svc", pass)
		if status != http.StatusUnauthorized || m["error"] != "invalid_client" {
			t.Errorf("%s secret: %d %v", name, status, m)
		}
	}
	if status, _ := e.token(cc, "nobody", sec); status != http.StatusUnauthorized {
		t.Errorf("unknown client: %d", status)
	}
	// Grant types come from the client record.
	if status, m := e.token(url.Values{"grant_type": {"authorization_code"}, "code": {"x"}, "redirect_uri": {webRedirect}}, "svc", sec); status != http.StatusBadRequest || m["error"] != "unauthorized_client" {
		t.Errorf("grant not registered: %d %v", status, m)
	}
	// A secret brought by the operator.
	given := "an-operator-chosen-secret-of-40-characters"
	e.client(ClientSpec{ID: "svc2", Secret: given, GrantTypes: []string{GrantClientCredentials}})
	if status, _ := e.token(cc, "svc2", given); status != http.StatusOK {
		t.Errorf("given secret: %d", status)
	}
}

func TestVerifySecretHash(t *testing.T) {
	h := secret.Hash("s3cret-value")
	cases := []struct {
		stored, presented string
		want              bool
	}{
		{h, "s3cret-value", true},
		{strings.ToUpper(h), "s3cret-value", true},
		{h, "s3cret-valuE", false},
		{h, "", false},
		{"", "", false},
		{"", "s3cret-value", false},
		{h[:63], "s3cret-value", false},
	}
	for _, c := range cases {
		if got := verifySecretHash(c.stored, c.presented); got != c.want {
			t.Errorf("verifySecretHash(%q, %q) = %v", c.stored, c.presented, got)
		}
	}
}

func TestClientCredentials(t *testing.T) {
	e := newEnv(t)
	sec := e.client(ClientSpec{ID: "svc", GrantTypes: []string{GrantClientCredentials}, Scopes: []string{"grades:read", "grades:write"}})
	rs := e.client(ClientSpec{ID: "rs", GrantTypes: []string{GrantClientCredentials}})

	// Scopes: none asked gives all of the client's; some asked gives
	// those; one the client may not have is refused, with its name.
	for _, c := range []struct{ ask, want string }{
		{"", "grades:read grades:write"},
		{"grades:write", "grades:write"},
		{"grades:write grades:read grades:write", "grades:read grades:write"},
	} {
		status, tok := e.token(url.Values{"grant_type": {"client_credentials"}, "scope": {c.ask}}, "svc", sec)
		if status != http.StatusOK || tok["scope"] != c.want {
			t.Errorf("scope %q: %d %v, want scope %q", c.ask, status, tok, c.want)
			continue
		}
		if claims := e.verifyIDToken(str(tok, "access_token"), "ES256"); claims["scope"] != c.want {
			t.Errorf("scope %q: the token's scope claim is %v, want %q", c.ask, claims["scope"], c.want)
		}
	}
	if status, tok := e.token(url.Values{"grant_type": {"client_credentials"}, "scope": {"grades:read admin"}}, "svc", sec); status != http.StatusBadRequest ||
		tok["error"] != "invalid_scope" || !strings.Contains(str(tok, "error_description"), `"admin"`) {
		t.Errorf("a scope the client may not have: %d %v", status, tok)
	}
	// A client without scopes gets a token without any.
	if status, tok := e.token(url.Values{"grant_type": {"client_credentials"}}, "rs", rs); status != http.StatusOK || tok["scope"] != nil {
		t.Errorf("client without scopes: %d %v", status, tok)
	}

	status, tok := e.token(url.Values{"grant_type": {"client_credentials"}, "scope": {"grades:read"}}, "svc", sec)
	if status != http.StatusOK || tok["expires_in"].(float64) != 600 {
		t.Fatalf("grant: %d %v", status, tok)
	}
	at := str(tok, "access_token")
	jws, err := jose.ParseSigned(at, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatalf("not an ES256 JWT: %v", err)
	}
	if typ := jws.Signatures[0].Protected.ExtraHeaders[jose.HeaderType]; typ != "at+jwt" {
		t.Errorf("typ %v", typ)
	}
	claims := e.verifyIDToken(at, "ES256") // same JWKS check
	if claims["sub"] != "svc" || claims["client_id"] != "svc" || claims["jti"] == "" {
		t.Errorf("claims %v", claims)
	}
	// Nothing was stored for it.
	if _, err := e.store.GetAccessToken(context.Background(), str(claims, "jti")); err == nil {
		t.Error("client_credentials token stored")
	}

	// Introspection: active for its own client, not for another; userinfo
	// is for people.
	if status, m := e.post(PathIntrospect, url.Values{"token": {at}}, "svc", sec); status != http.StatusOK || m["active"] != true || m["client_id"] != "svc" || m["scope"] != "grades:read" {
		t.Errorf("introspect: %d %v", status, m)
	}
	if status, m := e.post(PathIntrospect, url.Values{"token": {at}}, "rs", rs); status != http.StatusOK || m["active"] != false {
		t.Errorf("introspect by another client: %d %v", status, m)
	}
	if status, _ := e.post(PathIntrospect, url.Values{"token": {at}}, "svc", "wrong-secret-wrong-secret-wrong-secret"); status != http.StatusUnauthorized {
		t.Errorf("introspect with a wrong secret: %d", status)
	}
	if status, _ := e.userinfo(at); status != http.StatusUnauthorized {
		t.Errorf("userinfo with a client token: %d", status)
	}
	// It expires (revocation: TestRevokeClientToken).
	e.clock.Advance(11 * time.Minute)
	if _, m := e.post(PathIntrospect, url.Values{"token": {at}}, "svc", sec); m["active"] != false {
		t.Errorf("expired token active: %v", m)
	}
}

func TestIntrospectionAndRevocation(t *testing.T) {
	e := newEnv(t)
	acc := e.account("intro@example.fi")
	sec := e.client(ClientSpec{ID: "web", RedirectURIs: []string{webRedirect}})
	other := e.client(ClientSpec{ID: "other", RedirectURIs: []string{webRedirect}})
	b := e.browser()
	b.signIn(acc.ID)
	_, tok := e.token(url.Values{"grant_type": {"authorization_code"}, "code": {e.codeFor(b, authQuery("web", webRedirect, ""))}, "redirect_uri": {webRedirect}}, "web", sec)
	at, rt := str(tok, "access_token"), str(tok, "refresh_token")

	status, m := e.post(PathIntrospect, url.Values{"token": {at}}, "web", sec)
	if status != http.StatusOK || m["active"] != true || m["sub"] != acc.ID || m["scope"] != "openid profile email offline_access" || m["token_type"] != "Bearer" {
		t.Errorf("introspect access token: %d %v", status, m)
	}
	if _, m := e.post(PathIntrospect, url.Values{"token": {rt}, "token_type_hint": {"refresh_token"}}, "web", sec); m["active"] != true {
		t.Errorf("introspect refresh token: %v", m)
	}
	if _, m := e.post(PathIntrospect, url.Values{"token": {at}}, "other", other); m["active"] != false || m["sub"] != nil {
		t.Errorf("another client sees the token: %v", m)
	}
	if _, m := e.post(PathIntrospect, url.Values{"token": {"no-such-token"}}, "web", sec); m["active"] != false {
		t.Errorf("junk token: %v", m)
	}

	// Another client may not revoke it; the owner may.
	if status, _ := e.post(PathRevoke, url.Values{"token": {at}}, "other", other); status == http.StatusOK {
		t.Error("another client revoked the token")
	}
	if status, _ := e.post(PathRevoke, url.Values{"token": {at}, "token_type_hint": {"access_token"}}, "web", sec); status != http.StatusOK {
		t.Errorf("revoke access token: %d", status)
	}
	if _, m := e.post(PathIntrospect, url.Values{"token": {at}}, "web", sec); m["active"] != false {
		t.Errorf("revoked access token active: %v", m)
	}
	if status, _ := e.userinfo(at); status != http.StatusUnauthorized {
		t.Errorf("userinfo with a revoked token: %d", status)
	}
	// Revoking the refresh token ends the grant: refresh fails.
	if status, _ := e.post(PathRevoke, url.Values{"token": {rt}}, "web", sec); status != http.StatusOK {
		t.Errorf("revoke refresh token: %d", status)
	}
	if status, _ := e.token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, "web", sec); status != http.StatusBadRequest {
		t.Errorf("refresh after revocation: %d", status)
	}
	// Unknown tokens: success, as RFC 7009 asks.
	if status, _ := e.post(PathRevoke, url.Values{"token": {"unknown"}}, "web", sec); status != http.StatusOK {
		t.Errorf("revoke unknown: %d", status)
	}
	// The token is never accepted in the query string.
	if status, _ := e.do(mustRequest(http.MethodGet, e.srv.URL+PathUserinfo+"?access_token="+at)); status != http.StatusBadRequest {
		t.Errorf("token in the query: %d", status)
	}
}

func mustRequest(method, u string) *http.Request {
	r, err := http.NewRequest(method, u, nil)
	if err != nil {
		panic(err)
	}
	return r
}

func TestPromptAndHints(t *testing.T) {
	e := newEnv(t, withPages)
	maija := e.account("maija@example.fi")
	matti := e.account("matti@example.fi")
	e.client(ClientSpec{ID: "web", RedirectURIs: []string{webRedirect}})
	b := e.browser()

	// prompt=none without a session: login_required at the client.
	q := authQuery("web", webRedirect, "")
	q.Set("prompt", "none")
	h := b.follow(e.authorizeURL(q))
	if h.location == nil || h.location.Query().Get("error") != "login_required" || h.location.Query().Get("state") != "st-123" {
		t.Fatalf("prompt=none, nobody: %d %v", h.status, h.location)
	}

	b.signIn(maija.ID)
	e.clock.Advance(time.Minute)
	// prompt=none with a session: a code without a page.
	if e.codeFor(b, q) == "" {
		t.Fatal("prompt=none with a session")
	}

	// A hint for someone not signed in here never gets Maija's session:
	// the login form, prefilled.
	q = authQuery("web", webRedirect, "")
	q.Set("login_hint", "Matti@Example.FI")
	h = b.follow(e.authorizeURL(q))
	if h.location == nil || h.location.Path != "/login" || h.location.Query().Get("email") != "matti@example.fi" {
		t.Fatalf("login_hint for another account: %d %v", h.status, h.location)
	}
	// …and with prompt=none, login_required.
	q.Set("prompt", "none")
	h = b.follow(e.authorizeURL(q))
	if h.location == nil || h.location.Query().Get("error") != "login_required" {
		t.Fatalf("login_hint for another account, prompt=none: %v", h.location)
	}
	// A hint that is no e-mail address matches nobody.
	q.Set("login_hint", "not an address")
	if h = b.follow(e.authorizeURL(q)); h.location == nil || h.location.Query().Get("error") != "login_required" {
		t.Fatalf("login_hint not an address: %v", h.location)
	}

	// Matti signs in too; now the hint picks his session, and no hint
	// shows the account chooser.
	b.signIn(matti.ID)
	e.clock.Advance(time.Minute)
	q = authQuery("web", webRedirect, "")
	q.Set("login_hint", "maija@example.fi")
	if sub := e.subjectOf(b, q); sub != maija.ID {
		t.Errorf("hint maija: got %s", sub)
	}
	q.Del("login_hint")
	if pg := pageOf(t, b.follow(e.authorizeURL(q))); pg.Page != "chooser" || len(pg.Accounts()) != 2 {
		t.Errorf("no hint, two accounts: %+v", pg)
	}

	// max_age=0 (and prompt=login) ask for the password again even with a
	// session; the sign-in made for the request is then used.
	for _, param := range []url.Values{{"max_age": {"0"}}, {"prompt": {"login"}}} {
		q = authQuery("web", webRedirect, "")
		q.Set("login_hint", "maija@example.fi")
		for k, v := range param {
			q[k] = v
		}
		h = b.follow(e.authorizeURL(q))
		if h.location == nil || h.location.Path != "/login" || h.location.Query().Get("email") != "maija@example.fi" {
			t.Fatalf("%v: want the login form, got %d %v", param, h.status, h.location)
		}
		resp, _ := b.get(e.srv.URL + "/test/login?" + url.Values{"account": {maija.ID}, "return": {h.location.Query().Get("return")}}.Encode())
		loc, _ := resp.Location()
		h = b.follow(loc.String())
		if h.location == nil || h.location.Query().Get("code") == "" {
			t.Fatalf("%v: after the sign-in: %d %v", param, h.status, h.location)
		}
		e.clock.Advance(time.Minute)
	}
	// max_age that the session satisfies: no login.
	q = authQuery("web", webRedirect, "")
	q.Set("max_age", "3600")
	q.Set("login_hint", "maija@example.fi")
	if e.codeFor(b, q) == "" {
		t.Error("max_age satisfied")
	}
}

// subjectOf runs a code flow and returns the id_token's sub.
func (e *testEnv) subjectOf(b *browser, q url.Values) string {
	e.t.Helper()
	code := e.codeFor(b, q)
	rec, err := e.store.GetAuthRequestByCode(context.Background(), secret.Hash(code))
	if err != nil {
		e.t.Fatal(err)
	}
	return rec.AccountID
}

// TestCodeOnlyInTheSigningBrowser: the code is issued to the browser
// whose session signed in: at once in the answer to the authorization
// request when it is signed in already, else in the answer to the
// continuation its login form returns to. A continuation link that leaked
// (a shared link, a log) gives another browser the login form, and the
// signing browser gets one code per request.
func TestCodeOnlyInTheSigningBrowser(t *testing.T) {
	e := newEnv(t)
	acc := e.account("cb@example.fi")
	e.client(ClientSpec{ID: "web", RedirectURIs: []string{webRedirect}})
	b := e.browser()
	cont := e.continuationOf(b, authQuery("web", webRedirect, ""))
	b.signIn(acc.ID)

	// Another browser with the same URL is asked to sign in.
	stranger := e.browser()
	if h := stranger.follow(cont.String()); h.location == nil || h.location.Path != "/login" {
		t.Errorf("stranger at the continuation: %d %v", h.status, h.location)
	}

	// The right browser gets the code straight from the continuation,
	// with no further step on the provider.
	resp, _ := b.get(cont.String())
	loc, _ := resp.Location()
	if resp.StatusCode != http.StatusFound || loc == nil || !strings.HasPrefix(loc.String(), webRedirect+"?") || loc.Query().Get("code") == "" {
		t.Fatalf("continuation: %d %v, want the code at the redirect URI", resp.StatusCode, loc)
	}
	// Once.
	if h := b.follow(cont.String()); h.location != nil || h.status != http.StatusBadRequest || !strings.Contains(h.body, "expired") {
		t.Errorf("second continuation: %d %v", h.status, h.location)
	}
	// Signed in, the authorization request itself answers with a code.
	resp, _ = b.get(e.authorizeURL(authQuery("web", webRedirect, "")))
	loc, _ = resp.Location()
	if resp.StatusCode != http.StatusFound || loc == nil || !strings.HasPrefix(loc.String(), webRedirect+"?") || loc.Query().Get("code") == "" {
		t.Fatalf("authorize in a signed-in browser: %d %v, want the code at the redirect URI", resp.StatusCode, loc)
	}
	// Expired requests read as such.
	other := e.browser()
	cont = e.continuationOf(other, authQuery("web", webRedirect, ""))
	other.signIn(acc.ID)
	e.clock.Advance(31 * time.Minute)
	if h := other.follow(cont.String()); h.status != http.StatusBadRequest || !strings.Contains(h.body, "expired") {
		t.Errorf("expired request: %d %s", h.status, h.body)
	}
}

// continuationOf sends browser b, signed in nowhere, to the authorization
// endpoint with q and returns the continuation its login form returns to.
func (e *testEnv) continuationOf(b *browser, q url.Values) *url.URL {
	e.t.Helper()
	resp, _ := b.get(e.authorizeURL(q))
	login, _ := resp.Location()
	if login == nil || login.Path != "/login" {
		e.t.Fatalf("authorize in a browser signed in nowhere: %d %v, want the login form", resp.StatusCode, login)
	}
	cont, err := url.Parse(login.Query().Get("return"))
	if err != nil || cont.Path != PathContinue || cont.Query().Get("id") == "" {
		e.t.Fatalf("login form returns to %q, want the continuation", login.Query().Get("return"))
	}
	base, _ := url.Parse(e.srv.URL)
	return base.ResolveReference(cont)
}

func TestEndSession(t *testing.T) {
	e := newEnv(t)
	acc := e.account("bye@example.fi")
	sec := e.client(ClientSpec{ID: "web", RedirectURIs: []string{webRedirect}, PostLogoutRedirectURIs: []string{"https://app.example.org/bye"}})
	b := e.browser()
	b.signIn(acc.ID)
	_, tok := e.token(url.Values{"grant_type": {"authorization_code"}, "code": {e.codeFor(b, authQuery("web", webRedirect, ""))}, "redirect_uri": {webRedirect}}, "web", sec)
	idt := str(tok, "id_token")

	// An unregistered post_logout_redirect_uri is shown, not followed.
	h := b.follow(e.srv.URL + PathEndSession + "?" + url.Values{"id_token_hint": {idt}, "post_logout_redirect_uri": {"https://evil.example/"}}.Encode())
	if h.location != nil || h.status != http.StatusBadRequest {
		t.Errorf("unregistered post-logout URI: %d %v", h.status, h.location)
	}
	h = b.follow(e.srv.URL + PathEndSession + "?" + url.Values{"id_token_hint": {idt}, "post_logout_redirect_uri": {"https://app.example.org/bye"}, "state": {"s1"}}.Encode())
	if h.location == nil || h.location.String() != "https://app.example.org/bye?state=s1" {
		t.Fatalf("end session: %d %v", h.status, h.location)
	}
	if ss, _ := e.store.ListSessions(context.Background(), acc.ID); len(ss) != 0 {
		t.Errorf("session still there: %v", ss)
	}
	// Signed out: prompt=none now says login_required.
	q := authQuery("web", webRedirect, "")
	q.Set("prompt", "none")
	if h := b.follow(e.authorizeURL(q)); h.location == nil || h.location.Query().Get("error") != "login_required" {
		t.Errorf("after logout: %v", h.location)
	}
}
