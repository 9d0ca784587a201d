package oidc

import (
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/portti/portti/internal/secret"
	"github.com/portti/portti/internal/storage"
)

// fakePages stands in for the web front: it answers with the page's name
// and data as JSON, which the tests read.
type fakePages struct{}

func (fakePages) RenderPage(w http.ResponseWriter, r *http.Request, status int, name, titleKey string, data map[string]any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"page": name, "title": titleKey, "data": data})
}

func withPages(c *Config) { c.Pages = fakePages{} }

// ssoEnv is a testEnv with the pages stood in for and a second connection
// to its database, for counting rows no storage method lists.
type ssoEnv struct {
	*testEnv
	db *sql.DB
}

func newSSOEnv(t *testing.T, opts ...func(*Config)) *ssoEnv {
	t.Helper()
	path := t.TempDir() + "/p.db"
	store := openStore(t, path)
	e := newEnvOn(t, store, &testClock{t: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)}, append([]func(*Config){withPages}, opts...)...)
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return &ssoEnv{testEnv: e, db: db}
}

func (e *ssoEnv) count(table string) int {
	e.t.Helper()
	var n int
	if err := e.db.QueryRow(`SELECT count(*) FROM ` + table).Scan(&n); err != nil {
		e.t.Fatalf("count %s: %v", table, err)
	}
	return n
}

// shownPage is what fakePages rendered.
type shownPage struct {
	Status int
	Page   string         `json:"page"`
	Title  string         `json:"title"`
	Data   map[string]any `json:"data"`
}

func pageOf(t *testing.T, h hop) shownPage {
	t.Helper()
	var pg shownPage
	if h.location != nil || json.Unmarshal([]byte(h.body), &pg) != nil {
		t.Fatalf("want a page, got %d %v\n%s", h.status, h.location, h.body)
	}
	pg.Status = h.status
	return pg
}

func (pg shownPage) str(k string) string { s, _ := pg.Data[k].(string); return s }

// Accounts lists the IDs of the accounts on a chooser or logout page.
func (pg shownPage) Accounts() []string {
	var ids []string
	list, _ := pg.Data["Accounts"].([]any)
	for _, a := range list {
		m, _ := a.(map[string]any)
		ids = append(ids, str(m, "ID"))
	}
	return ids
}

