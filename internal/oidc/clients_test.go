package oidc

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/portti/portti/internal/secret"
	"github.com/portti/portti/internal/session"
	"github.com/portti/portti/internal/storage"
)

func TestNewClientValidation(t *testing.T) {
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	web := []string{"https://app.example.org/cb"}
	bad := []struct {
		name string
		spec ClientSpec
		want string
	}{
		{"no id", ClientSpec{RedirectURIs: web}, "client ID"},
		{"id with a colon", ClientSpec{ID: "a:b", RedirectURIs: web}, "client ID"},
		{"no redirect", ClientSpec{ID: "a"}, "at least one --redirect-uri"},
		{"relative", ClientSpec{ID: "a", RedirectURIs: []string{"/cb"}}, "absolute"},
		{"fragment", ClientSpec{ID: "a", RedirectURIs: []string{"https://app.example.org/cb#x"}}, "fragment"},
		{"wildcard", ClientSpec{ID: "a", RedirectURIs: []string{"https://*.example.org/cb"}}, "wildcards"},
		{"http public host", ClientSpec{ID: "a", RedirectURIs: []string{"http://app.example.org/cb"}}, "https://"},
		{"credentials", ClientSpec{ID: "a", RedirectURIs: []string{"https://u:p@app.example.org/cb"}}, "user name"},
		{"javascript", ClientSpec{ID: "a", Public: true, RedirectURIs: []string{"javascript:alert(1)"}}, "not allowed"},
		{"custom scheme confidential", ClientSpec{ID: "a", RedirectURIs: []string{"com.example.app:/cb"}}, "--public"},
		{"space", ClientSpec{ID: "a", RedirectURIs: []string{"https://app.example.org/c b"}}, "spaces"},
		{"bad grant", ClientSpec{ID: "a", RedirectURIs: web, GrantTypes: []string{"password"}}, `"password"`},
		{"implicit", ClientSpec{ID: "a", RedirectURIs: web, GrantTypes: []string{"implicit"}}, `"implicit"`},
		{"refresh alone", ClientSpec{ID: "a", GrantTypes: []string{GrantRefreshToken}}, "needs authorization_code"},
		{"public client_credentials", ClientSpec{ID: "a", Public: true, GrantTypes: []string{GrantClientCredentials}}, "public client cannot"},
		{"public with secret", ClientSpec{ID: "a", Public: true, RedirectURIs: web, Secret: strings.Repeat("x", 40)}, "no secret"},
		{"short secret", ClientSpec{ID: "a", RedirectURIs: web, Secret: "hunter2"}, "at least 32"},
		{"cidr", ClientSpec{ID: "a", RedirectURIs: web, AllowedNetworks: []string{"campus"}}, "not a CIDR"},
		{"cidr host bits", ClientSpec{ID: "a", RedirectURIs: web, AllowedNetworks: []string{"10.1.2.3/8"}}, "did you mean 10.0.0.0/8"},
		{"alg", ClientSpec{ID: "a", RedirectURIs: web, IDTokenAlg: "HS256"}, "HS256"},
		{"backchannel http", ClientSpec{ID: "a", RedirectURIs: web, BackchannelLogoutURI: "http://app.example.org/logout"}, "back-channel"},
		{"post-logout fragment", ClientSpec{ID: "a", RedirectURIs: web, PostLogoutRedirectURIs: []string{"https://app.example.org/#bye"}}, "post-logout"},
		{"scope with a space", ClientSpec{ID: "a", GrantTypes: []string{GrantClientCredentials}, Scopes: []string{"grades read"}}, `scope "grades read"`},
		{"scope with a quote", ClientSpec{ID: "a", GrantTypes: []string{GrantClientCredentials}, Scopes: []string{`a"b`}}, "RFC 6749"},
		{"empty scope", ClientSpec{ID: "a", GrantTypes: []string{GrantClientCredentials}, Scopes: []string{""}}, "1 to 128"},
		{"person scope", ClientSpec{ID: "a", GrantTypes: []string{GrantClientCredentials}, Scopes: []string{"openid"}}, "about a person"},
		{"scopes without a grant", ClientSpec{ID: "a", ResourceServer: "https://api.example.fi/x", Scopes: []string{"grades:read"}}, "add one of those grants"},
		{"resource fragment", ClientSpec{ID: "a", ResourceServer: "https://api.example.fi/x#y"}, "fragment"},
		{"resource relative", ClientSpec{ID: "a", ResourceServer: "/x"}, "absolute URI"},
		{"resource query", ClientSpec{ID: "a", ResourceServer: "https://api.example.fi/x?v=1"}, "query"},
		{"public resource server", ClientSpec{ID: "a", Public: true, ResourceServer: "https://api.example.fi/x"}, "cannot be a public client"},
		{"resource scope", ClientSpec{ID: "a", ResourceServer: "https://api.example.fi/x", ResourceScopes: []string{"a b"}}, `scope "a b"`},
		{"resource scopes without resource", ClientSpec{ID: "a", RedirectURIs: web, ResourceScopes: []string{"a"}}, "--resource-server"},
	}
	for _, tc := range bad {
		_, _, err := NewClient(tc.spec, now, nil)
		var ce *ClientError
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
	// Every problem is reported at once.
	_, _, err := NewClient(ClientSpec{ID: "a b", RedirectURIs: []string{"http://x.example/"}, IDTokenAlg: "none"}, now, nil)
	var ce *ClientError
	if !errors.As(err, &ce) || len(ce.Problems) != 3 {
		t.Errorf("all problems: %v", err)
	}

	good := []ClientSpec{
		{ID: "web", RedirectURIs: web},
		{ID: "local", RedirectURIs: []string{"http://localhost:3000/cb", "http://127.0.0.1/cb", "http://[::1]:8080/cb"}},
		{ID: "native", Public: true, RedirectURIs: []string{"com.example.app:/oauth2redirect", "http://127.0.0.1:8765/cb"}},
		{ID: "svc", GrantTypes: []string{GrantClientCredentials}},
		{ID: "api", GrantTypes: []string{GrantClientCredentials}, Scopes: []string{"grades:read", "https://api.example.org/grades.write", "grades:read"}},
		{ID: "full", Name: "Moodle", RedirectURIs: web, PostLogoutRedirectURIs: []string{"https://app.example.org/bye"},
			BackchannelLogoutURI: "https://app.example.org/bcl", AllowedNetworks: []string{"10.0.0.0/8", "2001:db8::/32"},
			ThirdParty: true, IDTokenAlg: "ES256", GrantTypes: []string{GrantAuthorizationCode, GrantRefreshToken, GrantClientCredentials}},
	}
	for _, spec := range good {
		rec, sec, err := NewClient(spec, now, nil)
		if err != nil {
			t.Errorf("%s: %v", spec.ID, err)
			continue
		}
		switch {
		case spec.Public && (sec != "" || rec.SecretHash != ""):
			t.Errorf("%s: public client with a secret", spec.ID)
		case !spec.Public && (!secret.Plausible(sec) || rec.SecretHash != secret.Hash(sec)):
			t.Errorf("%s: secret %q hash %q", spec.ID, sec, rec.SecretHash)
		}
		if rec.IDTokenAlg == "" || len(rec.GrantTypes) == 0 {
			t.Errorf("%s: defaults not filled: %+v", spec.ID, rec)
		}
		if spec.ID == "api" && !slices.Equal(rec.Scopes, []string{"grades:read", "https://api.example.org/grades.write"}) {
			t.Errorf("api: scopes %q, want each once in the given order", rec.Scopes)
		}
	}
}

// TestUpdateClientKeepsTokens: an updated client keeps its tokens; the
// secret changes only when asked, and follows a switch between public and
// confidential.
func TestUpdateClientKeepsTokens(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	acc := e.account("upd@example.fi")
	sec := e.client(ClientSpec{ID: "web", RedirectURIs: []string{webRedirect}})
	b := e.browser()
	b.signIn(acc.ID)
	_, tok := e.token(url.Values{"grant_type": {"authorization_code"}, "code": {e.codeFor(b, authQuery("web", webRedirect, ""))}, "redirect_uri": {webRedirect}}, "web", sec)

	rec, newSecret, err := UpdateClient(ctx, e.store, "web", func(s *ClientSpec) { s.Name = "Web 2" }, false, e.clock.Now())
	if err != nil || newSecret != "" || rec.Name != "Web 2" || rec.SecretHash != secret.Hash(sec) {
		t.Fatalf("rename: %+v %q %v", rec, newSecret, err)
	}
	e.clock.Advance(3 * time.Second) // past the client cache
	if status, _ := e.userinfo(str(tok, "access_token")); status != http.StatusOK {
		t.Errorf("access token after the update: %d", status)
	}
	if status, _ := e.token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {str(tok, "refresh_token")}}, "web", sec); status != http.StatusOK {
		t.Errorf("refresh with the old secret after the update: %d", status)
	}

	// Public: no secret; confidential again: a new one.
	if rec, _, err := UpdateClient(ctx, e.store, "web", func(s *ClientSpec) { s.Public = true }, false, e.clock.Now()); err != nil || rec.SecretHash != "" {
		t.Fatalf("to public: %+v %v", rec, err)
	}
	rec, newSecret, err = UpdateClient(ctx, e.store, "web", func(s *ClientSpec) { s.Public = false }, false, e.clock.Now())
	if err != nil || !secret.Plausible(newSecret) || rec.SecretHash != secret.Hash(newSecret) {
		t.Fatalf("to confidential: %+v %q %v", rec, newSecret, err)
	}
}

