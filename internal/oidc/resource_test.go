package oidc

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/portti/portti/internal/secret"
)

const (
	gradesAPI = "https://api.example.fi/grades"
	booksAPI  = "https://api.example.fi/books"
)

// audience reads the "aud" of an introspection answer or JWT claims.
func audience(m map[string]any) []string {
	var out []string
	switch v := m["aud"].(type) {
	case string:
		out = append(out, v)
	case []any:
		for _, a := range v {
			s, _ := a.(string)
			out = append(out, s)
		}
	}
	return out
}

// TestResourceClientCredentials: RFC 8707 with client_credentials. A
// token asked for an API carries its identifier as aud and only the
// scopes it accepts; the API sees it active at introspection, another API
// sees it inactive; unknown or forbidden resources are invalid_target.
func TestResourceClientCredentials(t *testing.T) {
	e := newEnv(t)
	grades := e.client(ClientSpec{ID: "grades-api", ResourceServer: gradesAPI, ResourceScopes: []string{"grades:read", "grades:write"}})
	books := e.client(ClientSpec{ID: "books-api", ResourceServer: booksAPI})
	svc := e.client(ClientSpec{ID: "svc", GrantTypes: []string{GrantClientCredentials}, Scopes: []string{"grades:read", "books:read"}})
	other := e.client(ClientSpec{ID: "other", GrantTypes: []string{GrantClientCredentials}, Scopes: []string{"loans:read"}})

	cc := func(extra url.Values, id, sec string) (int, map[string]any) {
		form := url.Values{"grant_type": {"client_credentials"}}
		for k, v := range extra {
			form[k] = v
		}
		return e.token(form, id, sec)
	}
	status, tok := cc(url.Values{"resource": {gradesAPI}}, "svc", svc)
	if status != http.StatusOK || tok["scope"] != "grades:read" {
		t.Fatalf("token for the grades API: %d %v", status, tok)
	}
	at := str(tok, "access_token")
	claims := e.verifyIDToken(at, "ES256")
	if !slices.Equal(audience(claims), []string{gradesAPI}) || claims["client_id"] != "svc" || claims["scope"] != "grades:read" {
		t.Errorf("claims %v", claims)
	}

	introspect := func(token, id, sec string) map[string]any {
		t.Helper()
		status, m := e.post(PathIntrospect, url.Values{"token": {token}}, id, sec)
		if status != http.StatusOK {
			t.Fatalf("introspect as %s: %d %v", id, status, m)
		}
		return m
	}
	if m := introspect(at, "grades-api", grades); m["active"] != true || m["client_id"] != "svc" ||
		m["scope"] != "grades:read" || !slices.Equal(audience(m), []string{gradesAPI}) {
		t.Errorf("the API introspects its token: %v", m)
	}
	if m := introspect(at, "books-api", books); m["active"] != false || len(m) != 1 {
		t.Errorf("another API introspects it: %v", m)
	}
	if m := introspect(at, "svc", svc); m["active"] != true {
		t.Errorf("the client introspects its own token: %v", m)
	}
	if status, _ := e.post(PathIntrospect, url.Values{"token": {at}}, "grades-api", "wrong-secret-wrong-secret-wrong-secret"); status != http.StatusUnauthorized {
		t.Errorf("the API with a wrong secret: %d", status)
	}

	// An API that declares no scopes gets the client's scopes as they are.
	status, tok = cc(url.Values{"resource": {booksAPI}}, "svc", svc)
	if status != http.StatusOK || tok["scope"] != "grades:read books:read" {
		t.Fatalf("token for the books API: %d %v", status, tok)
	}
	if m := introspect(str(tok, "access_token"), "books-api", books); m["active"] != true || !slices.Equal(audience(m), []string{booksAPI}) {
		t.Errorf("books API: %v", m)
	}
	if m := introspect(str(tok, "access_token"), "grades-api", grades); m["active"] != false {
		t.Errorf("the grades API sees the books token: %v", m)
	}

	// Without resource, as before: the client's own token.
	status, tok = cc(nil, "svc", svc)
	if status != http.StatusOK || !slices.Equal(audience(e.verifyIDToken(str(tok, "access_token"), "ES256")), []string{"svc"}) {
		t.Errorf("no resource: %d %v", status, tok)
	}
	if m := introspect(str(tok, "access_token"), "grades-api", grades); m["active"] != false {
		t.Errorf("the API sees a token without resource: %v", m)
	}

	for name, c := range map[string]struct {
		form     url.Values
		id, sec  string
		wantCode string
	}{
		"unknown":                {url.Values{"resource": {"https://api.example.fi/nothing"}}, "svc", svc, "invalid_target"},
		"fragment":               {url.Values{"resource": {gradesAPI + "#x"}}, "svc", svc, "invalid_target"},
		"relative":               {url.Values{"resource": {"/grades"}}, "svc", svc, "invalid_target"},
		"empty":                  {url.Values{"resource": {""}}, "svc", svc, "invalid_target"},
		"two":                    {url.Values{"resource": {gradesAPI, booksAPI}}, "svc", svc, "invalid_target"},
		"no scope the API takes": {url.Values{"resource": {gradesAPI}}, "other", other, "invalid_target"},
		"asked scope not taken":  {url.Values{"resource": {gradesAPI}, "scope": {"books:read"}}, "svc", svc, "invalid_target"},
		"API without grants":     {url.Values{"resource": {booksAPI}}, "books-api", books, "unauthorized_client"},
	} {
		status, m := cc(c.form, c.id, c.sec)
		if status != http.StatusBadRequest || m["error"] != c.wantCode {
			t.Errorf("%s: %d %v, want 400 %s", name, status, m, c.wantCode)
		}
	}
	// The same resource twice is one resource.
	if status, tok := cc(url.Values{"resource": {gradesAPI, gradesAPI}}, "svc", svc); status != http.StatusOK || tok["scope"] != "grades:read" {
		t.Errorf("the same resource twice: %d %v", status, tok)
	}

	// An API changed elsewhere: within the cache's time, the old
	// identifier stops naming it.
	if _, _, err := UpdateClient(context.Background(), e.store, "books-api", func(s *ClientSpec) { s.ResourceServer = booksAPI + "/v2" }, false, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(3 * time.Second)
	if status, m := cc(url.Values{"resource": {booksAPI}}, "svc", svc); status != http.StatusBadRequest || m["error"] != "invalid_target" {
		t.Errorf("the old identifier: %d %v", status, m)
	}
	if status, _ := cc(url.Values{"resource": {booksAPI + "/v2"}}, "svc", svc); status != http.StatusOK {
		t.Errorf("the new identifier: %d", status)
	}
}

// TestResourceCodeFlow: the resource parameter of the authorization
// request and of the token requests, for a person's tokens.
func TestResourceCodeFlow(t *testing.T) {
	e := newEnv(t)
	acc := e.account("resource@example.fi")
	grades := e.client(ClientSpec{ID: "grades-api", ResourceServer: gradesAPI, ResourceScopes: []string{"grades:read"}})
	books := e.client(ClientSpec{ID: "books-api", ResourceServer: booksAPI})
	app := e.client(ClientSpec{ID: "app", RedirectURIs: []string{webRedirect}, Scopes: []string{"grades:read"}})
	b := e.browser()
	b.signIn(acc.ID)

	q := authQuery("app", webRedirect, "", "openid", "email", "offline_access", "grades:read")
	q.Set("resource", gradesAPI)
	code := e.codeFor(b, q)
	status, tok := e.token(url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {webRedirect}}, "app", app)
	if status != http.StatusOK || tok["scope"] != "grades:read" || str(tok, "id_token") == "" || str(tok, "refresh_token") == "" {
		t.Fatalf("code exchange: %d %v", status, tok)
	}
	at := str(tok, "access_token")
	_, m := e.post(PathIntrospect, url.Values{"token": {at}}, "grades-api", grades)
	if m["active"] != true || m["sub"] != acc.ID || m["scope"] != "grades:read" || !slices.Equal(audience(m), []string{gradesAPI}) {
		t.Errorf("the grades API introspects the person's token: %v", m)
	}
	if _, m := e.post(PathIntrospect, url.Values{"token": {at}}, "books-api", books); m["active"] != false {
		t.Errorf("the books API sees it: %v", m)
	}
	// The id_token is still the application's.
	if idt := e.verifyIDToken(str(tok, "id_token"), "RS256"); !slices.Equal(audience(idt), []string{"app"}) || idt["email"] != acc.Email {
		t.Errorf("id_token %v", idt)
	}

	// A refresh for another API: its token, with the grant's scopes (the
	// books API declares none).
	status, tok = e.token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {str(tok, "refresh_token")}, "resource": {booksAPI}}, "app", app)
	if status != http.StatusOK {
		t.Fatalf("refresh for the books API: %d %v", status, tok)
	}
	_, m = e.post(PathIntrospect, url.Values{"token": {str(tok, "access_token")}}, "books-api", books)
	if m["active"] != true || !slices.Equal(audience(m), []string{booksAPI}) || !strings.Contains(str(m, "scope"), "openid") {
		t.Errorf("books API after refresh: %v", m)
	}
	// A refresh for an unknown API changes nothing: the token still works.
	rt := str(tok, "refresh_token")
	if status, m := e.token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "resource": {"https://nowhere.example/"}}, "app", app); status != http.StatusBadRequest || m["error"] != "invalid_target" {
		t.Errorf("refresh for an unknown API: %d %v", status, m)
	}
	if status, m := e.token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, "app", app); status != http.StatusOK || m["scope"] == nil {
		t.Errorf("refresh without resource after the refused one: %d %v", status, m)
	}

	// At the token endpoint, a code for one API cannot be turned into a
	// token for another.
	code = e.codeFor(b, q)
	if status, m := e.token(url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {webRedirect}, "resource": {booksAPI}}, "app", app); status != http.StatusBadRequest || m["error"] != "invalid_target" {
		t.Errorf("code for grades exchanged for books: %d %v", status, m)
	}

	// An unknown resource in the authorization request goes back to the
	// application as invalid_target, before anyone signs in.
	q.Set("resource", "https://api.example.fi/unknown")
	h := b.follow(e.authorizeURL(q))
	if h.location == nil || h.location.Query().Get("error") != "invalid_target" || h.location.Query().Get("state") != q.Get("state") {
		t.Errorf("unknown resource at authorize: %d %v", h.status, h.location)
	}

	// Without resource: the application's own token, as before.
	code = e.codeFor(b, authQuery("app", webRedirect, "", "openid"))
	status, tok = e.token(url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {webRedirect}}, "app", app)
	if status != http.StatusOK {
		t.Fatalf("plain code exchange: %d %v", status, tok)
	}
	if _, m := e.post(PathIntrospect, url.Values{"token": {str(tok, "access_token")}}, "grades-api", grades); m["active"] != false {
		t.Errorf("the API sees the application's own token: %v", m)
	}
	if _, m := e.post(PathIntrospect, url.Values{"token": {str(tok, "access_token")}}, "app", app); m["active"] != true {
		t.Errorf("the application's own token: %v", m)
	}
}