// post posts a form in the browser, as a same-origin page does, and
// returns the response.
func (b *browser) post(path string, form url.Values, header ...string) (*http.Response, string) {
	b.e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, b.e.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.e.t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

// choose posts an answer on the chooser or consent page and follows the
// browser back to wherever the sign-in goes next.
func (b *browser) choose(id string, form url.Values) hop {
	b.e.t.Helper()
	form.Set("id", id)
	resp, body := b.post(PathContinue, form)
	loc, err := resp.Location()
	if err != nil {
		b.e.t.Fatalf("answer %v: %d\n%s", form, resp.StatusCode, body)
	}
	if loc.Host != strings.TrimPrefix(b.e.srv.URL, "http://") {
		return hop{status: resp.StatusCode, location: loc, body: body}
	}
	return b.follow(loc.String())
}

func TestRestrictedClient(t *testing.T) {
	e := newSSOEnv(t, func(c *Config) {
		// The web front's trusted-proxy rule, stood in for by a header.
		c.ClientIP = func(r *http.Request) string { return r.Header.Get("X-Test-Client-IP") }
	})
	acc := e.account("campus@example.fi")
	e.client(ClientSpec{ID: "hr", Name: "HR system", RedirectURIs: []string{webRedirect}, AllowedNetworks: []string{"10.0.0.0/8", "2001:db8::/32"}})
	e.client(ClientSpec{ID: "open", RedirectURIs: []string{webRedirect}})

	from := func(ip string) *browser {
		b := e.browser()
		tr := &headerTransport{h: http.Header{}}
		tr.h.Set("X-Test-Client-IP", ip)
		b.c.Transport = tr
		return b
	}
	outside := from("192.0.2.10")
	h := outside.follow(e.authorizeURL(authQuery("hr", webRedirect, "")))
	pg := pageOf(t, h)
	if pg.Status != http.StatusForbidden || pg.Page != "restricted" || pg.str("App") != "HR system" || pg.str("Ref") == "" {
		t.Errorf("outside: %+v", pg)
	}
	// Nothing was stored and nobody was asked for a password.
	if n := e.count("auth_requests"); n != 0 {
		t.Errorf("%d auth requests stored for a refused sign-in", n)
	}
	// Another client is not restricted.
	if h := outside.follow(e.authorizeURL(authQuery("open", webRedirect, ""))); h.location == nil || h.location.Path != "/login" {
		t.Errorf("unrestricted client from outside: %d %v", h.status, h.location)
	}

	for _, ip := range []string{"10.20.30.40", "2001:db8::1", "::ffff:10.1.1.1"} {
		inside := from(ip)
		inside.signIn(acc.ID)
		e.clock.Advance(time.Second)
		if code := e.codeFor(inside, authQuery("hr", webRedirect, "")); code == "" {
			t.Errorf("inside from %s: no code", ip)
		}
	}

	// A sign-in begun inside and continued outside stops too.
	inside := from("10.0.0.1")
	h = inside.follow(e.authorizeURL(authQuery("hr", webRedirect, "")))
	if h.location == nil || h.location.Path != "/login" {
		t.Fatalf("inside: %d %v", h.status, h.location)
	}
	ret := h.location.Query().Get("return")
	inside.c.Transport.(*headerTransport).h.Set("X-Test-Client-IP", "198.51.100.1")
	if pg := pageOf(t, inside.follow(e.srv.URL+ret)); pg.Status != http.StatusForbidden || pg.Page != "restricted" {
		t.Errorf("continued outside: %+v", pg)
	}

	// A client whose stored ranges do not parse opens to nobody.
	_, err := e.store.UpdateClient(context.Background(), "hr", func(c storage.Client) (storage.Client, error) {
		c.AllowedNetworks = []string{"not a network"}
		return c, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	e.p.clients.forget("hr")
	if pg := pageOf(t, from("10.0.0.1").follow(e.authorizeURL(authQuery("hr", webRedirect, "")))); pg.Status != http.StatusForbidden {
		t.Errorf("unparsable networks: %+v", pg)
	}
}

type headerTransport struct{ h http.Header }

func (t *headerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	for k, v := range t.h {
		r.Header[k] = v
	}
	return http.DefaultTransport.RoundTrip(r)
}

func TestAccountChooser(t *testing.T) {
	e := newSSOEnv(t)
	maija := e.account("maija@example.fi")
	matti := e.account("matti@example.fi")
	e.client(ClientSpec{ID: "web", Name: "Web app", RedirectURIs: []string{webRedirect}})
	b := e.browser()

	// One account: no chooser, unless the application asks for it.
	b.signIn(maija.ID)
	e.clock.Advance(time.Minute)
	if sub := e.subjectOf(b, authQuery("web", webRedirect, "")); sub != maija.ID {
		t.Fatalf("one account: %s", sub)
	}
	q := authQuery("web", webRedirect, "")
	q.Set("prompt", "select_account")
	h := b.follow(e.authorizeURL(q))
	pg := pageOf(t, h)
	if pg.Page != "chooser" || !slices.Equal(pg.Accounts(), []string{maija.ID}) || pg.str("App") != "Web app" {
		t.Fatalf("prompt=select_account, one account: %+v", pg)
	}
	if h := b.choose(pg.str("RequestID"), url.Values{"op": {"continue"}, "account": {maija.ID}}); h.location == nil || h.location.Query().Get("code") == "" {
		t.Fatalf("continue as maija: %d %v", h.status, h.location)
	}

	// Two accounts and no hint: the chooser, newest first.
	b.signIn(matti.ID)
	e.clock.Advance(time.Minute)
	pg = pageOf(t, b.follow(e.authorizeURL(authQuery("web", webRedirect, ""))))
	if pg.Page != "chooser" || !slices.Equal(pg.Accounts(), []string{matti.ID, maija.ID}) {
		t.Fatalf("two accounts: %+v", pg)
	}
	id := pg.str("RequestID")
	// prompt=none cannot show it.
	q = authQuery("web", webRedirect, "")
	q.Set("prompt", "none")
	if h := b.follow(e.authorizeURL(q)); h.location == nil || h.location.Query().Get("error") != "account_selection_required" {
		t.Errorf("prompt=none, two accounts: %d %v", h.status, h.location)
	}
	// A post from another site is refused.
	resp, _ := b.post(PathContinue, url.Values{"id": {id}, "op": {"continue"}, "account": {maija.ID}}, "Sec-Fetch-Site", "cross-site")
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site choice: %d", resp.StatusCode)
	}
	// Someone else's account ID chooses nothing: the chooser again.
	if pg := pageOf(t, b.choose(id, url.Values{"op": {"continue"}, "account": {"acc-nobody"}})); pg.Page != "chooser" {
		t.Errorf("unknown account: %+v", pg)
	}
	// Picking the older account completes the request with its session.
	h = b.choose(id, url.Values{"op": {"continue"}, "account": {maija.ID}})
	if h.location == nil || h.location.Query().Get("code") == "" {
		t.Fatalf("choice: %d %v", h.status, h.location)
	}
	if sub := e.codeSubject(h.location.Query().Get("code")); sub != maija.ID {
		t.Errorf("chose maija, got %s", sub)
	}

	// Signing an account out on the chooser ends its session and keeps
	// the chooser up with the one left.
	pg = pageOf(t, b.follow(e.authorizeURL(authQuery("web", webRedirect, ""))))
	id = pg.str("RequestID")
	pg = pageOf(t, b.choose(id, url.Values{"op": {"signout"}, "account": {matti.ID}}))
	if pg.Page != "chooser" || !slices.Equal(pg.Accounts(), []string{maija.ID}) {
		t.Errorf("after signing matti out: %+v", pg)
	}
	if ss, _ := e.store.ListSessions(context.Background(), matti.ID); len(ss) != 0 {
		t.Errorf("matti's session survived: %v", ss)
	}
	// "Use another account": the login form, returning to the request;
	// the new sign-in is used.
	h = b.follow(e.srv.URL + pg.str("AnotherURL"))
	if h.location == nil || h.location.Path != "/login" {
		t.Fatalf("another account: %d %v", h.status, h.location)
	}
	resp, _ = b.get(e.srv.URL + "/test/login?" + url.Values{"account": {matti.ID}, "return": {h.location.Query().Get("return")}}.Encode())
	loc, _ := resp.Location()
	h = b.follow(loc.String())
	if h.location == nil || e.codeSubject(h.location.Query().Get("code")) != matti.ID {
		t.Errorf("after another account: %d %v", h.status, h.location)
	}

	// A hint still picks its account without a chooser, and a hint for
	// an account not signed in here never gets another one.
	e.clock.Advance(time.Minute)
	q = authQuery("web", webRedirect, "")
	q.Set("login_hint", "maija@example.fi")
	if sub := e.subjectOf(b, q); sub != maija.ID {
		t.Errorf("hint maija: %s", sub)
	}
	e.account("third@example.fi")
	q.Set("login_hint", "third@example.fi")
	if h := b.follow(e.authorizeURL(q)); h.location == nil || h.location.Path != "/login" || h.location.Query().Get("email") != "third@example.fi" {
		t.Errorf("hint for an account not signed in: %d %v", h.status, h.location)
	}

	// max_age: a chosen session too old asks for that account's password.
	q = authQuery("web", webRedirect, "")
	q.Set("max_age", "1")
	pg = pageOf(t, b.follow(e.authorizeURL(q)))
	h = b.choose(pg.str("RequestID"), url.Values{"op": {"continue"}, "account": {maija.ID}})
	if h.location == nil || h.location.Path != "/login" || h.location.Query().Get("email") != "maija@example.fi" {
		t.Errorf("chosen session older than max_age: %d %v", h.status, h.location)
	}
}

// codeSubject is the account a code was issued for.
func (e *testEnv) codeSubject(code string) string {
	e.t.Helper()
	rec, err := e.store.GetAuthRequestByCode(context.Background(), secret.Hash(code))
	if err != nil {
		e.t.Fatalf("code: %v", err)
	}
	return rec.AccountID
}

func TestConsent(t *testing.T) {
	e := newSSOEnv(t)
	acc := e.account("consent@example.fi")
	e.client(ClientSpec{ID: "third", Name: "Partner service", RedirectURIs: []string{webRedirect}, ThirdParty: true})
	e.client(ClientSpec{ID: "own", RedirectURIs: []string{webRedirect}})
	b := e.browser()
	b.signIn(acc.ID)
	e.clock.Advance(time.Minute)

	// First-party clients are never asked about.
	if e.codeFor(b, authQuery("own", webRedirect, "")) == "" {
		t.Fatal("first-party client")
	}

	ask := func(q url.Values) shownPage {
		t.Helper()
		pg := pageOf(t, b.follow(e.authorizeURL(q)))
		if pg.Page != "consent" || pg.Status != http.StatusOK || pg.str("App") != "Partner service" {
			t.Fatalf("want the consent page, got %+v", pg)
		}
		return pg
	}
	q := authQuery("third", webRedirect, "", "openid", "email", "profile")
	pg := ask(q)
	var scopes []string
	for _, s := range pg.Data["Scopes"].([]any) {
		scopes = append(scopes, s.(string))
	}
	if !slices.Equal(scopes, []string{"consent.scope.openid", "consent.scope.profile", "consent.scope.email"}) {
		t.Errorf("scopes on the page: %v", scopes)
	}
	// prompt=none: consent_required, to the client.
	qn := authQuery("third", webRedirect, "", "openid", "email", "profile")
	qn.Set("prompt", "none")
	if h := b.follow(e.authorizeURL(qn)); h.location == nil || h.location.Query().Get("error") != "consent_required" {
		t.Errorf("prompt=none before consent: %v", h.location)
	}
	// Allow: the code, and the answer is remembered.
	h := b.choose(pg.str("RequestID"), url.Values{"op": {"allow"}})
	if h.location == nil || h.location.Query().Get("code") == "" || h.location.Query().Get("state") != "st-123" {
		t.Fatalf("allow: %d %v", h.status, h.location)
	}
	c, err := e.store.GetConsent(context.Background(), acc.ID, "third")
	if err != nil || !slices.Contains(c.Scopes, "email") {
		t.Errorf("stored consent %+v %v", c, err)
	}
	// Asked again for the same or fewer scopes: not asked.
	e.clock.Advance(time.Minute)
	if e.codeFor(b, q) == "" || e.codeFor(b, authQuery("third", webRedirect, "", "openid", "email")) == "" {
		t.Error("remembered consent asked again")
	}
	// More scopes, or prompt=consent: asked again.
	ask(authQuery("third", webRedirect, "", "openid", "email", "phone"))
	qc := authQuery("third", webRedirect, "", "openid", "email")
	qc.Set("prompt", "consent")
	pg = ask(qc)
	// Deny: access_denied at the client's redirect_uri, with the state.
	h = b.choose(pg.str("RequestID"), url.Values{"op": {"deny"}})
	if h.location == nil || h.location.Host != "app.example.org" || h.location.Query().Get("error") != "access_denied" || h.location.Query().Get("state") != "st-123" {
		t.Errorf("deny: %d %v", h.status, h.location)
	}
	// The denied request is gone.
	resp, _ := b.post(PathContinue, url.Values{"id": {pg.str("RequestID")}, "op": {"allow"}})
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("answer to a finished request: %d", resp.StatusCode)
	}
	// The earlier consent still stands.
	if e.codeFor(b, q) == "" {
		t.Error("consent lost after a denial")
	}
}

// logoutRP is a relying party's back-channel logout endpoint.
type logoutRP struct {
	srv    *httptest.Server
	mu     sync.Mutex
	status int
	tokens []string
	got    chan string
}

func newLogoutRP(t *testing.T) *logoutRP {
	rp := &logoutRP{status: http.StatusOK, got: make(chan string, 16)}
	rp.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rp.mu.Lock()
		status := rp.status
		rp.mu.Unlock()
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		tok := r.PostFormValue("logout_token")
		if status == http.StatusOK {
			rp.mu.Lock()
			rp.tokens = append(rp.tokens, tok)
			rp.mu.Unlock()
			rp.got <- tok
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(rp.srv.Close)
	return rp
}

func (rp *logoutRP) setStatus(s int) {
	rp.mu.Lock()
	rp.status = s
	rp.mu.Unlock()
}

func (rp *logoutRP) received() int {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	return len(rp.tokens)
}

func TestBackchannelLogout(t *testing.T) {
	e := newSSOEnv(t)
	acc := e.account("bc@example.fi")
	rp := newLogoutRP(t)
	sec := e.client(ClientSpec{
		ID: "web", Name: "Web app", RedirectURIs: []string{webRedirect},
		PostLogoutRedirectURIs: []string{"https://app.example.org/bye"}, BackchannelLogoutURI: rp.srv.URL + "/logout",
	})
	e.client(ClientSpec{ID: "plain", RedirectURIs: []string{webRedirect}})
	b := e.browser()
	b.signIn(acc.ID)
	e.clock.Advance(time.Minute)
	_, tok := e.token(url.Values{"grant_type": {"authorization_code"}, "code": {e.codeFor(b, authQuery("web", webRedirect, ""))}, "redirect_uri": {webRedirect}}, "web", sec)
	idt := str(tok, "id_token")
	idClaims := e.verifyIDToken(idt, "RS256")
	e.codeFor(b, authQuery("plain", webRedirect, "")) // no back-channel URI: not told
	sessions, _ := e.store.ListSessions(context.Background(), acc.ID)

	// Discovery says so.
	resp, err := http.Get(e.srv.URL + PathDiscovery)
	if err != nil {
		t.Fatal(err)
	}
	var disco map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&disco)
	resp.Body.Close()
	if disco["backchannel_logout_supported"] != true || disco["backchannel_logout_session_supported"] != true {
		t.Errorf("discovery: %v %v", disco["backchannel_logout_supported"], disco["backchannel_logout_session_supported"])
	}

	// A post_logout_redirect_uri that is not registered: an error page,
	// nothing ends.
	h := b.follow(e.srv.URL + PathEndSession + "?" + url.Values{"id_token_hint": {idt}, "post_logout_redirect_uri": {"https://app.example.org/other"}}.Encode())
	if h.location != nil || h.status != http.StatusBadRequest {
		t.Errorf("unregistered post-logout URI: %d %v", h.status, h.location)
	}
	if rp.received() != 0 {
		t.Error("logout token sent for a refused logout")
	}

	// RP-initiated logout with a registered return address: straight
	// back to the application, 303 with the state unchanged, even though
	// an application of the session listens for back-channel logout; it
	// was told before the redirect.
	h = b.follow(e.srv.URL + PathEndSession + "?" + url.Values{"id_token_hint": {idt}, "post_logout_redirect_uri": {"https://app.example.org/bye"}, "state": {"s1 &=/?ä"}}.Encode())
	if h.status != http.StatusSeeOther || h.location == nil || h.location.String() != "https://app.example.org/bye?state=s1+%26%3D%2F%3F%C3%A4" ||
		h.location.Query().Get("state") != "s1 &=/?ä" {
		t.Fatalf("logout: %d %v\n%s", h.status, h.location, h.body)
	}
	if rp.received() != 1 {
		t.Fatalf("the application got %d logout tokens before the redirect", rp.received())
	}

	// The token: typ logout+jwt, signed with a key in JWKS, the claims
	// of the spec and no nonce.
	lt := <-rp.got
	jws, err := jose.ParseSigned(lt, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatal(err)
	}
	if typ := jws.Signatures[0].Header.ExtraHeaders[jose.HeaderType]; typ != "logout+jwt" {
		t.Errorf("typ %v", typ)
	}
	claims := e.verifyIDToken(lt, "RS256")
	events, _ := claims["events"].(map[string]any)
	if _, ok := events["http://schemas.openid.net/event/backchannel-logout"]; !ok || len(events) != 1 {
		t.Errorf("events %v", claims["events"])
	}
	if claims["sid"] != idClaims["sid"] || claims["sub"] != acc.ID || claims["aud"].([]any)[0] != "web" ||
		claims["jti"] == "" || claims["nonce"] != nil {
		t.Errorf("logout token claims %v", claims)
	}
	if iat, exp := claims["iat"].(float64), claims["exp"].(float64); int64(iat) != e.clock.Now().Unix() || exp-iat != 120 {
		t.Errorf("iat %v exp %v", iat, exp)
	}

	// The session has ended, its refresh token is revoked and its
	// clients are forgotten.
	if ss, _ := e.store.ListSessions(context.Background(), acc.ID); len(ss) != 0 {
		t.Errorf("session still there")
	}
	if status, _ := e.token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {str(tok, "refresh_token")}}, "web", sec); status != http.StatusBadRequest {
		t.Errorf("refresh after logout: %d", status)
	}
	if scs, _ := e.store.ListSessionClients(context.Background(), sessions[0].ID); len(scs) != 0 {
		t.Errorf("session clients left: %v", scs)
	}
	// Logging out again tells nobody again: straight to the application.
	h = b.follow(e.srv.URL + PathEndSession + "?" + url.Values{"id_token_hint": {idt}, "post_logout_redirect_uri": {"https://app.example.org/bye"}}.Encode())
	if h.location == nil || h.location.String() != "https://app.example.org/bye" || rp.received() != 1 {
		t.Errorf("second logout: %d %v, %d tokens", h.status, h.location, rp.received())
	}
}

