package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"

	"github.com/portti/portti/internal/app/apptest"
	"github.com/portti/portti/internal/oidc"
	"github.com/portti/portti/internal/storage"
)

// backchannel is a relying party's back-channel logout endpoint: it
// answers with the status the test sets and hands on every token it
// accepts.
type backchannel struct {
	srv      *httptest.Server
	mu       sync.Mutex
	status   int
	attempts int
	got      chan string
}

func newBackchannel(t *testing.T) *backchannel {
	bc := &backchannel{status: http.StatusOK, got: make(chan string, 16)}
	bc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		bc.mu.Lock()
		bc.attempts++
		status := bc.status
		bc.mu.Unlock()
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
			http.Error(w, "want a form post", http.StatusBadRequest)
			return
		}
		token := r.PostFormValue("logout_token")
		if status == http.StatusOK && token != "" {
			bc.got <- token
		}
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(status)
	}))
	t.Cleanup(bc.srv.Close)
	return bc
}

func (bc *backchannel) set(status int) {
	bc.mu.Lock()
	bc.status = status
	bc.mu.Unlock()
}

func (bc *backchannel) tries() int {
	bc.mu.Lock()
	defer bc.mu.Unlock()
	return bc.attempts
}

// wait returns the next logout token the endpoint accepted.
func (bc *backchannel) wait(t *testing.T, within time.Duration) string {
	t.Helper()
	select {
	case tok := <-bc.got:
		return tok
	case <-time.After(within):
		t.Fatalf("no logout token within %s", within)
		return ""
	}
}

// none checks that no logout token arrived.
func (bc *backchannel) none(t *testing.T) {
	t.Helper()
	select {
	case tok := <-bc.got:
		t.Fatalf("unexpected logout token %.20s…", tok)
	default:
	}
}

// logoutClaims is what a relying party reads from a logout token.
type logoutClaims struct {
	Issuer   string                     `json:"iss"`
	Subject  string                     `json:"sub"`
	Audience []string                   `json:"aud"`
	IssuedAt int64                      `json:"iat"`
	Expiry   int64                      `json:"exp"`
	JTI      string                     `json:"jti"`
	SID      string                     `json:"sid"`
	Nonce    *string                    `json:"nonce"`
	Events   map[string]json.RawMessage `json:"events"`
}

