package oidc

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portti/portti/internal/session"
	"github.com/portti/portti/internal/storage"
	"github.com/portti/portti/internal/storage/sqlstore"
)

// testClock is a settable clock.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) c(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// testEnv is a provider on a real SQLite database behind a loopback HTTP
// server, with a stand-in for portti's login form.
type testEnv struct {
	t        testing.TB
	p        *Provider
	store    *sqlstore.Store
	sessions *session.Manager
	clock    *testClock
	srv      *httptest.Server
	cfg      Config
}

const testKEK = "0123456789abcdef0123456789abcdef" // 32 bytes

func openStore(t testing.TB, path string) *sqlstore.Store {
	t.Helper()
	store, err := sqlstore.Open(context.Background(), "sqlite:"+path)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { store.Close() })
	return store
}

func newEnv(t testing.TB, opts ...func(*Config)) *testEnv {
	t.Helper()
	store := openStore(t, t.TempDir()+"/p.db")
	return newEnvOn(t, store, &testClock{t: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)}, opts...)
}

// newEnvOn starts another node on the same database and clock.
func newEnvOn(t testing.TB, store *sqlstore.Store, clock *testClock, opts ...func(*Config)) *testEnv {
	t.Helper()
	e := &testEnv{t: t, store: store, clock: clock}
	e.sessions = session.New(session.Config{Store: store, Now: clock.Now})
	e.srv = httptest.NewUnstartedServer(nil)
	e.cfg = Config{
		Store: store, Sessions: e.sessions, Issuer: "http://" + e.srv.Listener.Addr().String(),
		KeyEncryptionKey: []byte(testKEK), Now: clock.Now,
	}
	for _, o := range opts {
		o(&e.cfg)
	}
	p, err := New(e.cfg)
	if err != nil {
		t.Fatalf("oidc.New: %v", err)
	}
	e.p = p
	mux := http.NewServeMux()
	mux.Handle("/oauth2/", p.Handler())
	mux.Handle("/.well-known/", p.Handler())
	// The stand-in login form: /login shows the query it got; the test
	// signs in with /test/login?account=ID&return=…, as the real form's
	// POST does after a good password.
	mux.HandleFunc("GET /login", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Login-Email", r.URL.Query().Get("email"))
		_, _ = io.WriteString(w, "login form")
	})
	mux.HandleFunc("GET /test/login", func(w http.ResponseWriter, r *http.Request) {
		if _, err := e.sessions.Start(r.Context(), w, r, r.URL.Query().Get("account"), false, session.Meta{}); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		http.Redirect(w, r, r.URL.Query().Get("return"), http.StatusSeeOther)
	})
	e.srv.Config.Handler = mux
	e.srv.Start()
	t.Cleanup(e.srv.Close)
	return e
}

// account creates an activated account.
func (e *testEnv) account(email string) storage.Account {
	e.t.Helper()
	now := e.clock.Now()
	a := storage.Account{
		ID: "acc-" + strings.ReplaceAll(email, "@", "-"), Email: email,
		GivenName: "Maija", FamilyName: "Meikäläinen", PhoneNumber: "+358401234567",
		StreetAddress: "Mannerheimintie 1", PostalCode: "00100", Locality: "Helsinki", Locale: "fi",
		ActivatedAt: now, CreatedAt: now, UpdatedAt: now,
	}
	if err := e.store.CreateAccount(context.Background(), a); err != nil {
		e.t.Fatalf("create account: %v", err)
	}
	return a
}

// client registers a client and returns its secret.
func (e *testEnv) client(spec ClientSpec) string {
	e.t.Helper()
	_, sec, err := RegisterClient(context.Background(), e.store, spec, e.clock.Now())
	if err != nil {
		e.t.Fatalf("register client: %v", err)
	}
	return sec
}

// browser is an HTTP client with cookies that does not follow redirects.
type browser struct {
	e *testEnv
	c *http.Client
}

