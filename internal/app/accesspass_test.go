package app_test

import (
	"context"
	"errors"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/portti/portti/internal/account"
	"github.com/portti/portti/internal/admin"
	"github.com/portti/portti/internal/app/apptest"
	"github.com/portti/portti/internal/authn/accesspass"
	"github.com/portti/portti/internal/authn/passkey/softkey"
	"github.com/portti/portti/internal/oidc"
	"github.com/portti/portti/internal/storage"
)

var passRE = regexp.MustCompile(`<p class="pass"><code lang="en">([0-9]{4}(?: [0-9]{4}){4})</code></p>`)

// issuePass gives accountID a temporary access pass from the console c
// and returns it as the page showed it.
func issuePass(t *testing.T, env *apptest.Env, c *http.Client, accountID string) string {
	t.Helper()
	a := send(t, c, http.MethodPost, env.URL+"/admin/people/"+accountID+"/action", url.Values{"action": {"temporary_access_pass"}, "reason": {"lost phone, identity checked on the phone"}})
	m := passRE.FindStringSubmatch(a.Body)
	if a.Status != http.StatusOK || m == nil {
		t.Fatalf("issuing a pass: %d at %s\n%s", a.Status, a.URL, a.Body)
	}
	if cc := a.Header.Get("Cache-Control"); !strings.Contains(cc, "no-store") {
		t.Errorf("the page with the pass may be cached: %q", cc)
	}
	mustContainText(t, a.Body, enText("admin.done.temporary_access_pass"), enText("tap.issued.read_out"))
	return m[1]
}

// typePass posts pass on the pass form of the second-step page.
func typePass(t *testing.T, env *apptest.Env, c *http.Client, secondStepPage answer, pass string) answer {
	t.Helper()
	challenge := hiddenValue(t, secondStepPage.Body, "challenge")
	form := send(t, c, http.MethodPost, env.URL+"/login/pass", url.Values{"challenge": {challenge}})
	if form.Status != http.StatusOK || !strings.Contains(form.Body, `name="pass"`) {
		t.Fatalf("pass form: %d\n%s", form.Status, form.Body)
	}
	return send(t, c, http.MethodPost, env.URL+"/login/pass", url.Values{"challenge": {challenge}, "pass": {pass}})
}

