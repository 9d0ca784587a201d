package app_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/portti/portti/internal/account"
	"github.com/portti/portti/internal/app/apptest"
	"github.com/portti/portti/internal/proofing"
	"github.com/portti/portti/internal/proofing/proofingtest"
	"github.com/portti/portti/internal/storage"
)

// Strong identification end to end: portti as the relying party of the
// test provider (zitadel's op enforcing the FTN profile), through the
// real wiring.

const (
	hetuAino  = "010190-123A"
	hetuOther = "020290-234B"
	testKEK   = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=" // 32 bytes, base64
)

// startProofing runs the test provider and a portti configured with it.
func startProofing(t *testing.T) (*apptest.Env, *proofingtest.Provider) {
	t.Helper()
	idp := proofingtest.Start(t, "portti-test",
		proofingtest.Person{Hetu: hetuAino, GivenName: "Aino", FamilyName: "Virtanen"},
		proofingtest.Person{Hetu: hetuOther, GivenName: "Eero", FamilyName: "Korhonen"})
	file := `proofing:
  providers:
    - id: testbank
      name: {fi: Testipankki, sv: Testbanken, en: Test bank}
      issuer: ` + idp.URL + `
      client_id: portti-test
      scopes: [openid, profile]
      acr_values: [` + proofingtest.ACR + `]
      identifier_claim: "` + proofingtest.HetuClaim + `"
`
	env := apptest.StartWithFile(t, file, map[string]string{"PORTTI_KEY_ENCRYPTION_KEY": testKEK})
	idp.SetClient(env.URL+"/proofing/callback", env.URL+"/proofing/jwks.json")
	idp.SetAuto(hetuAino)
	return env, idp
}

func setIdentifier(t *testing.T, env *apptest.Env, email, hetu string) {
	t.Helper()
	if _, err := env.App.Proofing.SetIdentifier(context.Background(), email, hetu, account.Meta{ClientIP: "cli", Lang: "en"}); err != nil {
		t.Fatal(err)
	}
}

// identify starts a flow of purpose from its page and follows it through
// the provider (which picks its Auto person) back to portti.
func identify(t *testing.T, env *apptest.Env, c *http.Client, startPage string, extra url.Values) answer {
	t.Helper()
	page := send(t, c, http.MethodGet, env.URL+startPage, nil)
	if page.Status != http.StatusOK || !strings.Contains(page.Body, `name="provider" value="testbank"`) {
		t.Fatalf("start page %s: %d\n%s", startPage, page.Status, page.Body)
	}
	f := url.Values{"purpose": {hiddenValue(t, page.Body, "purpose")}, "provider": {"testbank"}}
	for k, v := range extra {
		f[k] = v
	}
	return send(t, c, http.MethodPost, env.URL+"/proofing/start", f)
}

func TestProofingJWKSAndProfile(t *testing.T) {
	env, idp := startProofing(t)
	c := env.Browser(t)
	a := send(t, c, http.MethodGet, env.URL+"/proofing/jwks.json", nil)
	if a.Status != http.StatusOK || !strings.Contains(a.Body, `"use":"sig"`) || !strings.Contains(a.Body, `"use":"enc"`) || strings.Contains(a.Body, `"d":`) {
		t.Fatalf("jwks: %d %s", a.Status, a.Body)
	}
	// The provider refuses a plain authorisation request and a token
	// request without private_key_jwt: the profile is enforced.
	plain := send(t, c, http.MethodGet, idp.URL+"/authorize?"+url.Values{"client_id": {"portti-test"}, "response_type": {"code"},
		"scope": {"openid"}, "redirect_uri": {env.URL + "/proofing/callback"}, "state": {"s"}}.Encode(), nil)
	if plain.Status != http.StatusBadRequest || idp.Refused("no request object") != 1 {
		t.Fatalf("plain authorisation request: %d %s", plain.Status, plain.Body)
	}
	tok := send(t, c, http.MethodPost, idp.URL+"/oauth/token", url.Values{"grant_type": {"authorization_code"}, "code": {"x"}, "client_id": {"portti-test"}, "client_secret": {"x"}})
	if tok.Status != http.StatusUnauthorized || idp.Refused("no private_key_jwt") != 1 {
		t.Fatalf("token request with a secret: %d %s", tok.Status, tok.Body)
	}
}

