package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2/clientcredentials"

	"github.com/portti/portti/internal/app/apptest"
	"github.com/portti/portti/internal/mail/smtptest"
	"github.com/portti/portti/internal/oidc"
	"github.com/portti/portti/internal/storage"
)

// activationConfig: a university whose students come from the registry,
// with a registry client, the registry delay text, username formats and a
// second factor required of students.
const activationConfig = `
provision:
  user_types: [student=*@student.example.fi, staff=*@example.fi]
  registry_only: ["*@student.example.fi"]
  registry_delay_text:
    fi: Opiskelijan tili luodaan yleensä seuraavana arkipäivänä ilmoittautumisen jälkeen.
    sv: En studerandes konto skapas vanligen följande vardag efter anmälan.
    en: A student's account is usually created on the next working day after enrolment.
  username_formats:
    - type: staff
      domain: example.fi
      format: {fi: etunimi.sukunimi@example.fi, sv: förnamn.efternamn@example.fi, en: firstname.lastname@example.fi}
    - type: student
      domain: student.example.fi
      format: {fi: käyttäjätunnus@student.example.fi, sv: användarnamn@student.example.fi, en: username@student.example.fi}
mfa:
  required_types: [student]
clients:
  - id: registry
    grants: [client_credentials]
    secret_env: REGISTRY_SECRET
    scopes: [scim]
`

// scimCreate creates a user through /scim/v2 as the registry does.
func scimCreate(t *testing.T, env *apptest.Env, body string) map[string]any {
	t.Helper()
	return scimDo(t, env, "POST", "/Users", body, http.StatusCreated)
}