// verifyLogoutToken checks a logout token as a relying party does (OpenID
// Connect Back-Channel Logout 1.0, 2.6): the signature against portti's
// JWKS (go-oidc's remote key set), typ logout+jwt, and the claims.
func verifyLogoutToken(t *testing.T, env *apptest.Env, token, clientID string) logoutClaims {
	t.Helper()
	ctx := context.Background()
	keys := gooidc.NewRemoteKeySet(ctx, env.URL+oidc.PathJWKS)
	payload, err := keys.VerifySignature(ctx, token)
	if err != nil {
		t.Fatalf("logout token signature: %v", err)
	}
	jws, err := jose.ParseSigned(token, []jose.SignatureAlgorithm{jose.RS256, jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	if typ := jws.Signatures[0].Header.ExtraHeaders[jose.HeaderType]; typ != "logout+jwt" {
		t.Errorf("typ %v, want logout+jwt", typ)
	}
	var c logoutClaims
	if err := json.Unmarshal(payload, &c); err != nil {
		t.Fatal(err)
	}
	now := env.Clock.Now().Unix()
	if _, ok := c.Events["http://schemas.openid.net/event/backchannel-logout"]; !ok || len(c.Events) != 1 {
		t.Errorf("events %v", c.Events)
	}
	if c.Issuer != env.URL || len(c.Audience) != 1 || c.Audience[0] != clientID || c.JTI == "" || c.Nonce != nil ||
		c.IssuedAt > now || c.Expiry <= now || c.Expiry-c.IssuedAt != 120 {
		t.Errorf("logout token claims %+v (now %d)", c, now)
	}
	return c
}

// TestOIDCBackchannelLogout: RP-initiated logout with id_token_hint ends
// the browser's session, revokes its refresh token, sends the application
// a logout token that verifies against JWKS, and lists the application as
// confirmed; a post_logout_redirect_uri that is not registered is an error
// page. portti's own log out and "sign out of every browser" tell the
// applications too.
func TestOIDCBackchannelLogout(t *testing.T) {
	env := apptest.Start(t, nil)
	ctx := context.Background()
	aino := addSSOUser(t, env, "aino@example.fi", "Aino", "Virtanen")
	bc := newBackchannel(t)
	app := newSSOApp(t, env, oidc.ClientSpec{ID: "rp", Name: "Test application", BackchannelLogoutURI: bc.srv.URL + "/backchannel"})
	bye := app.rp.srv.URL + "/bye"
	if _, err := env.App.Store.UpdateClient(ctx, "rp", func(c storage.Client) (storage.Client, error) {
		c.PostLogoutRedirectURIs = []string{bye}
		return c, nil
	}); err != nil {
		t.Fatal(err)
	}
	env.Clock.Advance(3 * time.Second) // past the client cache
	browser := env.Browser(t)
	r := app.signIn(browser, aino.Email)
	var idClaims struct {
		SID string `json:"sid"`
	}
	if err := r.id.Claims(&idClaims); err != nil || idClaims.SID == "" {
		t.Fatalf("id_token sid: %v", err)
	}
	endSession := func(q url.Values) (*http.Response, string) {
		t.Helper()
		return browse(t, browser, env.URL+oidc.PathEndSession+"?"+q.Encode())
	}

	// Not registered: an error page at portti, nothing ended, nobody told.
	resp, page := endSession(url.Values{"id_token_hint": {r.raw}, "post_logout_redirect_uri": {bye + "/elsewhere"}})
	if resp.StatusCode != http.StatusBadRequest || resp.Request.URL.Path != oidc.PathEndSession ||
		!strings.Contains(html.UnescapeString(page), "The application's return address is not registered") {
		t.Errorf("unregistered post_logout_redirect_uri: %d at %s", resp.StatusCode, resp.Request.URL)
	}
	if status, body := get(t, browser, env.URL+"/account"); status != http.StatusOK || !strings.Contains(body, txtLoggedIn+aino.Email) {
		t.Fatalf("the refused logout ended the session: %d", status)
	}
	bc.none(t)

	// RP-initiated logout with a registered return address: back to the
	// application at once (303, state unchanged), although it listens for
	// back-channel logout — which it heard before the redirect.
	resp, _ = endSession(url.Values{"id_token_hint": {r.raw}, "post_logout_redirect_uri": {bye}, "state": {"bye state/1"}})
	if resp.Request.URL.String() != bye+"?state=bye+state%2F1" || resp.Request.Response == nil ||
		resp.Request.Response.StatusCode != http.StatusSeeOther || resp.Request.Response.Request.URL.Path != oidc.PathEndSession {
		t.Fatalf("RP-initiated logout ended at %s", resp.Request.URL)
	}
	if got := app.rp.callback().Get("state"); got != "bye state/1" {
		t.Errorf("state at the application %q", got)
	}
	var c logoutClaims
	select {
	case tok := <-bc.got:
		c = verifyLogoutToken(t, env, tok, "rp")
	default:
		t.Fatal("the redirect came before the logout token")
	}
	if c.SID != idClaims.SID || c.Subject != aino.ID {
		t.Errorf("logout token sid %q sub %q; id_token sid %q, account %s", c.SID, c.Subject, idClaims.SID, aino.ID)
	}
	// The browser session has ended…
	if status, body := get(t, browser, env.URL+"/account"); status != http.StatusOK || strings.Contains(body, txtLoggedIn) {
		t.Errorf("still signed in after the logout")
	}
	if ss, _ := env.App.Store.ListSessions(ctx, aino.ID); len(ss) != 0 {
		t.Errorf("%d sessions left", len(ss))
	}
	// …and its refresh token with it.
	_, err := app.conf.TokenSource(ctx, &oauth2.Token{RefreshToken: r.token.RefreshToken}).Token()
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
		t.Errorf("refresh after logout: %v", err)
	}
	// The same logout again tells nobody and goes straight back.
	resp, _ = endSession(url.Values{"id_token_hint": {r.raw}, "post_logout_redirect_uri": {bye}})
	if resp.Request.URL.String() != bye {
		t.Errorf("second logout ended at %s", resp.Request.URL)
	}
	bc.none(t)

	// portti's own "log out": the application is told.
	env.Clock.Advance(time.Minute)
	r = app.signIn(browser, aino.Email)
	if err := r.id.Claims(&idClaims); err != nil {
		t.Fatal(err)
	}
	mustLogOut(t, env, browser)
	c = verifyLogoutToken(t, env, bc.wait(t, 5*time.Second), "rp")
	if c.SID != idClaims.SID {
		t.Errorf("log out: sid %q, want %q", c.SID, idClaims.SID)
	}

	// "Sign out of every browser": each session's applications are told.
	other := env.Browser(t)
	env.Clock.Advance(time.Minute)
	r1 := app.signIn(browser, aino.Email)
	env.Clock.Advance(time.Minute)
	r2 := app.signIn(other, aino.Email)
	want := map[string]bool{}
	for _, x := range []ssoResult{r1, r2} {
		var cl struct {
			SID string `json:"sid"`
		}
		_ = x.id.Claims(&cl)
		want[cl.SID] = true
	}
	if status, _ := post(t, browser, env.URL+"/account/sessions/end-all", url.Values{"account_id": {aino.ID}}); status != http.StatusOK {
		t.Fatalf("end all: %d", status)
	}
	for range 2 {
		c := verifyLogoutToken(t, env, bc.wait(t, 5*time.Second), "rp")
		if !want[c.SID] {
			t.Errorf("logout token for an unexpected sid %q", c.SID)
		}
		delete(want, c.SID)
	}
	for _, x := range []ssoResult{r1, r2} {
		if _, err := app.conf.TokenSource(ctx, &oauth2.Token{RefreshToken: x.token.RefreshToken}).Token(); err == nil {
			t.Error("a refresh token survived signing out of every browser")
		}
	}
}

// TestOIDCBackchannelLogoutRetried: with the application's endpoint down,
// the logout page says it will be told; the worker retries with backoff
// on portti's clock and delivers once the endpoint is back.
func TestOIDCBackchannelLogoutRetried(t *testing.T) {
	env := apptest.Start(t, nil)
	eero := addSSOUser(t, env, "eero@example.fi", "Eero", "Korhonen")
	bc := newBackchannel(t)
	app := newSSOApp(t, env, oidc.ClientSpec{ID: "rp", Name: "Test application", BackchannelLogoutURI: bc.srv.URL + "/backchannel"})
	browser := env.Browser(t)
	r := app.signIn(browser, eero.Email)

	bc.set(http.StatusServiceUnavailable)
	resp, page := browse(t, browser, env.URL+oidc.PathEndSession+"?"+url.Values{"id_token_hint": {r.raw}}.Encode())
	body := html.UnescapeString(page)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "Test application: will be told as soon as it can be reached") {
		t.Fatalf("logout page with the application down: %d\n%s", resp.StatusCode, page)
	}
	if bc.tries() != 1 {
		t.Fatalf("%d attempts, want the logout page's one", bc.tries())
	}
	// portti's clock has not moved: the worker, woken, does not retry yet.
	env.App.OIDC.WakeLogoutWorker()
	time.Sleep(600 * time.Millisecond)
	if bc.tries() != 1 {
		t.Fatalf("retried before the backoff: %d attempts", bc.tries())
	}
	// The backoff passes; still down: a second attempt.
	env.Clock.Advance(10 * time.Second)
	env.App.OIDC.WakeLogoutWorker()
	waitFor(t, 5*time.Second, func() bool { return bc.tries() >= 2 })
	// Back up; once the next retry is due the token arrives, signed
	// again (the first has expired on the moved clock) and valid.
	// The worker may record the second failure a moment after the test
	// saw the attempt, with its next retry counted from the clock as it
	// then stood; so the clock moves on until the retry comes due.
	bc.set(http.StatusOK)
	before := env.Clock.Now()
	var raw string
	for i := 0; raw == "" && i < 20; i++ {
		env.Clock.Advance(5 * time.Minute)
		env.App.OIDC.WakeLogoutWorker()
		select {
		case raw = <-bc.got:
		case <-time.After(300 * time.Millisecond):
		}
	}
	if raw == "" {
		t.Fatal("no logout token after the application came back")
	}
	c := verifyLogoutToken(t, env, raw, "rp")
	if c.Subject != eero.ID || c.IssuedAt <= before.Unix() || c.IssuedAt > env.Clock.Now().Unix() {
		t.Errorf("delivered token: %+v (clock %v..%v)", c, before, env.Clock.Now())
	}
	// Delivered once: later wake-ups send nothing.
	env.Clock.Advance(time.Hour)
	env.App.OIDC.WakeLogoutWorker()
	time.Sleep(600 * time.Millisecond)
	bc.none(t)
}