func TestProofingUsername(t *testing.T) {
	env, idp := startProofing(t)
	addUser(t, env, "aino@example.fi", goodPassword)
	addUser(t, env, "aino.virtanen@student.example.fi", goodPassword)
	addUser(t, env, "eero@example.fi", goodPassword)
	setIdentifier(t, env, "aino@example.fi", hetuAino)
	setIdentifier(t, env, "aino.virtanen@student.example.fi", " 010190-123a ") // normalised
	setIdentifier(t, env, "eero@example.fi", hetuOther)

	c := env.Browser(t)
	login := send(t, c, http.MethodGet, env.URL+"/login", nil)
	if !strings.Contains(login.Body, `href="/proofing/username"`) || !strings.Contains(login.Body, `href="/proofing/lost-authenticator"`) {
		t.Fatalf("the login page does not link to strong identification:\n%s", login.Body)
	}
	got := identify(t, env, c, "/proofing/username", nil)
	if got.Status != http.StatusOK || !strings.Contains(got.Body, "aino@example.fi") || !strings.Contains(got.Body, "aino.virtanen@student.example.fi") {
		t.Fatalf("usernames page: %d at %s\n%s", got.Status, got.URL, got.Body)
	}
	mustNotContain(t, got.Body, "eero@example.fi", hetuAino)
	if !strings.Contains(got.Body, "Identified as Aino Virtanen.") {
		t.Fatalf("the page does not name the person identified:\n%s", got.Body)
	}
	// The flow is used: the page does not open again.
	again := send(t, c, http.MethodGet, env.URL+"/proofing/done", nil)
	if again.Status != http.StatusGone {
		t.Fatalf("done page again: %d", again.Status)
	}
	// No identifier anywhere in the database's events or the log.
	for _, e := range allEvents(t, env) {
		if strings.Contains(e.Reason, hetuAino) || strings.Contains(e.Reason, "010190") {
			t.Fatalf("event %s holds the identifier: %q", e.Kind, e.Reason)
		}
	}
	if strings.Contains(env.Logs(), "010190") {
		t.Fatal("the log holds the identifier")
	}
	if !hasEvent(allEvents(t, env), proofing.EventUsernames, accountOf(t, env, "aino@example.fi").ID) {
		t.Fatal("no usernames_shown event")
	}

	// A person bound to nothing is told only that.
	idp.SetAuto(hetuOther)
	env.App.Store.UnbindIdentity(context.Background(), accountOf(t, env, "eero@example.fi").ID)
	none := identify(t, env, env.Browser(t), "/proofing/username", nil)
	if none.Status != http.StatusOK || !strings.Contains(none.Body, "No account of yours matched") {
		t.Fatalf("nothing bound: %d\n%s", none.Status, none.Body)
	}

	// The identifier from userinfo when the id_token lacks it.
	idp.SetAuto(hetuAino)
	idp.SetIdentifierInUserinfo(true)
	ui := identify(t, env, env.Browser(t), "/proofing/username", nil)
	if !strings.Contains(ui.Body, "aino@example.fi") {
		t.Fatalf("identifier from userinfo: %d\n%s", ui.Status, ui.Body)
	}
}

