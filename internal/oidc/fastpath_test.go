package oidc

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/portti/portti/internal/secret"
	"github.com/portti/portti/internal/storage"
)

// FuzzAppendJSONString: appendJSONString writes what encoding/json does.
func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "plain", `"quoted" \ back`, "<a>&", "\x00\x1f\b\f\n\r\t", "ä€😀", "\xff\xfe", "\u2028\u2029", "a\xc3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendJSONString(nil, s); string(got) != string(want) {
			t.Errorf("appendJSONString(%q) = %s, want %s", s, got, want)
		}
	})
}

// TestIntrospectionJSON: the fast path's introspection answer is what
// encoding/json makes of the struct.
func TestIntrospectionJSON(t *testing.T) {
	for _, in := range []introspection{
		{},
		{Active: true, Scope: "a b", ClientID: "svc", Subject: "acc-1", TokenType: "Bearer", Expiry: 1795428600, IssuedAt: 1795428000,
			Audience: []string{"https://api.example.fi/grades", "x<y"}, Issuer: "https://id.example.fi", JWTID: "jti-1"},
		{Active: true, ClientID: "svc", Audience: []string{}},
	} {
		want, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		if got := in.appendJSON(nil); string(got) != string(want)+"\n" {
			t.Errorf("appendJSON = %s, want %s", got, want)
		}
	}
}

// TestFastPathAnswers: the fast path answers successes with the headers
// and fields of zitadel's handler, and leaves every error to it, the same
// error as before, for every way a request can go wrong.
func TestFastPathAnswers(t *testing.T) {
	e := newEnv(t)
	sec := e.client(ClientSpec{ID: "svc", GrantTypes: []string{GrantClientCredentials}, Scopes: []string{"grades:read"}})
	pub := ClientSpec{ID: "app", Public: true, RedirectURIs: []string{"http://127.0.0.1/cb"}}
	e.client(pub)

	raw := func(path, body string, header ...string) (*http.Response, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		m := map[string]any{}
		_ = json.NewDecoder(resp.Body).Decode(&m)
		return resp, m
	}
	resp, tok := raw(PathToken, "grant_type=client_credentials", "Authorization", basic("svc", sec))
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" || resp.Header.Get("Cache-Control") != "no-store" ||
		resp.Header.Get("Vary") != "Origin" || tok["token_type"] != "Bearer" || tok["expires_in"] != 600.0 || tok["scope"] != "grades:read" {
		t.Errorf("grant: %d %v %v", resp.StatusCode, resp.Header, tok)
	}
	at := str(tok, "access_token")
	resp, m := raw(PathIntrospect, "token="+url.QueryEscape(at), "Authorization", basic("svc", sec))
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" || m["active"] != true || m["client_id"] != "svc" {
		t.Errorf("introspect: %d %v", resp.StatusCode, m)
	}
	// A browser's request goes through CORS.
	if resp, _ := raw(PathToken, "grant_type=client_credentials", "Authorization", basic("svc", sec), "Origin", "https://app.example.org"); resp.StatusCode != 200 ||
		resp.Header.Get("Access-Control-Allow-Origin") == "" {
		t.Errorf("cross-origin grant: %d %v", resp.StatusCode, resp.Header)
	}

	for _, c := range []struct {
		name, path, body string
		header           []string
		status           int
		code             string
	}{
		{"wrong secret", PathToken, "grant_type=client_credentials", []string{"Authorization", basic("svc", "wrong-secret-wrong-secret-wrong-secret")}, 401, "invalid_client"},
		{"unknown client", PathToken, "grant_type=client_credentials", []string{"Authorization", basic("nobody", sec)}, 401, "invalid_client"},
		{"two methods", PathToken, "grant_type=client_credentials&client_id=svc&client_secret=" + sec, []string{"Authorization", basic("svc", sec)}, 400, "invalid_request"},
		{"assertion", PathToken, "grant_type=client_credentials&client_id=svc&client_assertion=x&client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer", nil, 401, "invalid_client"},
		{"bad scope", PathToken, "grant_type=client_credentials&scope=admin", []string{"Authorization", basic("svc", sec)}, 400, "invalid_scope"},
		{"public client", PathToken, "grant_type=client_credentials&client_id=app", nil, 400, "unauthorized_client"},
		{"no token", PathIntrospect, "", []string{"Authorization", basic("svc", sec)}, 400, "invalid_request"},
		{"introspect wrong secret", PathIntrospect, "token=x", []string{"Authorization", basic("svc", "wrong-secret-wrong-secret-wrong-secret")}, 401, "invalid_client"},
		{"introspect public", PathIntrospect, "token=x&client_id=app", nil, 400, "invalid_client"},
	} {
		resp, m := raw(c.path, c.body, c.header...)
		if resp.StatusCode != c.status || m["error"] != c.code {
			t.Errorf("%s: %d %v, want %d %s", c.name, resp.StatusCode, m, c.status, c.code)
		}
	}
	// client_secret_post works on the fast path too.
	if resp, m := raw(PathToken, "grant_type=client_credentials&client_id=svc&client_secret="+url.QueryEscape(sec)); resp.StatusCode != 200 || m["access_token"] == nil {
		t.Errorf("client_secret_post: %d %v", resp.StatusCode, m)
	}
}