func TestRegisterClientConflict(t *testing.T) {
	e := newEnv(t)
	e.client(ClientSpec{ID: "dup", RedirectURIs: []string{webRedirect}})
	_, _, err := RegisterClient(context.Background(), e.store, ClientSpec{ID: "dup", RedirectURIs: []string{webRedirect}}, e.clock.Now())
	if err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("duplicate: %v", err)
	}
}

// Changes take effect without a restart: within the client cache's TTL.
func TestClientCacheTTL(t *testing.T) {
	e := newEnv(t)
	sec := e.client(ClientSpec{ID: "svc", GrantTypes: []string{GrantClientCredentials}})
	cc := url.Values{"grant_type": {"client_credentials"}}
	if status, _ := e.token(cc, "svc", sec); status != http.StatusOK {
		t.Fatalf("grant: %d", status)
	}
	if err := e.store.DeleteClient(context.Background(), "svc"); err != nil {
		t.Fatal(err)
	}
	// Within the TTL the cached client still works (the documented delay)…
	if status, _ := e.token(cc, "svc", sec); status != http.StatusOK {
		t.Errorf("within the TTL: %d", status)
	}
	// …after it, the removal is seen.
	e.clock.Advance(e.p.cfg.ClientCacheTTL)
	if status, _ := e.token(cc, "svc", sec); status != http.StatusUnauthorized {
		t.Errorf("after the TTL: %d", status)
	}
	// And a client added after a miss appears after the TTL too.
	e.client(ClientSpec{ID: "svc", Secret: sec, GrantTypes: []string{GrantClientCredentials}})
	e.clock.Advance(e.p.cfg.ClientCacheTTL)
	if status, _ := e.token(cc, "svc", sec); status != http.StatusOK {
		t.Errorf("re-added: %d", status)
	}
}