func TestProofingMFAResetFromSecondStep(t *testing.T) {
	env, _ := startProofing(t)
	a := addUser(t, env, "aino@example.fi", goodPassword)
	setIdentifier(t, env, a.Email, hetuAino)
	c := env.Browser(t)
	mustLogIn(t, env, c, a.Email, goodPassword)
	enrolTOTP(t, env, c)
	other := env.Browser(t) // another signed-in browser, which must end
	second := passwordStep(t, env, other, a.Email, goodPassword)
	_ = second

	lost := env.Browser(t)
	step := passwordStep(t, env, lost, a.Email, goodPassword)
	if !strings.Contains(step.Body, `action="/proofing/lost-authenticator"`) {
		t.Fatalf("the second step does not offer strong identification:\n%s", step.Body)
	}
	page := send(t, lost, http.MethodPost, env.URL+"/proofing/lost-authenticator", url.Values{"challenge": {hiddenValue(t, step.Body, "challenge")}})
	if page.Status != http.StatusOK {
		t.Fatalf("lost-authenticator page: %d\n%s", page.Status, page.Body)
	}
	done := send(t, lost, http.MethodPost, env.URL+"/proofing/start", url.Values{"purpose": {"mfa_reset"}, "provider": {"testbank"},
		"challenge": {hiddenValue(t, page.Body, "challenge")}})
	// Straight into enrolling a new method, signed in.
	if done.Status != http.StatusOK || done.URL.Path != "/account/mfa" {
		t.Fatalf("after the reset: %d at %s\n%s", done.Status, done.URL, done.Body)
	}
	if cs := credentials(t, env, a.ID); len(cs) != 0 {
		t.Fatalf("%d credentials left after the reset", len(cs))
	}
	if ss, _ := env.App.Store.ListSessions(context.Background(), a.ID); len(ss) != 1 {
		t.Fatalf("%d sessions after the reset, want only the new one", len(ss))
	}
	m := env.Mail(t, a.Email, "two-step verification was reset")
	if !strings.Contains(m.Text, "strong identification") || !strings.Contains(m.Text, "/password/forgot") {
		t.Fatalf("reset mail:\n%s", m.Text)
	}
	enrolTOTP(t, env, lost) // the fresh password lets the person enrol at once
}

func TestProofingMFAResetMismatch(t *testing.T) {
	env, idp := startProofing(t)
	a := addUser(t, env, "aino@example.fi", goodPassword)
	setIdentifier(t, env, a.Email, hetuAino)
	c := env.Browser(t)
	mustLogIn(t, env, c, a.Email, goodPassword)
	enrolTOTP(t, env, c)
	idp.SetAuto(hetuOther) // someone else proves their identity
	for _, email := range []string{a.Email, "nobody@example.fi"} {
		b := env.Browser(t)
		got := identify(t, env, b, "/proofing/lost-authenticator", url.Values{"email": {email}})
		if got.Status != http.StatusOK || !strings.Contains(got.Body, "No account of yours matched") {
			t.Fatalf("mismatch for %s: %d\n%s", email, got.Status, got.Body)
		}
	}
	if cs := credentials(t, env, a.ID); len(cs) == 0 {
		t.Fatal("a mismatch removed the credentials")
	}
	if !hasEvent(allEvents(t, env), proofing.EventMismatch, a.ID) {
		t.Fatal("no mismatch event")
	}
	// From /login with the right person: reset, then sign in with the password.
	idp.SetAuto(hetuAino)
	got := identify(t, env, env.Browser(t), "/proofing/lost-authenticator", url.Values{"email": {a.Email}})
	if got.Status != http.StatusOK || !strings.Contains(got.Body, "Two-step verification was reset") {
		t.Fatalf("reset from /login: %d\n%s", got.Status, got.Body)
	}
	if cs := credentials(t, env, a.ID); len(cs) != 0 {
		t.Fatalf("%d credentials left", len(cs))
	}
}

