package app_test

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/portti/portti/internal/app/apptest"
	"github.com/portti/portti/internal/authn"
	"github.com/portti/portti/internal/storage"
)

var (
	secretRE = regexp.MustCompile(`<code class="secret" lang="en">([A-Z2-7 ]+)</code>`)
	codesRE  = regexp.MustCompile(`<li><code>([A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{5})</code></li>`)
)

// totpCode is what an authenticator app shows for secret at the env's time.
func totpCode(t testing.TB, env *apptest.Env, secret string) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(secret, env.Clock.Now(), totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// enrolTOTP adds an authenticator app for the account signed in in c and
// returns its secret and the recovery codes shown, if any.
func enrolTOTP(t testing.TB, env *apptest.Env, c *http.Client) (string, []string) {
	t.Helper()
	page := send(t, c, http.MethodGet, env.URL+"/account/mfa/totp/new", nil)
	if page.Status != http.StatusOK {
		t.Fatalf("enrolment page: %d at %s\n%s", page.Status, page.URL, page.Body)
	}
	m := secretRE.FindStringSubmatch(page.Body)
	if m == nil {
		t.Fatalf("no secret on the enrolment page:\n%s", page.Body)
	}
	secret := strings.ReplaceAll(m[1], " ", "")
	if !strings.Contains(html.UnescapeString(page.Body), "otpauth://totp/") || !strings.Contains(page.Body, `src="data:image/png;base64,`) {
		t.Fatalf("enrolment page lacks the otpauth URI or the QR code:\n%s", page.Body)
	}
	f := url.Values{"pending": {hiddenValue(t, page.Body, "pending")}, "account_id": {hiddenValue(t, page.Body, "account_id")}, "code": {totpCode(t, env, secret)}, "name": {"work phone"}}
	done := send(t, c, http.MethodPost, env.URL+"/account/mfa/totp/new", f)
	if done.Status != http.StatusOK {
		t.Fatalf("confirm enrolment: %d at %s\n%s", done.Status, done.URL, done.Body)
	}
	var codes []string
	for _, m := range codesRE.FindAllStringSubmatch(done.Body, -1) {
		codes = append(codes, m[1])
	}
	return secret, codes
}

// passwordStep posts the password and expects the second step's page; it
// returns the page.
func passwordStep(t testing.TB, env *apptest.Env, c *http.Client, email, pw string, extra ...string) answer {
	t.Helper()
	f := url.Values{"email": {email}, "password": {pw}}
	for i := 0; i+1 < len(extra); i += 2 {
		f.Set(extra[i], extra[i+1])
	}
	a := send(t, c, http.MethodPost, env.URL+"/login", f)
	if a.Status != http.StatusOK || !strings.Contains(a.Body, `name="code"`) || !strings.Contains(a.Body, `action="/login/mfa"`) {
		t.Fatalf("password step for %s: %d at %s, want the second step\n%s", email, a.Status, a.URL, a.Body)
	}
	return a
}

// secondStep posts a code on the second step's page.
func secondStep(t testing.TB, env *apptest.Env, c *http.Client, page answer, code string) answer {
	t.Helper()
	f := url.Values{"challenge": {hiddenValue(t, page.Body, "challenge")}, "code": {code}}
	if strings.Contains(page.Body, `name="return"`) {
		f.Set("return", hiddenValue(t, page.Body, "return"))
	}
	return send(t, c, http.MethodPost, env.URL+"/login/mfa", f)
}

func credentials(t testing.TB, env *apptest.Env, accountID string) []storage.Credential {
	t.Helper()
	cs, err := env.App.Store.ListCredentials(context.Background(), accountID)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

func TestMFAEnrolAndSignIn(t *testing.T) {
	env := apptest.Start(t, nil)
	a := addUser(t, env, "aino@example.fi", goodPassword)
	c := newBrowser(t)
	signIn(t, env, c, "aino@example.fi", goodPassword, false)
	mfa := send(t, c, http.MethodGet, env.URL+"/account/mfa", nil)
	mustContainText(t, mfa.Body, enText("mfa.none"))

	secret, codes := enrolTOTP(t, env, c)
	if len(codes) != 10 {
		t.Fatalf("%d recovery codes shown after the first method, want 10", len(codes))
	}
	seen := map[string]bool{}
	for _, code := range codes {
		if seen[code] {
			t.Fatalf("recovery code %s shown twice", code)
		}
		seen[code] = true
	}
	cs := credentials(t, env, a.ID)
	if len(cs) != 2 {
		t.Fatalf("stored credentials: %+v, want a TOTP and a recovery set", cs)
	}
	for _, cr := range cs {
		if strings.Contains(string(cr.Secret), secret) {
			t.Fatal("the TOTP secret is stored in the clear")
		}
		for _, code := range codes {
			if strings.Contains(string(cr.Secret), strings.ReplaceAll(code, "-", "")) {
				t.Fatal("a recovery code is stored in the clear")
			}
		}
	}
	env.Mail(t, "aino@example.fi", "A sign-in method was added")
	// The session proved the new factor by enrolling: it counts as fresh.
	se := liveSessions(t, env, a.ID)[0]
	if got := env.App.MFA.Registry().AMR(se.Factors); !strings.Contains(strings.Join(got, " "), "otp") {
		t.Errorf("session factors after enrolment: %v", got)
	}

	mustLogOut(t, env, c)
	c = newBrowser(t)
	page := passwordStep(t, env, c, "aino@example.fi", goodPassword)
	if n := len(liveSessions(t, env, a.ID)); n != 0 {
		t.Fatalf("%d sessions after the password alone, want none", n)
	}
	mustContainText(t, page.Body, enText("mfa.login.intro"), "work phone")

	// Bad input: each a clear answer, nothing changed.
	for _, tc := range []struct {
		code   string
		status int
		key    string
	}{
		{"", http.StatusUnprocessableEntity, "field.required"},
		{"12ab", http.StatusUnprocessableEntity, "mfa.code.malformed"},
		{strings.Repeat("1", 5000), http.StatusUnprocessableEntity, "mfa.code.malformed"},
		{"<script>alert(1)</script>", http.StatusUnprocessableEntity, "mfa.code.malformed"},
		{"000000", http.StatusUnauthorized, "mfa.code.wrong"},
	} {
		got := secondStep(t, env, c, page, tc.code)
		if got.Status != tc.status {
			t.Errorf("code %.20q: %d, want %d\n%s", tc.code, got.Status, tc.status, got.Body)
		}
		mustContainText(t, got.Body, enText(tc.key))
		if n := len(liveSessions(t, env, a.ID)); n != 0 {
			t.Fatalf("code %.20q started a session", tc.code)
		}
	}

	// The code used to enrol was of this step: a replay is refused.
	got := secondStep(t, env, c, page, totpCode(t, env, secret))
	if got.Status != http.StatusUnauthorized {
		t.Fatalf("the enrolment's own code again: %d\n%s", got.Status, got.Body)
	}
	mustContainText(t, got.Body, enText("mfa.code.replayed"))

	env.Clock.Advance(30 * time.Second)
	code := totpCode(t, env, secret)
	got = secondStep(t, env, c, page, code[:3]+" "+code[3:])
	if got.Status != http.StatusOK || got.URL.Path != "/account" {
		t.Fatalf("right code: %d at %s\n%s", got.Status, got.URL, got.Body)
	}
	ses := liveSessions(t, env, a.ID)
	if len(ses) != 1 {
		t.Fatalf("%d sessions, want 1", len(ses))
	}
	if amr := env.App.MFA.Registry().AMR(ses[0].Factors); strings.Join(amr, " ") != "pwd otp mfa" {
		t.Errorf("amr of the session = %v, want pwd otp mfa", amr)
	}

	// The same code in another browser a moment later: replayed.
	other := newBrowser(t)
	page2 := passwordStep(t, env, other, "aino@example.fi", goodPassword)
	got = secondStep(t, env, other, page2, code)
	if got.Status != http.StatusUnauthorized {
		t.Fatalf("a used code in another browser: %d\n%s", got.Status, got.Body)
	}
	// The neighbouring step (a phone clock 30 s behind) is accepted.
	env.Clock.Advance(60 * time.Second)
	behind, _ := totp.GenerateCodeCustom(secret, env.Clock.Now().Add(-30*time.Second), totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	got = secondStep(t, env, other, page2, behind)
	if got.URL.Path != "/account" {
		t.Fatalf("the previous step's code (a phone 30 s behind): %d at %s\n%s", got.Status, got.URL, got.Body)
	}
	// Two steps behind is too far.
	mustLogOut(t, env, other)
	page3 := passwordStep(t, env, other, "aino@example.fi", goodPassword)
	env.Clock.Advance(30 * time.Second)
	far, _ := totp.GenerateCodeCustom(secret, env.Clock.Now().Add(-90*time.Second), totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if got := secondStep(t, env, other, page3, far); got.Status != http.StatusUnauthorized {
		t.Fatalf("a code three steps old: %d", got.Status)
	}
}

func TestMFARecoveryCodes(t *testing.T) {
	env := apptest.Start(t, nil)
	a := addUser(t, env, "aino@example.fi", goodPassword)
	c := newBrowser(t)
	signIn(t, env, c, "aino@example.fi", goodPassword, false)
	_, codes := enrolTOTP(t, env, c)

	// Download and print need no script: a form post each.
	dl := send(t, c, http.MethodPost, env.URL+"/account/mfa/recovery/download", url.Values{"account_id": {a.ID}, "codes": codes})
	if dl.Status != http.StatusOK || !strings.HasPrefix(dl.Header.Get("Content-Type"), "text/plain") ||
		!strings.Contains(dl.Header.Get("Content-Disposition"), "attachment") || !strings.Contains(dl.Body, codes[9]) {
		t.Fatalf("download: %d %v\n%s", dl.Status, dl.Header, dl.Body)
	}
	pr := send(t, c, http.MethodPost, env.URL+"/account/mfa/recovery/print", url.Values{"account_id": {a.ID}, "codes": codes})
	if pr.Status != http.StatusOK || !strings.Contains(pr.Body, codes[0]) {
		t.Fatalf("print: %d\n%s", pr.Status, pr.Body)
	}
	if junk := send(t, c, http.MethodPost, env.URL+"/account/mfa/recovery/download", url.Values{"account_id": {a.ID}, "codes": {"<b>x</b>", strings.Repeat("A", 100)}}); strings.Contains(junk.Body, "<b>") {
		t.Fatal("download echoed junk")
	}
	mustLogOut(t, env, c)

	// A recovery code typed in lower case with spaces works, once.
	c = newBrowser(t)
	page := passwordStep(t, env, c, "aino@example.fi", goodPassword)
	typed := strings.ToLower(strings.ReplaceAll(codes[0], "-", " "))
	got := secondStep(t, env, c, page, typed)
	if got.Status != http.StatusOK || got.URL.Path != "/account" {
		t.Fatalf("recovery code: %d at %s\n%s", got.Status, got.URL, got.Body)
	}
	mustContainText(t, got.Body, enText("mfa.recovery.left", "N", 9))
	env.Mail(t, "aino@example.fi", "A recovery code was used")
	mustLogOut(t, env, c)
	c = newBrowser(t)
	page = passwordStep(t, env, c, "aino@example.fi", goodPassword)
	if got := secondStep(t, env, c, page, codes[0]); got.Status != http.StatusUnauthorized {
		t.Fatalf("a used recovery code again: %d", got.Status)
	}

	// Spend down to three: the account page warns.
	for _, code := range codes[1:7] {
		page = passwordStep(t, env, c, "aino@example.fi", goodPassword)
		if got := secondStep(t, env, c, page, code); got.URL.Path != "/account" {
			t.Fatalf("recovery code %s: %d at %s", code, got.Status, got.URL)
		}
	}
	acct := send(t, c, http.MethodGet, env.URL+"/account", nil)
	mustContainText(t, acct.Body, enText("mfa.recovery.few_left", "N", 3))

	// New codes: the old set dies.
	fresh := send(t, c, http.MethodPost, env.URL+"/account/mfa/recovery", url.Values{"account_id": {a.ID}})
	var newCodes []string
	for _, m := range codesRE.FindAllStringSubmatch(fresh.Body, -1) {
		newCodes = append(newCodes, m[1])
	}
	if fresh.Status != http.StatusOK || len(newCodes) != 10 {
		t.Fatalf("regenerate: %d, %d codes\n%s", fresh.Status, len(newCodes), fresh.Body)
	}
	env.Mail(t, "aino@example.fi", "New recovery codes were made")
	mustLogOut(t, env, c)
	page = passwordStep(t, env, c, "aino@example.fi", goodPassword)
	if got := secondStep(t, env, c, page, codes[8]); got.Status != http.StatusUnauthorized {
		t.Fatalf("an old-set code after regeneration: %d", got.Status)
	}
	if got := secondStep(t, env, c, page, newCodes[0]); got.URL.Path != "/account" {
		t.Fatalf("a new code: %d at %s", got.Status, got.URL)
	}
}

// TestMFAWrongCodesLock: wrong codes count like wrong passwords — a
// stranger's browser locks the account; the owner's own browser locks
// only itself.
func TestMFAWrongCodesLock(t *testing.T) {
	env := apptest.Start(t, nil)
	a := addUser(t, env, "aino@example.fi", goodPassword)
	owner := newBrowser(t)
	signIn(t, env, owner, "aino@example.fi", goodPassword, false)
	secret, _ := enrolTOTP(t, env, owner)

	stranger := newBrowser(t)
	page := passwordStep(t, env, stranger, "aino@example.fi", goodPassword)
	var got answer
	for i := range 5 {
		got = secondStep(t, env, stranger, page, "00000"+string(rune('0'+i)))
	}
	if got.Status != http.StatusForbidden {
		t.Fatalf("fifth wrong code: %d, want the locked page\n%s", got.Status, got.Body)
	}
	if acc := storedAccount(t, env, "aino@example.fi"); !acc.LockedUntil.After(env.Clock.Now()) {
		t.Fatal("the account is not locked after five wrong codes from a stranger's browser")
	}
	// The owner hears that codes, not only passwords, were wrong, and
	// that someone knows the password.
	if m := env.Mail(t, "aino@example.fi", "Your account is temporarily locked – portti"); !strings.Contains(m.Text, "wrong passwords or sign-in codes") || !strings.Contains(m.Text, "someone knows your password") {
		t.Errorf("lock mail after wrong codes:\n%s", m.Text)
	}
	env.Clock.Advance(30 * time.Second)
	if got := secondStep(t, env, stranger, page, totpCode(t, env, secret)); got.Status != http.StatusForbidden {
		t.Fatalf("the right code during the lock: %d", got.Status)
	}
	// The owner's browser is not locked by the stranger.
	mustLogOut(t, env, owner)
	page = passwordStep(t, env, owner, "aino@example.fi", goodPassword)
	if got := secondStep(t, env, owner, page, totpCode(t, env, secret)); got.URL.Path != "/account" {
		t.Fatalf("owner's browser during the stranger's lock: %d at %s\n%s", got.Status, got.URL, got.Body)
	}
	_ = a
}

// TestMFANoBypass: a password reset, and the password alone, never start
// a session for an account with a second factor.
func TestMFANoBypass(t *testing.T) {
	env := apptest.Start(t, nil)
	a := addUser(t, env, "aino@example.fi", goodPassword)
	c := newBrowser(t)
	signIn(t, env, c, "aino@example.fi", goodPassword, false)
	secret, _ := enrolTOTP(t, env, c)
	mustLogOut(t, env, c)

	c = newBrowser(t)
	resetPassword(t, env, c, "aino@example.fi", otherPassword)
	if n := len(liveSessions(t, env, a.ID)); n != 0 {
		t.Fatalf("%d sessions after a password reset", n)
	}
	signedInAs(t, env, c, "")
	page := passwordStep(t, env, c, "aino@example.fi", otherPassword, "remember_me", "yes")
	// The second step is single-use: a second tab finishing an older
	// challenge, after a newer sign-in began, is told to start again.
	newer := passwordStep(t, env, c, "aino@example.fi", otherPassword)
	env.Clock.Advance(30 * time.Second)
	old := secondStep(t, env, c, page, totpCode(t, env, secret))
	if old.Status != http.StatusGone {
		t.Fatalf("an older challenge: %d\n%s", old.Status, old.Body)
	}
	mustContainText(t, old.Body, enText("mfa.login.gone"))
	if got := secondStep(t, env, c, newer, totpCode(t, env, secret)); got.URL.Path != "/account" {
		t.Fatalf("the newer challenge: %d at %s\n%s", got.Status, got.URL, got.Body)
	}
	if again := secondStep(t, env, c, newer, totpCode(t, env, secret)); again.Status != http.StatusGone {
		t.Fatalf("a finished challenge again: %d", again.Status)
	}
	// The challenge expires.
	c2 := newBrowser(t)
	page = passwordStep(t, env, c2, "aino@example.fi", otherPassword)
	env.Clock.Advance(11 * time.Minute)
	if got := secondStep(t, env, c2, page, totpCode(t, env, secret)); got.Status != http.StatusGone {
		t.Fatalf("an expired challenge: %d", got.Status)
	}
}

// TestMFAChangesNeedFreshSignIn: adding or removing a method long after
// the sign-in asks for the sign-in again; removing the last method takes
// the recovery codes with it.
func TestMFAChangesNeedFreshSignIn(t *testing.T) {
	env := apptest.Start(t, nil)
	a := addUser(t, env, "aino@example.fi", goodPassword)
	c := newBrowser(t)
	signIn(t, env, c, "aino@example.fi", goodPassword, false)
	secret, _ := enrolTOTP(t, env, c)

	// Confirming the same enrolment twice adds one method.
	page := send(t, c, http.MethodGet, env.URL+"/account/mfa/totp/new", nil)
	s2 := strings.ReplaceAll(secretRE.FindStringSubmatch(page.Body)[1], " ", "")
	f := url.Values{"pending": {hiddenValue(t, page.Body, "pending")}, "account_id": {a.ID}, "code": {totpCode(t, env, s2)}}
	first := send(t, c, http.MethodPost, env.URL+"/account/mfa/totp/new", f)
	second := send(t, c, http.MethodPost, env.URL+"/account/mfa/totp/new", f)
	if first.Status != http.StatusOK || second.URL.Path != "/account/mfa" {
		t.Fatalf("confirm twice: %d, then %d at %s", first.Status, second.Status, second.URL)
	}
	mustContainText(t, second.Body, enText("notice.mfa_already_added"))
	if n := len(credentials(t, env, a.ID)); n != 3 {
		t.Fatalf("%d credentials after confirming one enrolment twice, want 3", n)
	}
	// A tampered enrolment state is refused.
	f.Set("pending", f.Get("pending")[:20]+"AAAA"+f.Get("pending")[24:])
	if got := send(t, c, http.MethodPost, env.URL+"/account/mfa/totp/new", f); got.Status != http.StatusGone {
		t.Fatalf("tampered enrolment state: %d", got.Status)
	}

	env.Clock.Advance(10 * time.Minute)
	stale := send(t, c, http.MethodGet, env.URL+"/account/mfa/totp/new", nil)
	if stale.URL.Path != "/login" || stale.URL.Query().Get("notice") != "mfa_reauth" {
		t.Fatalf("enrolment 10 minutes after signing in: at %s, want the login page", stale.URL)
	}
	var ids []string
	for _, cr := range credentials(t, env, a.ID) {
		if cr.Kind == "totp" {
			ids = append(ids, cr.ID)
		}
	}
	if got := send(t, c, http.MethodPost, env.URL+"/account/mfa/remove", url.Values{"account_id": {a.ID}, "id": {ids[0]}}); got.URL.Path != "/login" {
		t.Fatalf("removal 10 minutes after signing in: at %s", got.URL)
	}
	if n := len(credentials(t, env, a.ID)); n != 3 {
		t.Fatal("a stale session removed a method")
	}

	// Sign in again (password + code): now removal works, and the last
	// method takes the recovery codes with it.
	page = passwordStep(t, env, c, "aino@example.fi", goodPassword)
	if got := secondStep(t, env, c, page, totpCode(t, env, secret)); got.URL.Path != "/account" {
		t.Fatalf("sign in again: %d at %s\n%s", got.Status, got.URL, got.Body)
	}
	for _, id := range ids {
		if got := send(t, c, http.MethodPost, env.URL+"/account/mfa/remove", url.Values{"account_id": {a.ID}, "id": {id}}); got.URL.Path != "/account/mfa" {
			t.Fatalf("remove: %d at %s", got.Status, got.URL)
		}
	}
	if cs := credentials(t, env, a.ID); len(cs) != 0 {
		t.Fatalf("after removing the last method: %+v", cs)
	}
	env.Mail(t, "aino@example.fi", "A sign-in method was removed")
	mustLogOut(t, env, c)
	signIn(t, env, c, "aino@example.fi", goodPassword, false)
}

var _ = authn.ACRMFA

// TestMFAPolicyRequired: when the policy requires a second factor for an
// address, the sign-in guides the setup; an optional domain is not asked.
func TestMFAPolicyRequired(t *testing.T) {
	env := apptest.Start(t, map[string]string{"PORTTI_MFA_POLICY": "required", "PORTTI_MFA_OPTIONAL_DOMAINS": "*@external.example.fi"})
	addUser(t, env, "aino@example.fi", goodPassword)
	addUser(t, env, "guest@external.example.fi", goodPassword)
	c := newBrowser(t)
	got := send(t, c, http.MethodPost, env.URL+"/login", url.Values{"email": {"aino@example.fi"}, "password": {goodPassword}})
	if got.URL.Path != "/account/mfa" || got.URL.Query().Get("return") != "/account" {
		t.Fatalf("sign-in under a required policy ended at %s", got.URL)
	}
	mustContainText(t, got.Body, enText("notice.mfa_required"), enText("mfa.setup_first"))
	_, codes := enrolTOTP(t, env, c)
	if len(codes) != 10 {
		t.Fatal("no recovery codes after the guided setup")
	}
	g := newBrowser(t)
	signIn(t, env, g, "guest@external.example.fi", goodPassword, false)
}