func TestBackchannelLogoutRetried(t *testing.T) {
	e := newSSOEnv(t)
	acc := e.account("retry@example.fi")
	rp := newLogoutRP(t)
	e.client(ClientSpec{ID: "web", Name: "Web app", RedirectURIs: []string{webRedirect}, BackchannelLogoutURI: rp.srv.URL + "/logout"})
	b := e.browser()
	b.signIn(acc.ID)
	e.clock.Advance(time.Minute)
	e.codeFor(b, authQuery("web", webRedirect, ""))

	// The application is down: the logout page says it will be told.
	rp.setStatus(http.StatusServiceUnavailable)
	pg := pageOf(t, b.follow(e.srv.URL+PathEndSession))
	if pg.Page != "logout" || !slices.Equal(pg.Accounts(), []string{acc.ID}) {
		t.Fatalf("no hint: want the confirmation page, got %+v", pg)
	}
	resp, body := b.post(PathEndSession, url.Values{"confirm": {"1"}})
	var shown shownPage
	if resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(body), &shown) != nil || shown.Page != "logged_out" {
		t.Fatalf("confirmed logout: %d %s", resp.StatusCode, body)
	}
	if apps := shown.Data["Apps"].([]any); len(apps) != 1 || apps[0].(map[string]any)["Confirmed"] != false {
		t.Errorf("apps %v", shown.Data["Apps"])
	}
	d := onlyDelivery(t, e)
	if d.Attempts != 1 || !d.DeliveredAt.IsZero() || !d.NextAttemptAt.After(e.clock.Now()) || !strings.Contains(d.LastError, "503") {
		t.Errorf("after the failed attempt: %+v", d)
	}
	// Not due yet: the worker leaves it.
	e.p.deliverLogoutBatch(context.Background())
	if onlyDelivery(t, e).Attempts != 1 {
		t.Error("retried before its time")
	}
	// Due, still down: another attempt, a longer wait.
	e.clock.Advance(10 * time.Second)
	e.p.deliverLogoutBatch(context.Background())
	d2 := onlyDelivery(t, e)
	if d2.Attempts != 2 || d2.NextAttemptAt.Sub(e.clock.Now()) < 8*time.Second {
		t.Errorf("second attempt: %+v", d2)
	}
	// Back up, ten minutes later: delivered, with a token signed again
	// (the stored one has expired), same jti.
	rp.setStatus(http.StatusOK)
	e.clock.Advance(10 * time.Minute)
	e.p.deliverLogoutBatch(context.Background())
	if d := onlyDelivery(t, e); d.DeliveredAt.IsZero() || d.Attempts != 2 {
		t.Errorf("after coming back: %+v", d)
	}
	if rp.received() != 1 {
		t.Fatalf("received %d", rp.received())
	}
	got := e.verifyIDToken(<-rp.got, "RS256")
	stored := e.verifyIDToken(d.Token, "RS256")
	if int64(got["iat"].(float64)) != e.clock.Now().Unix() || got["jti"] != stored["jti"] || got["sid"] != stored["sid"] {
		t.Errorf("renewed token %v, stored %v", got, stored)
	}
	// Delivered ones are not sent again.
	e.clock.Advance(time.Hour)
	e.p.deliverLogoutBatch(context.Background())
	if rp.received() != 1 {
		t.Errorf("sent again after delivery")
	}
}