func TestProofingPassword(t *testing.T) {
	env, _ := startProofing(t)
	a := addUser(t, env, "aino@example.fi", goodPassword)
	setIdentifier(t, env, a.Email, hetuAino)
	c := env.Browser(t)
	mustLogIn(t, env, c, a.Email, goodPassword)
	enrolTOTP(t, env, c)

	b := env.Browser(t)
	form := identify(t, env, b, "/proofing/password", nil)
	if form.Status != http.StatusOK || !strings.Contains(form.Body, `action="/proofing/password"`) {
		t.Fatalf("password form: %d\n%s", form.Status, form.Body)
	}
	bad := send(t, b, http.MethodPost, env.URL+"/proofing/password", url.Values{"account": {hiddenValue(t, form.Body, "account")}, "password": {"short"}, "password_confirm": {"short"}})
	if bad.Status != http.StatusUnprocessableEntity || !strings.Contains(bad.Body, `aria-invalid="true"`) {
		t.Fatalf("short password: %d\n%s", bad.Status, bad.Body)
	}
	// A tampered account ID is refused.
	other := addUser(t, env, "other@example.fi", goodPassword)
	tampered := send(t, b, http.MethodPost, env.URL+"/proofing/password", url.Values{"account": {other.ID}, "password": {otherPassword}, "password_confirm": {otherPassword}})
	if tampered.Status != http.StatusUnprocessableEntity {
		t.Fatalf("another person's account: %d", tampered.Status)
	}
	ok := send(t, b, http.MethodPost, env.URL+"/proofing/password", url.Values{"account": {a.ID}, "password": {otherPassword}, "password_confirm": {otherPassword}})
	if ok.Status != http.StatusOK || !strings.Contains(ok.Body, "Your password has been changed") {
		t.Fatalf("new password: %d\n%s", ok.Status, ok.Body)
	}
	env.Mail(t, a.Email, "password has been changed")
	// The second factor still applies.
	passwordStep(t, env, env.Browser(t), a.Email, otherPassword)
}

func TestProofingBind(t *testing.T) {
	env, _ := startProofing(t)
	staff := addUser(t, env, "aino@example.fi", goodPassword)
	student := addUser(t, env, "aino.virtanen@student.example.fi", goodPassword)
	setIdentifier(t, env, staff.Email, hetuAino)

	c := env.Browser(t)
	mustLogIn(t, env, c, student.Email, goodPassword)
	// Without a second factor binding is refused.
	if a := send(t, c, http.MethodGet, env.URL+"/proofing/bind", nil); a.Status != http.StatusForbidden {
		t.Fatalf("bind without a second factor: %d\n%s", a.Status, a.Body)
	}
	enrolTOTP(t, env, c)
	got := identify(t, env, c, "/proofing/bind", nil)
	if got.Status != http.StatusOK || !strings.Contains(got.Body, "Your identity is linked") {
		t.Fatalf("bind: %d at %s\n%s", got.Status, got.URL, got.Body)
	}
	b, err := env.App.Store.GetIdentity(context.Background(), student.ID)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := env.App.Store.GetIdentity(context.Background(), staff.ID)
	if b.Identity != s.Identity || strings.Contains(b.Identity, "010190") {
		t.Fatalf("bound identity %q, staff %q", b.Identity, s.Identity)
	}
	m := env.Mail(t, staff.Email, "identity was linked to another account")
	if !strings.Contains(m.Text, student.Email) {
		t.Fatalf("bound mail:\n%s", m.Text)
	}
	if !hasEvent(allEvents(t, env), proofing.EventBound, student.ID) {
		t.Fatal("no bound event")
	}
	// The account page says so instead of offering the link.
	if acc := send(t, c, http.MethodGet, env.URL+"/account", nil); !strings.Contains(acc.Body, "Your identity has been linked to this account since") || strings.Contains(acc.Body, `href="/proofing/bind"`) {
		t.Fatalf("account page after binding:\n%s", acc.Body)
	}
	// Once bound, again is refused.
	again := identify(t, env, c, "/proofing/bind", nil)
	if again.Status != http.StatusConflict {
		t.Fatalf("bind again: %d", again.Status)
	}
	_ = storage.ProofedIdentity{}
}

