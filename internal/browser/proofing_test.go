package browser

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/portti/portti/internal/account"
	"github.com/portti/portti/internal/app/apptest"
	"github.com/portti/portti/internal/i18n"
	"github.com/portti/portti/internal/proofing"
	"github.com/portti/portti/internal/proofing/proofingtest"
	"github.com/portti/portti/internal/storage"
)

// TestBrowserProofing walks strong identification in each language,
// through the test provider's own page (choose a test person): the
// username lookup from /login, "I lost my two-step verification method"
// from the second step straight into enrolling a new method, a new
// password from the forgotten-password page, and binding the identity
// from /account. Every page of portti's is screenshotted as
// <lang>-proofing-*.png and checked with axe-core.
func TestBrowserProofing(t *testing.T) {
	startChromium(t)
	idp := proofingtest.Start(t, "portti-browser")
	file := `proofing:
  providers:
    - id: testbank
      name: {fi: Testipankki, sv: Testbanken, en: Test bank}
      issuer: ` + idp.URL + `
      client_id: portti-browser
      acr_values: [` + proofingtest.ACR + `]
      identifier_claim: "` + proofingtest.HetuClaim + `"
`
	env := apptest.StartWithFile(t, file, map[string]string{"PORTTI_KEY_ENCRYPTION_KEY": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="})
	idp.SetClient(env.URL+"/proofing/callback", env.URL+"/proofing/jwks.json")
	cat, err := i18n.Load()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i, lang := range []string{"fi", "sv", "en"} {
		t.Run(lang, func(t *testing.T) {
			// Each language starts anew from the test's one address.
			env.Clock.Advance(proofing.RateWindow)
			tr := func(key string, args ...any) string {
				m := map[string]any{}
				for i := 0; i+1 < len(args); i += 2 {
					m[args[i].(string)] = args[i+1]
				}
				return cat.T(lang, key, m)
			}
			hetu := fmt.Sprintf("0%d0190-12%dA", i+1, i)
			idp.AddPerson(proofingtest.Person{Hetu: hetu, GivenName: "Maija", FamilyName: "Meikäläinen"})
			staff := "maija." + lang + "@example.fi"
			student := "maija." + lang + "@student.example.fi"
			p := maija(staff)
			m := account.Meta{ClientIP: "test", Lang: "en"}
			a, err := env.App.Accounts.AddUser(ctx, staff, account.Profile{GivenName: "Maija", FamilyName: "Meikäläinen"}, p.password, m)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := env.App.Accounts.AddUser(ctx, student, account.Profile{GivenName: "Maija", FamilyName: "Meikäläinen"}, p.password, m); err != nil {
				t.Fatal(err)
			}
			if _, err := env.App.Proofing.SetIdentifier(ctx, staff, hetu, m); err != nil {
				t.Fatal(err)
			}
			// A second factor the person has lost (its key is nobody's).
			now := time.Now().UTC()
			if err := env.App.Store.CreateCredential(ctx, storage.Credential{ID: "lost-" + lang, AccountID: a.ID, Kind: "totp",
				Name: "Lost phone", Secret: []byte("unusable"), CreatedAt: now}); err != nil {
				t.Fatal(err)
			}
			b := newTabFor(t, env, 3*time.Minute)
			// The test provider's page: choose the person.
			identify := func() {
				t.Helper()
				b.click(`main button[name=provider][value=testbank]`, 200)
				if !strings.HasPrefix(b.location(), idp.URL) {
					t.Fatalf("not at the provider: %s", b.location())
				}
				b.click(fmt.Sprintf(`button[name=hetu][value=%q]`, hetu), 0)
			}
			shot := func(name string) {
				t.Helper()
				b.screenshot(lang + "-proofing-" + name)
				b.checkAxe(lang + "-proofing-" + name)
			}

			// 1. Forgot the username, from /login.
			b.open("/login", 200)
			if lang != "en" {
				b.click(fmt.Sprintf(`header nav a[hreflang=%q]`, lang), 200)
			}
			b.see(tr("proofing.link.username"), tr("proofing.link.lost"))
			b.click(`main a[href="/proofing/username"]`, 200)
			b.heading(tr("proofing.username.title"))
			shot("username-start")
			identify()
			b.at("/proofing/done")
			b.heading(tr("proofing.usernames.title"))
			b.see(staff)
			if strings.Contains(b.mainText(), student) {
				t.Fatal("an account not bound to the identity is listed")
			}
			shot("usernames")

			// 2. Lost the second factor, from the second step.
			b.open("/login", 200)
			b.logIn(staff, p.password, false, 200)
			b.heading(tr("mfa.login.title"))
			shot("second-step")
			b.click(`main form[action="/proofing/lost-authenticator"] button`, 200)
			b.heading(tr("proofing.mfa_reset.title"))
			shot("mfa-reset-start")
			identify()
			b.at("/account/mfa") // signed in, straight into enrolling
			b.heading(tr("mfa.title"))
			shot("mfa-reset-enrol")
			if cs, _ := env.App.Store.ListCredentials(ctx, a.ID); len(cs) != 0 {
				t.Fatalf("%d credentials left after the reset", len(cs))
			}
			b.open("/account", 200)
			b.submit("/logout", 200)

			// 3. A new password without the mailbox.
			b.open("/password/forgot", 200)
			b.click(`main a[href="/proofing/password"]`, 200)
			b.heading(tr("proofing.password.title"))
			shot("password-start")
			identify()
			b.heading(tr("proofing.password.set.title"))
			b.fill("password", "short")
			b.fill("password_confirm", "short")
			b.submit("/proofing/password", 422)
			shot("password-invalid")
			b.fill("password", "revontulet tanssivat taivaalla")
			b.fill("password_confirm", "revontulet tanssivat taivaalla")
			b.submit("/proofing/password", 200)
			b.heading(tr("proofing.password.done.title"))
			shot("password-done")

			// 4. Bind the identity to the student account: a second
			// factor first, then from /account.
			b.open("/login", 200)
			b.logIn(student, p.password, false, 200)
			b.open("/account/mfa/totp/new", 200)
			b.do("open the key", chromedp.Click(chromedp.CSS(`main details summary`)))
			secret := strings.ReplaceAll(b.text("code.secret"), " ", "")
			code, err := totp.GenerateCodeCustom(secret, env.Clock.Now(), totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
			if err != nil {
				t.Fatal(err)
			}
			b.fill("name", "Puhelin")
			b.fill("code", code)
			b.submit("/account/mfa/totp/new", 200)
			b.open("/account", 200)
			b.see(tr("proofing.account.heading"))
			b.click(`main a[href="/proofing/bind"]`, 200)
			b.heading(tr("proofing.bind.title"))
			shot("bind-start")
			identify()
			b.heading(tr("proofing.bind.done.title"))
			shot("bind-done")
			b.mailLink(staff, "/password/forgot") // the other account is told
		})
	}
}