// TestExpiredSessionToldToApplications: a session that expires with
// nobody logging out still reaches its applications as a back-channel
// logout, once; its offline refresh token lives on.
func TestExpiredSessionToldToApplications(t *testing.T) {
	e := newSSOEnv(t)
	acc := e.account("expiry@example.fi")
	rp := newLogoutRP(t)
	sec := e.client(ClientSpec{ID: "web", Name: "Web app", RedirectURIs: []string{webRedirect}, BackchannelLogoutURI: rp.srv.URL + "/logout"})
	b := e.browser()
	b.signIn(acc.ID)
	_, tok := e.token(url.Values{"grant_type": {"authorization_code"}, "code": {e.codeFor(b, authQuery("web", webRedirect, ""))}, "redirect_uri": {webRedirect}}, "web", sec)
	idClaims := e.verifyIDToken(str(tok, "id_token"), "RS256")
	ctx := context.Background()

	// While the session lasts, nobody is told anything.
	if n, err := e.p.EndExpiredSessions(ctx); n != 0 || err != nil {
		t.Fatalf("live session: EndExpiredSessions = %d, %v", n, err)
	}
	sessions, err := e.store.ListSessions(ctx, acc.ID)
	if err != nil || len(sessions) != 1 {
		t.Fatalf("sessions %v %v", sessions, err)
	}
	e.clock.Advance(sessions[0].ExpiresAt.Sub(e.clock.Now()) + time.Minute)

	if n, err := e.p.EndExpiredSessions(ctx); n != 1 || err != nil {
		t.Fatalf("expired session: EndExpiredSessions = %d, %v", n, err)
	}
	e.p.deliverLogoutBatch(ctx)
	if rp.received() != 1 {
		t.Fatalf("the application got %d logout tokens", rp.received())
	}
	claims := e.verifyIDToken(<-rp.got, "RS256")
	if claims["sid"] != idClaims["sid"] || claims["sub"] != acc.ID {
		t.Errorf("logout token %v, id_token sid %v", claims, idClaims["sid"])
	}
	// Told once, also after the session row is deleted.
	if err := e.store.DeleteExpired(ctx, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if n, err := e.p.EndExpiredSessions(ctx); n != 0 || err != nil {
		t.Errorf("second sweep: EndExpiredSessions = %d, %v", n, err)
	}
	e.p.deliverLogoutBatch(ctx)
	if rp.received() != 1 {
		t.Errorf("told again: %d logout tokens in all", rp.received())
	}
	// Offline access outlives the browser session.
	if status, _ := e.token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {str(tok, "refresh_token")}}, "web", sec); status != http.StatusOK {
		t.Errorf("refresh after the session expired: %d", status)
	}
}