// countingStore counts client reads.
type countingStore struct {
	storage.Storage
	clientReads int
}

func (c *countingStore) GetClient(ctx context.Context, id string) (storage.Client, error) {
	c.clientReads++
	return c.Storage.GetClient(ctx, id)
}

// BenchmarkClientCredentials measures a client_credentials grant through
// the whole handler (routing, form parsing, client authentication from
// the cache, an ES256 signature, JSON): what the token endpoint costs
// before the network.
func BenchmarkClientCredentials(b *testing.B) {
	store := openStore(b, b.TempDir()+"/p.db")
	counting := &countingStore{Storage: store}
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	p, err := New(Config{
		Store: counting, Sessions: session.New(session.Config{Store: store}), Issuer: "https://id.example.org",
		KeyEncryptionKey: []byte(testKEK),
	})
	if err != nil {
		b.Fatal(err)
	}
	rec, sec, err := NewClient(ClientSpec{ID: "svc", GrantTypes: []string{GrantClientCredentials}}, now, nil)
	if err != nil {
		b.Fatal(err)
	}
	if err := store.CreateClient(context.Background(), rec); err != nil {
		b.Fatal(err)
	}
	h := p.Handler()
	body := "grant_type=client_credentials"
	grant := func() *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, "https://id.example.org"+PathToken, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth("svc", sec)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w
	}
	if w := grant(); w.Code != http.StatusOK {
		b.Fatalf("grant: %d %s", w.Code, w.Body)
	}
	reads := counting.clientReads
	b.ReportAllocs()
	b.ResetTimer()
	cpu := processCPU()
	for b.Loop() {
		if w := grant(); w.Code != http.StatusOK {
			b.Fatalf("grant: %d", w.Code)
		}
	}
	b.StopTimer()
	if used := processCPU() - cpu; used > 0 {
		// Wall time per op depends on what else the machine runs; CPU
		// time per op is what a grant costs.
		b.ReportMetric(float64(used.Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
	// The cache holds for 2 s; a longer run reads the client about once
	// per 2 s, never once per grant.
	if perGrant := float64(counting.clientReads-reads) / float64(b.N); b.N > 100 && perGrant > 0.01 {
		b.Errorf("%.3f client reads per grant", perGrant)
	}
}
