package browser

import (
	"context"
	"crypto/sha256"
	"fmt"
	"strings"
	"testing"

	"github.com/portti/portti/internal/app/apptest"
	"github.com/portti/portti/internal/storage"
)

// loginHelpConfig: students come from the registry; the username formats
// and the registry's delay are the organisation's own texts.
const loginHelpConfig = `
provision:
  user_types: [student=*@student.example.fi, staff=*@example.fi]
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
`

// provisioned creates an account as a registry does: no password, not
// activated, with its registry record.
func provisioned(t *testing.T, env *apptest.Env, email string) {
	t.Helper()
	ctx := context.Background()
	now := env.Clock.Now()
	id := fmt.Sprintf("%x", sha256.Sum256([]byte(email)))[:26]
	if err := env.App.Store.CreateAccount(ctx, storage.Account{ID: id, Email: email, GivenName: "Maija", FamilyName: "Meikäläinen", CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	if err := env.App.Store.CreateProvisioned(ctx, storage.Provisioned{AccountID: id, State: storage.ProvisionActive,
		Source: storage.ProvisionSourceSCIM, CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
}

// TestBrowserActivation walks the activation of a provisioned account in
// each language: the activation page (with the registry's delay), the
// same "check your email" page, the invitation link, the first password
// and the done page, each axe-core clean with screenshots
// (<lang>-activation*.png); then the pages at 320 px.
func TestBrowserActivation(t *testing.T) {
	startChromium(t)
	env := apptest.StartWithFile(t, loginHelpConfig, nil)
	b := newTabFor(t, env, 3*testTimeout)
	cat := catalog(t)
	for _, lang := range []string{"fi", "sv", "en"} {
		email := "maija." + lang + "@student.example.fi"
		provisioned(t, env, email)
		b.open("/activation", 200)
		b.switchTo(lang, 200)
		b.heading(cat.T(lang, "loginhelp.activation.title", nil))
		b.see(cat.T(lang, "loginhelp.activation.not_entitled.title", nil))
		b.checkAxe(lang + "-activation")
		b.screenshot(lang + "-activation")

		b.fill("email", email)
		b.submit("/activation", 200)
		b.heading(cat.T(lang, "loginhelp.activation.sent.title", nil))
		b.see(cat.T(lang, "loginhelp.activation.sent", map[string]any{"Email": email}))
		b.checkAxe(lang + "-activation-sent")
		b.screenshot(lang + "-activation-sent")

		b.open(b.mailLink(email, "/activation/password"), 200)
		b.heading(cat.T(lang, "loginhelp.activation.password.title", nil))
		b.see(cat.T(lang, "loginhelp.activation.password.username", map[string]any{"Email": email}))
		b.checkAxe(lang + "-activation-password")
		b.screenshot(lang + "-activation-password")
		// A mismatched confirmation: an accessible field error.
		b.fill("password", ssoPassword)
		b.fill("password_confirm", "something else entirely")
		b.submit("/activation/password", 422)
		b.see(cat.T(lang, "password.mismatch", nil))
		if !evalJS[bool](b, `document.getElementById("password_confirm").getAttribute("aria-invalid") === "true"`) {
			t.Errorf("%s: the mismatched confirmation is not marked invalid", lang)
		}
		b.checkAxe(lang + "-activation-password-error")
		b.fill("password", ssoPassword)
		b.fill("password_confirm", ssoPassword)
		b.submit("/activation/password", 200)
		b.heading(cat.T(lang, "loginhelp.activation.done.title", nil))
		b.checkAxe(lang + "-activation-done")
		b.screenshot(lang + "-activation-done")
		b.click(`main a.button`, 200)
		b.at("/login")
		if got := b.value("email"); got != email {
			t.Errorf("%s: the sign-in form holds %q, want %q", lang, got, email)
		}
	}
	// A link that was never issued, in the last language.
	b.open("/activation/password?token=forged", 404)
	b.heading(cat.T("en", "loginhelp.activation.link.title", nil))
	b.checkAxe("en-activation-link")
	b.screenshot("en-activation-link")
	b.narrow()
	b.open("/activation", 200)
	b.noSidewaysScroll("activation")
	b.fill("email", longEmail)
	b.submit("/activation", 200)
	b.noSidewaysScroll("activation-sent")
}

// TestBrowserLoginUsernameHelp: a failed sign-in with a mistyped domain
// of the organisation shows "did you mean" and the username format of
// that user type, in each language, axe-core clean with screenshots
// (<lang>-login-help.png); its link fills the form with the corrected
// address. Then at 320 px.
func TestBrowserLoginUsernameHelp(t *testing.T) {
	startChromium(t)
	env := apptest.StartWithFile(t, loginHelpConfig, nil)
	b := newTabFor(t, env, 2*testTimeout)
	cat := catalog(t)
	b.open("/login", 200)
	for _, lang := range []string{"fi", "sv", "en"} {
		b.switchTo(lang, 200)
		format := map[string]string{"fi": "käyttäjätunnus@student.example.fi", "sv": "användarnamn@student.example.fi", "en": "username@student.example.fi"}[lang]
		sentence := cat.T(lang, "loginhelp.format", map[string]any{"Type": cat.T(lang, "loginhelp.type.student", nil), "Format": format})
		// While typing (the script): the format appears once the domain
		// is one of the organisation's, and goes when it is not.
		b.fill("email", "aino@student.example.fi")
		if got := liveText(b); got != sentence {
			t.Errorf("%s: while typing, the page says %q, want %q", lang, got, sentence)
		}
		b.checkAxe(lang + "-login-typing")
		b.screenshot(lang + "-login-typing")
		b.fill("email", "aino@gmail.com")
		if got := liveText(b); got != "" {
			t.Errorf("%s: for another domain the page says %q", lang, got)
		}
		b.logIn("aino@stduent.example.fi", "not the password", false, 401)
		b.see(cat.T(lang, "loginhelp.did_you_mean", map[string]any{"Email": "aino@student.example.fi"}))
		b.see(sentence)
		b.checkAxe(lang + "-login-help")
		b.screenshot(lang + "-login-help")
		b.click(`#username-suggestion a`, 200)
		b.at("/login")
		if got := b.value("email"); got != "aino@student.example.fi" {
			t.Errorf("%s: the suggestion filled %q", lang, got)
		}
	}
	b.narrow()
	b.logIn("maija-liisa.meikalainen-virtanen@stduent.example.fi", "not the password", false, 401)
	b.noSidewaysScroll("login-help")
}

// liveText is what the login page's while-typing help says.
func liveText(b *tab) string {
	b.t.Helper()
	return strings.TrimSpace(evalJS[string](b, `(document.getElementById("username-live") || {textContent: "NO ELEMENT"}).textContent`))
}