// TestRevokeClientToken: a client_credentials JWT revoked at one node is
// inactive at introspection on every node sharing the database; only the
// client it was issued to may revoke it; other tokens stay active.
func TestRevokeClientToken(t *testing.T) {
	e := newEnv(t)
	e2 := newEnvOn(t, e.store, e.clock, func(c *Config) { c.Issuer = e.cfg.Issuer })
	svc := e.client(ClientSpec{ID: "svc", GrantTypes: []string{GrantClientCredentials}})
	api := e.client(ClientSpec{ID: "api", ResourceServer: gradesAPI})
	other := e.client(ClientSpec{ID: "other", GrantTypes: []string{GrantClientCredentials}})

	grant := func() string {
		t.Helper()
		status, tok := e.token(url.Values{"grant_type": {"client_credentials"}, "resource": {gradesAPI}}, "svc", svc)
		if status != http.StatusOK {
			t.Fatalf("grant: %d %v", status, tok)
		}
		return str(tok, "access_token")
	}
	leaked, kept := grant(), grant()
	active := func(env *testEnv, token, id, sec string) bool {
		t.Helper()
		status, m := env.post(PathIntrospect, url.Values{"token": {token}}, id, sec)
		if status != http.StatusOK {
			t.Fatalf("introspect: %d %v", status, m)
		}
		return m["active"] == true
	}
	for _, env := range []*testEnv{e, e2} {
		if !active(env, leaked, "api", api) || !active(env, leaked, "svc", svc) {
			t.Fatal("the token is not active before revocation")
		}
	}
	// Another client may not revoke it (RFC 7009 2.1).
	if status, m := e.post(PathRevoke, url.Values{"token": {leaked}}, "other", other); status != http.StatusBadRequest || m["error"] != "unauthorized_client" {
		t.Errorf("revoked by another client: %d %v", status, m)
	}
	if !active(e, leaked, "api", api) {
		t.Error("another client's revocation took effect")
	}
	if status, m := e.post(PathRevoke, url.Values{"token": {leaked}, "token_type_hint": {"access_token"}}, "svc", svc); status != http.StatusOK {
		t.Fatalf("revoke: %d %v", status, m)
	}
	for i, env := range []*testEnv{e, e2} {
		if active(env, leaked, "api", api) || active(env, leaked, "svc", svc) {
			t.Errorf("node %d: the revoked token is active", i+1)
		}
		if !active(env, kept, "api", api) {
			t.Errorf("node %d: another token of the client was revoked with it", i+1)
		}
	}
	// Revoking again, or from the other node, is success (RFC 7009 2.2).
	if status, _ := e2.post(PathRevoke, url.Values{"token": {leaked}}, "svc", svc); status != http.StatusOK {
		t.Errorf("second revocation: %d", status)
	}
	// The entry stays until the token expires, then the janitor removes it.
	jti := str(e.verifyIDToken(leaked, "ES256"), "jti")
	if denied, err := e.store.JTIDenied(context.Background(), jti); err != nil || !denied {
		t.Fatalf("deny list: %v %v", denied, err)
	}
	e.clock.Advance(11 * time.Minute)
	if err := e.store.DeleteExpired(context.Background(), e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if denied, _ := e.store.JTIDenied(context.Background(), jti); denied {
		t.Error("the deny-list entry outlived the token")
	}
	if active(e, leaked, "svc", svc) {
		t.Error("the expired token is active")
	}

	// A removed client's tokens stop working with it.
	tok := grant()
	if err := e.store.DeleteClient(context.Background(), "svc"); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(3 * time.Second) // the client cache's time
	if active(e2, tok, "api", api) {
		t.Error("a removed client's token is active")
	}
}

// TestSyncResourceServers: the configuration file's APIs are synced like
// any client; an identifier given twice in the file, or taken by a client
// of `portti client add`, refuses the whole list.
func TestSyncResourceServers(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	api := ClientSpec{ID: "grades-api", ResourceServer: gradesAPI, ResourceScopes: []string{"grades:read"}, SecretHash: secret.Hash(svcSecret)}
	if _, err := SyncClients(ctx, e.store, []ClientSpec{api}, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if c, err := e.store.GetClientByResource(ctx, gradesAPI); err != nil || c.ID != "grades-api" || len(c.GrantTypes) != 0 {
		t.Fatalf("synced API: %+v %v", c, err)
	}
	twice := api
	twice.ID = "grades-api-2"
	if _, err := SyncClients(ctx, e.store, []ClientSpec{api, twice}, e.clock.Now()); err == nil || !strings.Contains(err.Error(), "identifiers are unique") {
		t.Errorf("an identifier twice in the file: %v", err)
	}
	e.client(ClientSpec{ID: "books-cli", ResourceServer: booksAPI})
	books := ClientSpec{ID: "books-file", ResourceServer: booksAPI, SecretHash: secret.Hash(svcSecret)}
	if _, err := SyncClients(ctx, e.store, []ClientSpec{api, books}, e.clock.Now()); err == nil || !strings.Contains(err.Error(), `"books-cli"`) {
		t.Errorf("an identifier of a command's client: %v", err)
	}
	if _, err := e.store.GetClient(ctx, "books-file"); err == nil {
		t.Error("the refused list was applied")
	}
}