func TestProofingStateAndRateLimit(t *testing.T) {
	env, _ := startProofing(t)
	c := env.Browser(t)
	// A callback without this browser's flow: expired page, nothing else.
	a := send(t, c, http.MethodGet, env.URL+"/proofing/callback?code=x&state=y", nil)
	if a.Status != http.StatusGone {
		t.Fatalf("callback without a flow: %d\n%s", a.Status, a.Body)
	}
	// A start posted from another site is refused (cross-origin protection).
	cross := send(t, c, http.MethodPost, env.URL+"/proofing/start", url.Values{"purpose": {"username"}, "provider": {"testbank"}}, "Sec-Fetch-Site", "cross-site")
	if cross.Status != http.StatusForbidden {
		t.Fatalf("cross-site start: %d", cross.Status)
	}
	// An unknown provider or purpose is a bad request, not a crash.
	for _, f := range []url.Values{{"purpose": {"username"}, "provider": {"nope"}}, {"purpose": {"steal"}, "provider": {"testbank"}}} {
		if a := send(t, c, http.MethodPost, env.URL+"/proofing/start", f); a.Status != http.StatusBadRequest {
			t.Fatalf("start %v: %d", f, a.Status)
		}
	}
	// Starts are limited per client address.
	var last answer
	noFollow := env.Browser(t)
	noFollow.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	for range proofing.RateLimit + 1 {
		last = send(t, noFollow, http.MethodPost, env.URL+"/proofing/start", url.Values{"purpose": {"username"}, "provider": {"testbank"}})
	}
	if last.Status != http.StatusTooManyRequests {
		t.Fatalf("start %d: %d", proofing.RateLimit+1, last.Status)
	}
}

// TestProofingRefusesBadAnswers: an id_token that is not encrypted, and a
// person who cancels at the provider, change nothing and say so.
func TestProofingRefusesBadAnswers(t *testing.T) {
	env, idp := startProofing(t)
	a := addUser(t, env, "aino@example.fi", goodPassword)
	setIdentifier(t, env, a.Email, hetuAino)
	idp.SetPlainIDToken(true)
	got := identify(t, env, env.Browser(t), "/proofing/username", nil)
	if got.Status != http.StatusBadGateway || !strings.Contains(got.Body, "did not confirm your identity") || !strings.Contains(got.Body, "Reference code") {
		t.Fatalf("plain id_token: %d\n%s", got.Status, got.Body)
	}
	mustNotContain(t, got.Body, a.Email)
	if !strings.Contains(env.Logs(), "not encrypted") {
		t.Fatal("the log does not say why")
	}
	// The reference code on the page opens the audit event of the failure.
	ref := refOnPage(t, got.Body)
	found := false
	for _, e := range allEvents(t, env) {
		found = found || (e.Kind == proofing.EventFailed && e.Ref == ref && strings.Contains(e.Reason, "not encrypted"))
	}
	if !found {
		t.Fatalf("no proofing.failed event with reference code %s", ref)
	}
	idp.SetPlainIDToken(false)

	// A lower level of assurance than asked for is refused too.
	idp.SetACR("http://ftn.ficora.fi/2017/loa2")
	low := identify(t, env, env.Browser(t), "/proofing/username", nil)
	if low.Status != http.StatusBadGateway || strings.Contains(low.Body, a.Email) {
		t.Fatalf("loa2 answer: %d\n%s", low.Status, low.Body)
	}
	idp.SetACR("")

	// Cancelled at the provider's page.
	idp.SetAuto("")
	c := env.Browser(t)
	page := identify(t, env, c, "/proofing/username", nil)
	if !strings.Contains(page.Body, "Choose a test person") {
		t.Fatalf("provider login page: %d\n%s", page.Status, page.Body)
	}
	cancel := send(t, c, http.MethodPost, page.URL.Scheme+"://"+page.URL.Host+"/login", url.Values{"id": {hiddenValue(t, page.Body, "id")}, "cancel": {"1"}})
	if cancel.Status != http.StatusOK || !strings.Contains(cancel.Body, "You cancelled the identification") {
		t.Fatalf("cancelled: %d at %s\n%s", cancel.Status, cancel.URL, cancel.Body)
	}
	// In Finnish and Swedish too: the person's language.
	for lang, want := range map[string]string{"fi": "Tunnistautuminen peruttiin", "sv": "Identifieringen avbröts"} {
		b := env.Browser(t)
		send(t, b, http.MethodGet, env.URL+"/lang/"+lang, nil)
		page := identify(t, env, b, "/proofing/username", nil)
		got := send(t, b, http.MethodPost, page.URL.Scheme+"://"+page.URL.Host+"/login", url.Values{"id": {hiddenValue(t, page.Body, "id")}, "cancel": {"1"}})
		if !strings.Contains(got.Body, want) {
			t.Fatalf("%s: %d\n%s", lang, got.Status, got.Body)
		}
	}
}
