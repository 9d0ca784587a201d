package oidc

import (
	"context"
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portti/portti/internal/secret"
	"github.com/portti/portti/internal/session"
	"github.com/portti/portti/internal/storage"
)

// TestTokenAccountState: userinfo and introspection of an opaque access
// token follow its account's state, read with the token.
func TestTokenAccountState(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	acc := e.account("state@example.fi")
	sec := e.client(ClientSpec{ID: "rs", RedirectURIs: []string{webRedirect}})
	now := e.clock.Now()
	opaque := func(accountID string) string {
		token, hash, err := secret.New(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		err = e.store.CreateAccessToken(ctx, storage.AccessToken{
			ID: hash, ClientID: "rs", AccountID: accountID, Scopes: []string{"openid", "email"},
			Audience: []string{"rs"}, CreatedAt: now, ExpiresAt: now.Add(time.Hour),
		})
		if err != nil {
			t.Fatal(err)
		}
		return token
	}
	user, service := opaque(acc.ID), opaque("")
	check := func(what string, wantActive bool) {
		t.Helper()
		status, info := e.userinfo(user)
		if wantActive && (status != http.StatusOK || info["sub"] != acc.ID || info["email"] != acc.Email) {
			t.Errorf("%s: userinfo %d %v", what, status, info)
		}
		if !wantActive && status != http.StatusUnauthorized {
			t.Errorf("%s: userinfo %d %v", what, status, info)
		}
		if _, m := e.post(PathIntrospect, url.Values{"token": {user}}, "rs", sec); m["active"] != wantActive {
			t.Errorf("%s: introspect %v", what, m)
		}
		// A token of the client's own, with no account, is active as such.
		if _, m := e.post(PathIntrospect, url.Values{"token": {service}}, "rs", sec); m["active"] != true || m["sub"] != nil {
			t.Errorf("%s: introspect the client's token %v", what, m)
		}
		if status, _ := e.userinfo(service); status != http.StatusUnauthorized {
			t.Errorf("%s: userinfo with the client's token: %d", what, status)
		}
	}
	setDisabled := func(d bool) {
		t.Helper()
		if _, err := e.store.UpdateAccount(ctx, acc.ID, func(a storage.Account) (storage.Account, error) {
			a.Disabled = d
			return a, nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	check("active", true)
	setDisabled(true)
	check("disabled", false)
	setDisabled(false)
	check("enabled again", true)
}

// lookupCountingStore counts the store reads of a token check.
type lookupCountingStore struct {
	storage.Storage
	lookups atomic.Int64
}

func (c *lookupCountingStore) GetAccessToken(ctx context.Context, id string) (storage.AccessToken, error) {
	c.lookups.Add(1)
	return c.Storage.GetAccessToken(ctx, id)
}

func (c *lookupCountingStore) GetAccount(ctx context.Context, id string) (storage.Account, error) {
	c.lookups.Add(1)
	return c.Storage.GetAccount(ctx, id)
}

func (c *lookupCountingStore) GetAccessTokenStatus(ctx context.Context, id string) (storage.AccessToken, storage.AccountStatus, error) {
	c.lookups.Add(1)
	return c.Storage.GetAccessTokenStatus(ctx, id)
}

func (c *lookupCountingStore) GetAccessTokenWithAccount(ctx context.Context, id string) (storage.AccessToken, storage.Account, error) {
	c.lookups.Add(1)
	return c.Storage.GetAccessTokenWithAccount(ctx, id)
}

// benchTokenEndpoint sets up a provider on SQLite with an account, a
// confidential client and an opaque access token, and returns its handler,
// the token, the client's secret and the counting store.
func benchTokenEndpoint(b *testing.B) (http.Handler, string, string, *lookupCountingStore) {
	b.Helper()
	ctx := context.Background()
	store := openStore(b, b.TempDir()+"/p.db")
	counting := &lookupCountingStore{Storage: store}
	now := time.Now()
	p, err := New(Config{
		Store: counting, Sessions: session.New(session.Config{Store: store}), Issuer: "https://id.example.org",
		KeyEncryptionKey: []byte(testKEK),
	})
	if err != nil {
		b.Fatal(err)
	}
	acct := storage.Account{
		ID: "acc1", Email: "maija@example.org", GivenName: "Maija", FamilyName: "Meikäläinen",
		ActivatedAt: now, CreatedAt: now, UpdatedAt: now,
	}
	if err := store.CreateAccount(ctx, acct); err != nil {
		b.Fatal(err)
	}
	_, sec, err := RegisterClient(ctx, store, ClientSpec{
		ID: "rs", RedirectURIs: []string{"https://rs.example/cb"},
	}, now)
	if err != nil {
		b.Fatal(err)
	}
	token, hash, err := secret.New(rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	err = store.CreateAccessToken(ctx, storage.AccessToken{
		ID: hash, ChainID: "chain1", ClientID: "rs", AccountID: "acc1",
		Scopes: []string{"openid", "profile", "email"}, Audience: []string{"rs"},
		CreatedAt: now, ExpiresAt: now.Add(time.Hour),
	})
	if err != nil {
		b.Fatal(err)
	}
	return p.Handler(), token, sec, counting
}

// runTokenBench runs req through h, checking each answer with ok, and
// reports CPU time and store lookups per request.
func runTokenBench(b *testing.B, h http.Handler, counting *lookupCountingStore, req func() *http.Request, ok func(*httptest.ResponseRecorder) bool) {
	b.Helper()
	for range 2 { // warm the client cache and the statement cache
		{
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req())
			if !ok(w) {
				b.Fatalf("%d %s", w.Code, w.Body)
			}
		}
	}
	lookups := counting.lookups.Load()
	b.ReportAllocs()
	b.ResetTimer()
	cpu := processCPU()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req())
		if !ok(w) {
			b.Fatalf("%d %s", w.Code, w.Body)
		}
	}
	b.StopTimer()
	if used := processCPU() - cpu; used > 0 {
		b.ReportMetric(float64(used.Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
	perOp := float64(counting.lookups.Load()-lookups) / float64(b.N)
	b.ReportMetric(perOp, "lookups/op")
	if perOp > 1 {
		b.Errorf("%.2f store lookups per request, want at most 1", perOp)
	}
}

// BenchmarkUserinfo measures a UserInfo request with an opaque access
// token through the whole handler on SQLite.
func BenchmarkUserinfo(b *testing.B) {
	h, token, _, counting := benchTokenEndpoint(b)
	runTokenBench(b, h, counting, func() *http.Request {
		req := httptest.NewRequest(http.MethodGet, "https://id.example.org"+PathUserinfo, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		return req
	}, func(w *httptest.ResponseRecorder) bool {
		return w.Code == http.StatusOK && strings.Contains(w.Body.String(), `"sub":"acc1"`)
	})
}

// BenchmarkIntrospect measures an introspection of an active opaque
// access token through the whole handler on SQLite.
func BenchmarkIntrospect(b *testing.B) {
	h, token, sec, counting := benchTokenEndpoint(b)
	body := url.Values{"token": {token}, "token_type_hint": {"access_token"}}.Encode()
	runTokenBench(b, h, counting, func() *http.Request {
		req := httptest.NewRequest(http.MethodPost, "https://id.example.org"+PathIntrospect, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth("rs", sec)
		return req
	}, func(w *httptest.ResponseRecorder) bool {
		return w.Code == http.StatusOK && strings.Contains(w.Body.String(), `"active":true`)
	})
}