func basic(id, sec string) string {
	r, _ := http.NewRequest(http.MethodGet, "/", nil)
	r.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(sec))
	return r.Header.Get("Authorization")
}

// TestAccessTokenClaimsJSON: the hand-written claims are what
// encoding/json makes of the struct.
func TestAccessTokenClaimsJSON(t *testing.T) {
	for _, c := range []accessTokenClaims{
		{},
		{Issuer: "https://id.example.fi", Subject: "svc", Audience: []string{"https://api.example.fi/grades"}, Expiry: 1795428600,
			IssuedAt: 1795428000, JWTID: "abc", ClientID: "svc", Scope: "grades:read <x>"},
		{Issuer: "i", Audience: []string{}, Expiry: -1},
	} {
		want, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		if got := c.appendJSON(nil); string(got) != string(want) {
			t.Errorf("appendJSON = %s, want %s", got, want)
		}
	}
}

// TestMachineRequestAllocations: a client_credentials grant and an
// introspection allocate a bounded amount through the whole handler. The
// collector's work grows with what requests allocate; before the fast
// path (zitadel's router, reflection-based form decoding and JSON, a
// go-jose signer, a hedged ECDSA nonce) a grant made 219
// allocations and an introspection 191; now about 110 each (issue 7).
func TestMachineRequestAllocations(t *testing.T) {
	e := newEnv(t)
	sec := e.client(ClientSpec{ID: "svc", GrantTypes: []string{GrantClientCredentials}, Scopes: []string{"grades:read"}})
	h := e.p.Handler()
	request := func(path, body string) func() {
		return func() {
			req, _ := http.NewRequest(http.MethodPost, e.cfg.Issuer+path, strings.NewReader(body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Authorization", basic("svc", sec))
			w := &discardWriter{h: http.Header{}}
			h.ServeHTTP(w, req)
			if w.status != 0 && w.status != http.StatusOK {
				t.Fatalf("%s: %d", path, w.status)
			}
		}
	}
	grant := request(PathToken, "grant_type=client_credentials")
	// A person's opaque token, as portti-bench's (e) introspects.
	acc := e.account("allocs@example.fi")
	now := e.clock.Now()
	token, hash, err := secret.New(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.store.CreateAccessToken(context.Background(), storage.AccessToken{
		ID: hash, ClientID: "svc", AccountID: acc.ID, Scopes: []string{"openid", "email"},
		Audience: []string{"svc"}, CreatedAt: now, ExpiresAt: now.Add(time.Hour),
	}); err != nil {
		t.Fatal(err)
	}
	introspect := request(PathIntrospect, "token="+url.QueryEscape(token))
	for _, c := range []struct {
		name string
		f    func()
		max  float64
	}{
		{"grant", grant, 120},
		{"introspection", introspect, 120},
	} {
		if n := testing.AllocsPerRun(200, c.f); n > c.max {
			t.Errorf("%s: %.0f allocations, want at most %.0f", c.name, n, c.max)
		} else {
			t.Logf("%s: %.0f allocations", c.name, n)
		}
	}
}

// discardWriter is a ResponseWriter that keeps only the status.
type discardWriter struct {
	h      http.Header
	status int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *discardWriter) WriteHeader(s int)           { w.status = s }