// scimDo sends a SCIM request as the registry client.
func scimDo(t *testing.T, env *apptest.Env, method, path, body string, want int) map[string]any {
	t.Helper()
	cc := clientcredentials.Config{ClientID: "registry", ClientSecret: registrySecret, TokenURL: env.URL + oidc.PathToken}
	tok, err := cc.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(method, env.URL+"/scim/v2"+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/scim+json")
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(res.Body).Decode(&out)
	if res.StatusCode != want {
		t.Fatalf("SCIM %s %s: %d %v", method, path, res.StatusCode, out)
	}
	return out
}

func scimUser(email, extra string) string {
	return `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:portti:params:scim:schemas:extension:portti:2.0:User"],
		"userName":"` + email + `","name":{"givenName":"Maija","familyName":"Meikäläinen"}` + extra + `}`
}

// TestActivationWaitlistToInvitation walks the seed's "not entitled"
// case: a student asks before the registry has sent their data and is
// told so by e-mail, with the organisation's text; the registry then
// creates the account, the waiting address gets its invitation, the
// student sets the first password and the sign-in guides the second
// factor the policy requires.
func TestActivationWaitlistToInvitation(t *testing.T) {
	env := apptest.StartWithFile(t, activationConfig, map[string]string{"REGISTRY_SECRET": registrySecret})
	c := newBrowser(t)
	const email = "maija@student.example.fi"

	got := send(t, c, http.MethodGet, env.URL+"/activation", nil)
	if got.Status != http.StatusOK {
		t.Fatalf("activation page: %d", got.Status)
	}
	mustContainText(t, got.Body, enText("loginhelp.activation.intro"), "A student's account is usually created on the next working day")

	got = send(t, c, http.MethodPost, env.URL+"/activation", url.Values{"email": {"Maija@Student.example.fi "}})
	if got.Status != http.StatusOK {
		t.Fatalf("activation request: %d\n%s", got.Status, got.Body)
	}
	mustContainText(t, got.Body, enText("loginhelp.activation.sent.title"))
	m := env.Mail(t, email, "does not exist yet")
	for _, want := range []string{"has not sent your data yet", "A student's account is usually created on the next working day", "within 60 days"} {
		if !strings.Contains(m.Text, want) {
			t.Errorf("not-yet message lacks %q:\n%s", want, m.Text)
		}
	}

	// The registry creates the account: the waiting address is invited.
	scimCreate(t, env, scimUser(email, `,"externalId":"s-100"`))
	inv := env.Mail(t, email, "Activate your account")
	if !strings.Contains(inv.Text, "Your username is "+email) {
		t.Errorf("invitation does not name the username:\n%s", inv.Text)
	}
	link := env.Link(t, inv, "/activation/password")

	got = send(t, c, http.MethodGet, link, nil)
	if got.Status != http.StatusOK {
		t.Fatalf("invitation link: %d\n%s", got.Status, got.Body)
	}
	mustContainText(t, got.Body, enText("loginhelp.activation.password.username", "Email", email))
	token := strings.TrimPrefix(link, env.URL+"/activation/password?token=")
	token, _ = url.QueryUnescape(token)

	// A mismatched confirmation is refused field by field; nothing is set.
	got = send(t, c, http.MethodPost, env.URL+"/activation/password", url.Values{"token": {token}, "password": {goodPassword}, "password_confirm": {"something else"}})
	if got.Status != http.StatusUnprocessableEntity {
		t.Fatalf("mismatched confirmation: %d", got.Status)
	}
	if storedAccount(t, env, email).Activated() {
		t.Fatal("activated by a refused form")
	}
	got = send(t, c, http.MethodPost, env.URL+"/activation/password", url.Values{"token": {token}, "password": {goodPassword}, "password_confirm": {goodPassword}})
	if got.Status != http.StatusOK {
		t.Fatalf("set the first password: %d\n%s", got.Status, got.Body)
	}
	mustContainText(t, got.Body, enText("loginhelp.activation.done", "Email", email))
	if a := storedAccount(t, env, email); !a.Activated() || a.PasswordHash == "" {
		t.Fatalf("not activated: %+v", a)
	}

	// The link works once.
	if got := send(t, c, http.MethodGet, link, nil); got.Status != http.StatusGone {
		t.Errorf("used invitation link: %d", got.Status)
	}

	// Students must use a second factor: the sign-in guides its setup.
	got = send(t, c, http.MethodPost, env.URL+"/login", url.Values{"email": {email}, "password": {goodPassword}})
	if got.URL.Path != "/account/mfa" {
		t.Fatalf("first sign-in ended at %s, want the second-factor setup", got.URL)
	}
	if _, codes := enrolTOTP(t, env, c); len(codes) == 0 {
		t.Fatal("no recovery codes after the guided setup")
	}
}

// TestActivationAnswers: the page says the same for a pending account, an
// active one, a provisioned one awaiting activation and an unknown
// address; each mailbox gets its own answer.
func TestActivationAnswers(t *testing.T) {
	env := apptest.StartWithFile(t, activationConfig, map[string]string{"REGISTRY_SECRET": registrySecret})
	starts := env.Clock.Now().AddDate(0, 0, 30)
	// A pending account: nobody asked, so no e-mail yet.
	scimCreate(t, env, scimUser("pending@student.example.fi",
		`,"urn:portti:params:scim:schemas:extension:portti:2.0:User":{"startDate":"`+starts.UTC().Format(time.RFC3339)+`"}`))
	// A provisioned account created now: its invitation goes at once.
	scimCreate(t, env, scimUser("ready@student.example.fi", ""))
	env.Mail(t, "ready@student.example.fi", "Activate your account")
	addUser(t, env, "active@example.fi", goodPassword)

	c := newBrowser(t)
	bodies := map[string]string{}
	for _, email := range []string{"pending@student.example.fi", "ready@student.example.fi", "active@example.fi", "nobody@student.example.fi"} {
		got := send(t, c, http.MethodPost, env.URL+"/activation", url.Values{"email": {email}})
		if got.Status != http.StatusOK {
			t.Fatalf("%s: %d", email, got.Status)
		}
		bodies[email] = strings.ReplaceAll(got.Body, email, "ADDRESS")
	}
	first := bodies["nobody@student.example.fi"]
	for email, b := range bodies {
		if b != first {
			t.Errorf("the page for %s differs from the page for an unknown address", email)
		}
	}
	env.Settle(t)
	pending := env.Mail(t, "pending@student.example.fi", "Your account will work from")
	if want := starts.In(helsinkiZone(t)).Format("2 January 2006"); !strings.Contains(pending.Subject, want) {
		t.Errorf("pending subject %q lacks the start date %s", pending.Subject, want)
	}
	// Asking again sends a new invitation (the old link stops working).
	waitCount(t, env, "ready@student.example.fi", "Activate your account", 2)
	active := env.Mail(t, "active@example.fi", "already active")
	env.Link(t, active, "/login")
	env.Mail(t, "nobody@student.example.fi", "does not exist yet")

	// A malformed address is the only thing the page refuses.
	if got := send(t, c, http.MethodPost, env.URL+"/activation", url.Values{"email": {"not an address"}}); got.Status != http.StatusUnprocessableEntity {
		t.Errorf("malformed address: %d", got.Status)
	}
	// A forged or truncated invitation link explains itself.
	if got := send(t, c, http.MethodGet, env.URL+"/activation/password?token=forged", nil); got.Status != http.StatusNotFound {
		t.Errorf("forged invitation link: %d", got.Status)
	} else {
		mustContainText(t, got.Body, enText("loginhelp.activation.link.unknown"))
	}
}

// TestActivationInviteWhenUsable: an account the registry creates
// disabled gets no invitation; when the registry enables it (Entra ID's
// PATCH of active), the invitation goes.
func TestActivationInviteWhenUsable(t *testing.T) {
	env := apptest.StartWithFile(t, activationConfig, map[string]string{"REGISTRY_SECRET": registrySecret})
	const email = "later@student.example.fi"
	u := scimCreate(t, env, scimUser(email, `,"active":false`))
	env.Settle(t)
	time.Sleep(300 * time.Millisecond)
	if n := countTo(env, email, ""); n != 0 {
		t.Fatalf("%d messages to a disabled account", n)
	}
	scimDo(t, env, "PATCH", "/Users/"+u["id"].(string), `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
		"Operations":[{"op":"Replace","path":"active","value":"True"}]}`, http.StatusOK)
	env.Link(t, env.Mail(t, email, "Activate your account"), "/activation/password")
}

// TestActivationWaitlistPending: a waiting address whose account the
// registry creates with a start date ahead is told that date at once, in
// the language it asked in; its invitation waits for the start.
func TestActivationWaitlistPending(t *testing.T) {
	env := apptest.StartWithFile(t, activationConfig, map[string]string{"REGISTRY_SECRET": registrySecret})
	const email = "syksy@student.example.fi"
	c := newBrowser(t, "Accept-Language", "fi")
	if got := send(t, c, http.MethodPost, env.URL+"/activation", url.Values{"email": {email}}); got.Status != http.StatusOK {
		t.Fatalf("activation request: %d", got.Status)
	}
	m := env.Mail(t, email, "ei ole vielä olemassa")
	if !strings.Contains(m.Text, "Opiskelijan tili luodaan yleensä seuraavana arkipäivänä") {
		t.Errorf("the Finnish message lacks the Finnish delay text:\n%s", m.Text)
	}
	starts := time.Date(2027, 8, 31, 21, 0, 0, 0, time.UTC) // 1.9.2027 in Helsinki
	scimCreate(t, env, scimUser(email,
		`,"urn:portti:params:scim:schemas:extension:portti:2.0:User":{"startDate":"`+starts.Format(time.RFC3339)+`"}`))
	p := env.Mail(t, email, "1.9.2027")
	env.Link(t, p, "/activation")
	env.Settle(t)
	time.Sleep(300 * time.Millisecond)
	if n := countTo(env, email, "Ota tilisi käyttöön"); n != 0 {
		t.Errorf("%d invitations before the start date", n)
	}
}

// TestActivationResendFormInvites: the old "send a new activation link"
// form, given a provisioned address, sends the invitation (whose link
// sets the password), not a bare activation link.
func TestActivationResendFormInvites(t *testing.T) {
	env := apptest.StartWithFile(t, activationConfig, map[string]string{"REGISTRY_SECRET": registrySecret})
	const email = "resend@student.example.fi"
	scimCreate(t, env, scimUser(email, ""))
	env.Mail(t, email, "Activate your account")
	c := newBrowser(t)
	if got := send(t, c, http.MethodPost, env.URL+"/activate/resend", url.Values{"email": {email}}); got.Status != http.StatusOK {
		t.Fatalf("resend: %d", got.Status)
	}
	waitCount(t, env, email, "Activate your account", 2)
	if n := countTo(env, email, "Confirm your email"); n != 0 {
		t.Errorf("%d bare activation links to a provisioned account", n)
	}
}

// TestActivationRateLimit: the page cannot flood a mailbox.
func TestActivationRateLimit(t *testing.T) {
	env := apptest.StartWithFile(t, activationConfig, map[string]string{"REGISTRY_SECRET": registrySecret})
	c := newBrowser(t)
	for range 6 {
		send(t, c, http.MethodPost, env.URL+"/activation", url.Values{"email": {"flood@student.example.fi"}})
	}
	env.Settle(t)
	env.Mail(t, "flood@student.example.fi", "does not exist yet")
	time.Sleep(500 * time.Millisecond)
	if n := countTo(env, "flood@student.example.fi", ""); n > 3 {
		t.Errorf("%d messages to one address in an hour", n)
	}
}

// TestActivationTiming: the activation form answers in the same time for
// a pending account, an active one and an unknown address.
func TestActivationTiming(t *testing.T) {
	for _, kind := range []string{"pending", "active"} {
		t.Run(kind, func(t *testing.T) {
			env, c := timingEnv(t)
			ctx := context.Background()
			now := env.Clock.Now()
			for i := range timingRequests {
				email := fmt.Sprintf("known%d@student.example.fi", i)
				if kind == "active" {
					addUser(t, env, email, goodPassword)
					continue
				}
				id := fmt.Sprintf("pa%024d", i)
				if err := env.App.Store.CreateAccount(ctx, storage.Account{ID: id, Email: email, CreatedAt: now, UpdatedAt: now}); err != nil {
					t.Fatal(err)
				}
				if err := env.App.Store.CreateProvisioned(ctx, storage.Provisioned{AccountID: id, State: storage.ProvisionPending,
					StartsAt: now.AddDate(0, 1, 0), Source: storage.ProvisionSourceSCIM, CreatedAt: now, UpdatedAt: now}); err != nil {
					t.Fatal(err)
				}
			}
			checkTiming(t, env, func(known bool, i int) time.Duration {
				email := fmt.Sprintf("nobody%d@student.example.fi", i)
				if known {
					email = fmt.Sprintf("known%d@student.example.fi", i)
				}
				return timedPost(t, c, env.URL+"/activation", url.Values{"email": {email}}, http.StatusOK)
			})
		})
	}
}

// TestLoginUsernameHelp: after a failed sign-in with an address in one of
// the organisation's domains the page shows that user type's username
// format, and a mistyped domain gets "did you mean"; the help is the same
// whether or not the address has an account.
func TestLoginUsernameHelp(t *testing.T) {
	env := apptest.StartWithFile(t, activationConfig, map[string]string{"REGISTRY_SECRET": registrySecret})
	addUser(t, env, "aino@student.example.fi", goodPassword)
	c := newBrowser(t)
	login := func(email string) answer {
		return send(t, c, http.MethodPost, env.URL+"/login", url.Values{"email": {email}, "password": {"wrong password here"}, "return": {"/account"}})
	}
	for _, tc := range []struct{ typed, suggestion, format string }{
		{"aino@student.example.fi", "", "username@student.example.fi"},
		{"nobody@student.example.fi", "", "username@student.example.fi"},
		{"aino@stduent.example.fi", "aino@student.example.fi", "username@student.example.fi"},
		{"aino@student.example.fi.", "aino@student.example.fi", "username@student.example.fi"},
		{"aino@example.f", "aino@example.fi", "firstname.lastname@example.fi"},
		{"aino@gmail.com", "", ""},
	} {
		t.Run(tc.typed, func(t *testing.T) {
			got := login(tc.typed)
			if got.Status != http.StatusUnauthorized {
				t.Fatalf("status %d", got.Status)
			}
			// The help after the failure (the script's data-formats holds
			// every format, so look for the help's own paragraph).
			if has := strings.Contains(got.Body, `<p id="username-format">`); has != (tc.format != "") {
				t.Errorf("format paragraph shown: %v, want %v", has, tc.format != "")
			}
			if tc.format != "" {
				mustContainText(t, got.Body, tc.format)
			}
			if tc.suggestion != "" {
				mustContainText(t, got.Body, enText("loginhelp.did_you_mean", "Email", tc.suggestion))
				mustContain(t, got.Body, `href="/login?email=`+url.QueryEscape(tc.suggestion)+`&amp;return=%2Faccount"`)
			} else {
				mustNotContainText(t, got.Body, "Did you mean")
			}
		})
	}
	known := strings.NewReplacer("aino@", "X@", "aino%40", "X%40").Replace(login("aino@student.example.fi").Body)
	unknown := strings.NewReplacer("nobody@", "X@", "nobody%40", "X%40").Replace(login("nobody@student.example.fi").Body)
	if known != unknown {
		t.Errorf("the failed sign-in page differs between a known and an unknown address:\n%s\n---\n%s", known, unknown)
	}
}

// countTo counts the messages to addr whose subject contains subject.
func countTo(env *apptest.Env, addr, subject string) int {
	to := smtptest.To(addr)
	n := 0
	for _, m := range env.SMTP.Messages() {
		if to(m) && strings.Contains(m.Subject, subject) {
			n++
		}
	}
	return n
}

// waitCount waits until n messages to addr with subject have arrived.
func waitCount(t *testing.T, env *apptest.Env, addr, subject string, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for countTo(env, addr, subject) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d messages %q to %s, want %d", countTo(env, addr, subject), subject, addr, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func helsinkiZone(t *testing.T) *time.Location {
	loc, err := time.LoadLocation("Europe/Helsinki")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}