// notSignedIn asserts that browser c has no session any page or
// application accepts: /account and /admin ask for a sign-in, and an
// authorization request of a client that does not demand a second
// factor is sent to the sign-in page, not back with a code.
func notSignedIn(t *testing.T, env *apptest.Env, c *http.Client) {
	t.Helper()
	signedInAs(t, env, c, "")
	if a := send(t, c, http.MethodGet, env.URL+"/admin", nil); a.URL.Path != "/login" {
		t.Fatalf("/admin without a session: %d at %s", a.Status, a.URL)
	}
	stop := &http.Client{Jar: c.Jar, Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	q := url.Values{"response_type": {"code"}, "client_id": {"rp"}, "redirect_uri": {"https://rp.example.fi/cb"}, "scope": {"openid email"},
		"state": {"s1234567"}, "code_challenge": {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"}, "code_challenge_method": {"S256"}}
	resp, err := stop.Get(env.URL + "/oauth2/authorize?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode/100 != 3 || loc == nil || loc.Host != "" || loc.Path != "/login" {
		t.Fatalf("authorization without a session: %d to %q, want the sign-in page", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// TestAccessPass: the helpdesk gives a person who lost their
// authenticator a temporary access pass; after their password the
// person adds a new method with it, and only then signs in, with the new
// method. The pass never gives a session; it works once, for its own
// account, after the right password, before it expires; wrong passes
// count towards the lock; the owner hears of every step.
func TestAccessPass(t *testing.T) {
	env := apptest.Start(t, nil)
	ctx := context.Background()
	addUser(t, env, "tuki@example.fi", goodPassword)
	grant(t, env, "tuki@example.fi", storage.RoleHelpdesk)
	boss := addUser(t, env, "pomo@example.fi", goodPassword)
	grant(t, env, "pomo@example.fi", storage.RoleAdmin)
	maija := addUser(t, env, "maija@example.fi", goodPassword)
	eero := addUser(t, env, "eero@example.fi", goodPassword)
	for _, email := range []string{"maija@example.fi", "eero@example.fi"} {
		b := newBrowser(t)
		signIn(t, env, b, email, goodPassword, false)
		enrolTOTP(t, env, b) // the phone that will be lost
	}
	if _, _, err := oidc.RegisterClient(ctx, env.App.Store, oidc.ClientSpec{ID: "rp", RedirectURIs: []string{"https://rp.example.fi/cb"}}, env.Clock.Now()); err != nil {
		t.Fatal(err)
	}
	staff, _ := staffConsole(t, env, "tuki@example.fi")

	// The rules of every action: not on one's own account, the helpdesk
	// not on an admin's; a reason is required.
	tuki, _ := env.App.Accounts.Find(ctx, "tuki@example.fi")
	helpdesk := admin.Actor{AccountID: tuki.ID, Name: "tuki@example.fi"}
	for _, c := range []struct {
		id, reason string
		want       error
	}{{tuki.ID, "x", admin.ErrSelf}, {boss.ID, "x", admin.ErrProtected}, {maija.ID, " ", admin.ErrReasonRequired}} {
		if _, err := env.App.Admin.Act(ctx, helpdesk, c.id, admin.ActAccessPass, c.reason, account.Meta{}); !errors.Is(err, c.want) {
			t.Errorf("pass for %s (%q): %v, want %v", c.id, c.reason, err, c.want)
		}
	}

	pass := issuePass(t, env, staff, maija.ID)
	if e := lastEvent(t, env, maija.ID, "helpdesk.temporary_access_pass"); e.Reason != "by tuki@example.fi: lost phone, identity checked on the phone" || strings.Contains(e.Reason, pass) {
		t.Fatalf("audited as %+v", e)
	}
	env.Mail(t, "maija@example.fi", "You were given a temporary access pass")
	eeroPass := issuePass(t, env, staff, eero.ID)

	// Without the right password first there is no way in.
	b := newBrowser(t)
	if a := send(t, b, http.MethodPost, env.URL+"/login/pass", url.Values{"challenge": {"x"}, "pass": {pass}}); a.Status != http.StatusGone {
		t.Fatalf("a pass without a sign-in: %d\n%s", a.Status, a.Body)
	}
	if a := send(t, b, http.MethodPost, env.URL+"/login", url.Values{"email": {"maija@example.fi"}, "password": {"wrong password here"}}); strings.Contains(a.Body, `action="/login/pass"`) {
		t.Fatal("the pass is offered after a wrong password")
	}

	page := passwordStep(t, env, b, "maija@example.fi", goodPassword)
	mustContainText(t, page.Body, enText("tap.link"))
	// Another account's pass, and a malformed one, are refused.
	a := typePass(t, env, b, page, eeroPass)
	if a.Status != http.StatusUnauthorized || fieldError(a.Body, "pass") != enText("tap.pass.wrong") {
		t.Fatalf("another account's pass: %d\n%s", a.Status, a.Body)
	}
	if e := lastEvent(t, env, maija.ID, "mfa.failure"); e.Reason != "wrong_access_pass" {
		t.Fatalf("wrong pass audited as %+v", e)
	}
	if a = typePass(t, env, b, page, "1234"); a.Status != http.StatusUnprocessableEntity {
		t.Fatalf("malformed pass: %d", a.Status)
	}

	// The right pass: a page to choose the method, and no session.
	a = typePass(t, env, b, page, strings.ReplaceAll(pass, " ", "-"))
	if a.Status != http.StatusOK || !strings.Contains(a.Body, `action="/login/pass/enrol/totp"`) {
		t.Fatalf("right pass: %d\n%s", a.Status, a.Body)
	}
	mustContainText(t, a.Body, enText("tap.choose.title"))
	grantValue := hiddenValue(t, a.Body, "grant")
	env.Mail(t, "maija@example.fi", "Your temporary access pass was used")
	lastEvent(t, env, maija.ID, accesspass.EventUsed)
	notSignedIn(t, env, b)

	// The pass is spent: a new sign-in cannot use it again.
	page2 := passwordStep(t, env, newBrowser(t), "maija@example.fi", goodPassword)
	if a := typePass(t, env, b, page2, pass); a.Status != http.StatusUnauthorized {
		t.Fatalf("a pass used twice: %d", a.Status)
	}

	// Enrolment with the grant, still without a session.
	en := send(t, b, http.MethodPost, env.URL+"/login/pass/enrol/totp", url.Values{"grant": {grantValue}})
	m := secretRE.FindStringSubmatch(en.Body)
	if en.Status != http.StatusOK || m == nil || !strings.Contains(en.Body, `action="/login/pass/enrol/totp"`) {
		t.Fatalf("enrolment page: %d\n%s", en.Status, en.Body)
	}
	notSignedIn(t, env, b)
	secret := strings.ReplaceAll(m[1], " ", "")
	env.Clock.Advance(31 * time.Second)
	f := url.Values{"grant": {grantValue}, "pending": {hiddenValue(t, en.Body, "pending")}, "code": {"000000"}}
	if a := send(t, b, http.MethodPost, env.URL+"/login/pass/enrol/totp", f); a.Status != http.StatusUnprocessableEntity {
		t.Fatalf("wrong enrolment code: %d\n%s", a.Status, a.Body)
	}
	f.Set("code", totpCode(t, env, secret))
	done := send(t, b, http.MethodPost, env.URL+"/login/pass/enrol/totp", f)
	if done.URL.Path != "/login" || done.URL.Query().Get("notice") != "tap_enrolled" {
		t.Fatalf("after enrolling: %d at %s\n%s", done.Status, done.URL, done.Body)
	}
	mustContainText(t, done.Body, enText("notice.tap_enrolled"))
	env.Mail(t, "maija@example.fi", "A sign-in method was added")
	if e := lastEvent(t, env, maija.ID, "mfa.added"); e.Reason != "totp (access_pass)" {
		t.Fatalf("mfa.added %+v", e)
	}
	notSignedIn(t, env, b)
	// The grant is spent: a replayed post adds nothing.
	if a := send(t, b, http.MethodPost, env.URL+"/login/pass/enrol/totp", f); a.Status != http.StatusGone {
		t.Fatalf("grant used twice: %d", a.Status)
	}
	if a := send(t, b, http.MethodPost, env.URL+"/login/pass/enrol/webauthn", url.Values{"grant": {grantValue}}); a.Status != http.StatusGone {
		t.Fatalf("grant reused for another method: %d", a.Status)
	}
	if n := len(credentials(t, env, maija.ID)); n != 3 { // the old app, its recovery codes, the new app
		t.Fatalf("%d credentials", n)
	}

	// Now the person signs in with the new method: the full session.
	env.Clock.Advance(31 * time.Second)
	page = passwordStep(t, env, b, "maija@example.fi", goodPassword)
	if a := secondStep(t, env, b, page, totpCode(t, env, secret)); a.URL.Path != "/account" {
		t.Fatalf("sign-in with the new method: %d at %s", a.Status, a.URL)
	}

	// An expired pass is refused.
	env.Clock.Advance(8*time.Hour + time.Minute)
	page = passwordStep(t, env, newBrowser(t), "eero@example.fi", goodPassword)
	if a := typePass(t, env, b, page, eeroPass); a.Status != http.StatusUnauthorized {
		t.Fatalf("expired pass: %d", a.Status)
	}

	// Wrong passes lock the account like wrong codes; then even the right
	// pass is refused.
	// (The console has timed out by now: the API's operation.)
	out, err := env.App.Admin.Act(ctx, helpdesk, eero.ID, admin.ActAccessPass, "still no phone", account.Meta{})
	if err != nil {
		t.Fatal(err)
	}
	eeroPass = out.AccessPass
	c := newBrowser(t)
	locked := false
	for i := 0; i < 10 && !locked; i++ {
		page = passwordStep(t, env, c, "eero@example.fi", goodPassword)
		a := typePass(t, env, c, page, "0000 0000 0000 0000 0000")
		locked = a.Status == http.StatusForbidden
	}
	if !locked {
		t.Fatal("wrong passes never locked the account")
	}
	if a := send(t, c, http.MethodPost, env.URL+"/login", url.Values{"email": {"eero@example.fi"}, "password": {goodPassword}}); a.Status == http.StatusOK && strings.Contains(a.Body, `action="/login/pass"`) {
		ch := hiddenValue(t, a.Body, "challenge")
		if r := send(t, c, http.MethodPost, env.URL+"/login/pass", url.Values{"challenge": {ch}, "pass": {eeroPass}}); r.Status != http.StatusForbidden {
			t.Fatalf("right pass on a locked account: %d", r.Status)
		}
	}
}

// TestAccessPassPasskey: the grant opens the passkey enrolment too (the
// same page as /account/mfa, posting to the pass's path), and adding a
// passkey with it gives no session either.
func TestAccessPassPasskey(t *testing.T) {
	env := apptest.Start(t, map[string]string{"PORTTI_PUBLIC_URL": apptest.Localhost})
	ctx := context.Background()
	addUser(t, env, "tuki@example.fi", goodPassword)
	grant(t, env, "tuki@example.fi", storage.RoleHelpdesk)
	tuki, _ := env.App.Accounts.Find(ctx, "tuki@example.fi")
	aino := addUser(t, env, "aino@example.fi", goodPassword)
	setup := newBrowser(t)
	signIn(t, env, setup, "aino@example.fi", goodPassword, false)
	enrolTOTP(t, env, setup)
	if _, _, err := oidc.RegisterClient(ctx, env.App.Store, oidc.ClientSpec{ID: "rp", RedirectURIs: []string{"https://rp.example.fi/cb"}}, env.Clock.Now()); err != nil {
		t.Fatal(err)
	}
	out, err := env.App.Admin.Act(ctx, admin.Actor{AccountID: tuki.ID, Name: "tuki@example.fi"}, aino.ID, admin.ActAccessPass, "lost phone", account.Meta{})
	if err != nil {
		t.Fatal(err)
	}

	b := newBrowser(t)
	page := passwordStep(t, env, b, "aino@example.fi", goodPassword)
	choose := typePass(t, env, b, page, out.AccessPass)
	if !strings.Contains(choose.Body, `action="/login/pass/enrol/webauthn"`) {
		t.Fatalf("no passkey offered:\n%s", choose.Body)
	}
	g := hiddenValue(t, choose.Body, "grant")
	en := send(t, b, http.MethodPost, env.URL+"/login/pass/enrol/webauthn", url.Values{"grant": {g}})
	m := optionsRE.FindStringSubmatch(en.Body)
	if en.Status != http.StatusOK || m == nil || !strings.Contains(en.Body, `action="/login/pass/enrol/webauthn"`) {
		t.Fatalf("passkey enrolment page: %d\n%s", en.Status, en.Body)
	}
	key, err := softkey.New(env.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := key.Register([]byte(html.UnescapeString(m[1])))
	if err != nil {
		t.Fatal(err)
	}
	done := send(t, b, http.MethodPost, env.URL+"/login/pass/enrol/webauthn", url.Values{
		"grant": {g}, "pending": {hiddenValue(t, en.Body, "pending")}, "response": {string(resp)}, "name": {"Läppäri"},
	})
	if done.URL.Path != "/login" || done.URL.Query().Get("notice") != "tap_enrolled" {
		t.Fatalf("after adding the passkey: %d at %s\n%s", done.Status, done.URL, done.Body)
	}
	if c := passkeyOf(t, env, aino.ID); c.Name != "Läppäri" {
		t.Fatalf("passkey %+v", c)
	}
	notSignedIn(t, env, b)
}