func waitFor(t *testing.T, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s", within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestOIDCLogoutConfirmation: without id_token_hint a GET only asks;
// the POSTed confirmation signs out and returns to the application.
func TestOIDCLogoutConfirmation(t *testing.T) {
	env := apptest.Start(t, nil)
	aino := addSSOUser(t, env, "aino@example.fi", "Aino", "Virtanen")
	app := newSSOApp(t, env, oidc.ClientSpec{ID: "rp", Name: "Test application"})
	bye := app.rp.srv.URL + "/bye"
	if _, err := env.App.Store.UpdateClient(context.Background(), "rp", func(c storage.Client) (storage.Client, error) {
		c.PostLogoutRedirectURIs = []string{bye}
		return c, nil
	}); err != nil {
		t.Fatal(err)
	}
	env.Clock.Advance(3 * time.Second)
	browser := env.Browser(t)
	app.signIn(browser, aino.Email)

	q := url.Values{"client_id": {"rp"}, "post_logout_redirect_uri": {bye}, "state": {"s"}}
	resp, page := browse(t, browser, env.URL+oidc.PathEndSession+"?"+q.Encode())
	body := html.UnescapeString(page)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "<h1>Sign out of portti?</h1>") || !strings.Contains(body, "Aino Virtanen, aino@example.fi") ||
		!strings.Contains(body, `<form method="post" action="/oauth2/end_session"`) {
		t.Fatalf("confirmation page: %d\n%s", resp.StatusCode, page)
	}
	if status, body := get(t, browser, env.URL+"/account"); status != http.StatusOK || !strings.Contains(body, txtLoggedIn) {
		t.Fatal("the GET signed the person out")
	}
	// A mismatching post_logout_redirect_uri without a hint: error page.
	q.Set("post_logout_redirect_uri", "https://evil.example/")
	if resp, _ := browse(t, browser, env.URL+oidc.PathEndSession+"?"+q.Encode()); resp.StatusCode != http.StatusBadRequest || resp.Request.URL.Host == "evil.example" {
		t.Errorf("mismatch: %d at %s", resp.StatusCode, resp.Request.URL)
	}
	// The confirmation: signed out, back at the application.
	resp, err := browser.PostForm(env.URL+oidc.PathEndSession, url.Values{"confirm": {"1"}, "client_id": {"rp"}, "post_logout_redirect_uri": {bye}, "state": {"s"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Request.URL.String() != bye+"?state=s" {
		t.Errorf("after confirming: at %s", resp.Request.URL)
	}
	if status, body := get(t, browser, env.URL+"/account"); status != http.StatusOK || strings.Contains(body, txtLoggedIn) {
		t.Error("still signed in after confirming")
	}
}