func onlyDelivery(t *testing.T, e *ssoEnv) storage.LogoutDelivery {
	t.Helper()
	var id int64
	if err := e.db.QueryRow(`SELECT id FROM logout_deliveries`).Scan(&id); err != nil {
		t.Fatalf("logout deliveries: %v", err)
	}
	d, err := e.store.UpdateLogout(context.Background(), id, func(d storage.LogoutDelivery) (storage.LogoutDelivery, error) { return d, nil })
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestEndSessionConfirmation(t *testing.T) {
	e := newSSOEnv(t)
	acc := e.account("confirm@example.fi")
	e.client(ClientSpec{ID: "web", Name: "Web app", RedirectURIs: []string{webRedirect}, PostLogoutRedirectURIs: []string{"https://app.example.org/bye"}})
	b := e.browser()
	b.signIn(acc.ID)

	// A GET without a hint asks; it ends nothing.
	q := url.Values{"client_id": {"web"}, "post_logout_redirect_uri": {"https://app.example.org/bye"}, "state": {"s2"}}
	pg := pageOf(t, b.follow(e.srv.URL+PathEndSession+"?"+q.Encode()))
	if pg.Page != "logout" || pg.str("App") != "Web app" || pg.str("PostLogoutRedirectURI") != "https://app.example.org/bye" || pg.str("State") != "s2" || pg.str("ClientID") != "web" {
		t.Fatalf("confirmation page: %+v", pg)
	}
	if ss, _ := e.store.ListSessions(context.Background(), acc.ID); len(ss) != 1 {
		t.Fatal("a GET ended the session")
	}
	// A mismatching post_logout_redirect_uri: an error page, no redirect.
	bad := url.Values{"client_id": {"web"}, "post_logout_redirect_uri": {"https://evil.example/"}}
	if h := b.follow(e.srv.URL + PathEndSession + "?" + bad.Encode()); h.location != nil || h.status != http.StatusBadRequest {
		t.Errorf("mismatch: %d %v", h.status, h.location)
	}
	bad.Set("confirm", "1")
	if resp, _ := b.post(PathEndSession, bad); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("mismatch, posted: %d", resp.StatusCode)
	}
	// Without a client, no post_logout_redirect_uri at all.
	if h := b.follow(e.srv.URL + PathEndSession + "?" + url.Values{"post_logout_redirect_uri": {"https://app.example.org/bye"}}.Encode()); h.status != http.StatusBadRequest || h.location != nil {
		t.Errorf("no client: %d %v", h.status, h.location)
	}
	// A confirmation posted from another site is refused.
	form := url.Values{"confirm": {"1"}, "client_id": {"web"}, "post_logout_redirect_uri": {"https://app.example.org/bye"}, "state": {"s2"}}
	if resp, _ := b.post(PathEndSession, form, "Sec-Fetch-Site", "cross-site"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site confirmation: %d", resp.StatusCode)
	}
	if ss, _ := e.store.ListSessions(context.Background(), acc.ID); len(ss) != 1 {
		t.Fatal("a refused post ended the session")
	}
	// Confirmed: signed out, and (no application to tell) straight back.
	resp, _ := b.post(PathEndSession, form)
	if loc, _ := resp.Location(); resp.StatusCode != http.StatusSeeOther || loc == nil || loc.String() != "https://app.example.org/bye?state=s2" {
		t.Errorf("confirmed: %d %v", resp.StatusCode, loc)
	}
	if ss, _ := e.store.ListSessions(context.Background(), acc.ID); len(ss) != 0 {
		t.Error("session survived the confirmation")
	}
	// Nobody signed in: nothing to ask.
	if h := b.follow(e.srv.URL + PathEndSession); h.location == nil || h.location.Path != "/login" {
		t.Errorf("nobody signed in: %d %v", h.status, h.location)
	}
}

func TestSessionEndedOnce(t *testing.T) {
	e := newSSOEnv(t)
	acc := e.account("once@example.fi")
	rp := newLogoutRP(t)
	e.client(ClientSpec{ID: "web", RedirectURIs: []string{webRedirect}, BackchannelLogoutURI: rp.srv.URL})
	b := e.browser()
	b.signIn(acc.ID)
	e.clock.Advance(time.Minute)
	e.codeFor(b, authQuery("web", webRedirect, ""))
	ss, _ := e.store.ListSessions(context.Background(), acc.ID)
	ctx := context.Background()
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			if err := e.p.SessionEnded(ctx, ss[0].ID); err != nil {
				t.Errorf("SessionEnded: %v", err)
			}
		})
	}
	wg.Wait()
	if n := e.count("logout_deliveries"); n != 1 {
		t.Errorf("%d deliveries queued, want 1", n)
	}
	// The worker delivers it.
	wctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { _ = e.p.RunLogoutWorker(wctx); close(done) }()
	select {
	case <-rp.got:
	case <-time.After(5 * time.Second):
		t.Error("the worker did not deliver")
	}
	cancel()
	<-done
}