func (e *testEnv) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{e: e, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

// get fetches u and returns the response with its body read.
func (b *browser) get(u string) (*http.Response, string) {
	b.e.t.Helper()
	resp, err := b.c.Get(u)
	if err != nil {
		b.e.t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

// signIn signs account in in this browser.
func (b *browser) signIn(accountID string) {
	b.e.t.Helper()
	resp, _ := b.get(b.e.srv.URL + "/test/login?" + url.Values{"account": {accountID}, "return": {"/"}}.Encode())
	if resp.StatusCode != http.StatusSeeOther {
		b.e.t.Fatalf("sign in: %d", resp.StatusCode)
	}
}

// hop is one step of a redirect chain.
type hop struct {
	status   int
	location *url.URL // absolute; nil when the chain ended with a page
	body     string
	header   http.Header
}

// follow follows redirects on the provider's host and stops at the first
// response that is not a redirect to it: the relying party's redirect URI
// (not fetched), the login form, or a page.
func (b *browser) follow(u string) hop {
	b.e.t.Helper()
	for range 10 {
		resp, body := b.get(u)
		h := hop{status: resp.StatusCode, body: body, header: resp.Header}
		loc, err := resp.Location()
		if err != nil {
			return h
		}
		h.location = loc
		if loc.Host != strings.TrimPrefix(b.e.srv.URL, "http://") || loc.Path == "/login" {
			return h
		}
		u = loc.String()
	}
	b.e.t.Fatal("too many redirects")
	return hop{}
}

// pkce returns a verifier and its S256 challenge.
func pkce(seed string) (verifier, challenge string) {
	verifier = strings.Repeat(seed, 43/len(seed)+1)[:43]
	sum := sha256.Sum256([]byte(verifier))
	return verifier, base64.RawURLEncoding.EncodeToString(sum[:])
}

func (e *testEnv) authorizeURL(q url.Values) string {
	return e.srv.URL + PathAuthorize + "?" + q.Encode()
}

// authQuery is a valid authorization request of client id.
func authQuery(id, redirectURI, challenge string, scopes ...string) url.Values {
	if len(scopes) == 0 {
		scopes = []string{"openid", "profile", "email", "offline_access"}
	}
	q := url.Values{
		"client_id": {id}, "redirect_uri": {redirectURI}, "response_type": {"code"},
		"scope": {strings.Join(scopes, " ")}, "state": {"st-123"}, "nonce": {"n-456"},
	}
	if challenge != "" {
		q.Set("code_challenge", challenge)
		q.Set("code_challenge_method", "S256")
	}
	return q
}

// token posts to the token endpoint; user and pass go in HTTP Basic when
// user is not empty.
func (e *testEnv) token(form url.Values, user, pass string) (int, map[string]any) {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+PathToken, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if user != "" {
		req.SetBasicAuth(url.QueryEscape(user), url.QueryEscape(pass))
	}
	return e.do(req)
}

func (e *testEnv) do(req *http.Request) (int, map[string]any) {
	e.t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	out := map[string]any{}
	if len(body) > 0 {
		if err := json.Unmarshal(body, &out); err != nil {
			out["_raw"] = string(body)
		}
	}
	return resp.StatusCode, out
}

func (e *testEnv) post(path string, form url.Values, user, pass string) (int, map[string]any) {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if user != "" {
		req.SetBasicAuth(url.QueryEscape(user), url.QueryEscape(pass))
	}
	return e.do(req)
}

func (e *testEnv) userinfo(accessToken string) (int, map[string]any) {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+PathUserinfo, nil)
	req.Header.Set("Authorization", "Bearer "+accessToken)
	return e.do(req)
}

// codeFor runs an authorization request in a browser where accountID is
// signed in and returns the code.
func (e *testEnv) codeFor(b *browser, q url.Values) string {
	e.t.Helper()
	h := b.follow(e.authorizeURL(q))
	if h.location == nil || h.location.Query().Get("code") == "" {
		e.t.Fatalf("no code: %d %v\n%s", h.status, h.location, h.body)
	}
	if got := h.location.Query().Get("state"); got != q.Get("state") {
		e.t.Fatalf("state %q, want %q", got, q.Get("state"))
	}
	return h.location.Query().Get("code")
}

func str(m map[string]any, k string) string { s, _ := m[k].(string); return s }

// newTestLogger logs text into w, safely from many goroutines.
func newTestLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(&lockedWriter{w: w}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (kr *keyring) snapshot() []*signingKey {
	kr.mu.RLock()
	defer kr.mu.RUnlock()
	return slices.Clone(kr.keys)
}
