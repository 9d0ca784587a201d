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
	"github.com/portti/portti/internal/admin"
	"github.com/portti/portti/internal/app/apptest"
	"github.com/portti/portti/internal/storage"
)

// enrolTOTPHere adds an authenticator app to the account signed in in
// b from /account/mfa, the way a person does, and returns its key.
func (b *tab) enrolTOTPHere(env *apptest.Env) string {
	b.t.Helper()
	b.open("/account/mfa", 200)
	b.click(`main a[href^="/account/mfa/totp/new"]`, 200)
	return b.confirmTOTP(env, "/account/mfa/totp/new")
}

// confirmTOTP reads the key from an authenticator app's enrolment page
// and confirms it with a code, posting to action.
func (b *tab) confirmTOTP(env *apptest.Env, action string) string {
	b.t.Helper()
	b.do("open the key", chromedp.Click(chromedp.CSS(`main details summary`)))
	secret := strings.ReplaceAll(b.text("code.secret"), " ", "")
	b.fill("code", totpNow(b.t, env, secret))
	b.submit(action, 200)
	return secret
}

func totpNow(t testing.TB, env *apptest.Env, secret string) string {
	t.Helper()
	code, err := totp.GenerateCodeCustom(secret, env.Clock.Now(), totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// TestBrowserAccessPass walks the temporary access pass in each
// language, in Chromium: the helpdesk gives a person who lost their phone
// a pass in the console and reads it out; the person, after their
// password, follows "I have a temporary access pass from the helpdesk",
// types it, adds a new authenticator app (and is still not signed in:
// /account asks for a sign-in), and then signs in with the new app. The
// pages are checked with axe-core and screenshotted as
// <lang>-tap-*.png (en at desktop width, fi and sv at 320 px).
func TestBrowserAccessPass(t *testing.T) {
	startChromium(t)
	env := apptest.Start(t, nil)
	cat := catalog(t)
	for _, lang := range []string{"en", "fi", "sv"} {
		t.Run(lang, func(t *testing.T) {
			tr := func(key string, args ...any) string {
				m := map[string]any{}
				for i := 0; i+1 < len(args); i += 2 {
					m[args[i].(string)] = args[i+1]
				}
				return cat.T(lang, key, m)
			}
			staffEmail, personEmail := "tap.tuki."+lang+"@example.fi", "tap.maija."+lang+"@example.fi"
			addPerson(t, env, staffEmail, "Tuula", "Tukihenkilö")
			personID := addPerson(t, env, personEmail, "Maija", "Meikäläinen")
			if _, err := env.App.Admin.Grant(context.Background(), admin.Actor{Name: "cli", Admin: true}, staffEmail, storage.RoleHelpdesk, account.Meta{}); err != nil {
				t.Fatal(err)
			}
			setLang := func(b *tab) {
				b.open("/login", 200)
				if lang != "en" {
					b.narrow()
					b.click(fmt.Sprintf(`header nav a[hreflang=%q]`, lang), 200)
				}
			}
			look := func(b *tab, name string) {
				t.Helper()
				b.screenshot(lang + "-tap-" + name)
				if lang == "en" {
					b.checkAxe(lang + "-tap-" + name)
				} else {
					b.noSidewaysScroll(lang + "-tap-" + name)
				}
			}

			// The person had an authenticator app (the phone now lost).
			p := newTabFor(t, env, 4*testTimeout)
			setLang(p)
			p.logIn(personEmail, ssoPassword, false, 200)
			p.enrolTOTPHere(env)
			p.open("/account", 200)
			p.submit("/logout", 200)

			// The helpdesk, signed in with their own second factor.
			s := newTabFor(t, env, 4*testTimeout)
			setLang(s)
			s.logIn(staffEmail, ssoPassword, false, 200)
			s.open("/admin", 200)
			s.click(`main a[href^="/account/mfa/totp/new"]`, 200)
			s.confirmTOTP(env, "/account/mfa/totp/new")
			s.open("/admin/people/"+personID, 200)
			s.tick("action-temporary_access_pass")
			s.fill("reason", "lost phone, identity checked on the phone")
			s.submit("/admin/people/"+personID+"/action", 200)
			s.see(tr("admin.done.temporary_access_pass"), tr("tap.issued.read_out"))
			pass := s.text("p.pass code")
			look(s, "issued")
			// (In the person's own language; these people have none set.)
			env.Mail(t, personEmail, "You were given a temporary access pass")

			// The person: password, then the pass instead of a code.
			env.Clock.Advance(31 * time.Second)
			p.open("/login", 200)
			p.logIn(personEmail, ssoPassword, false, 200)
			p.heading(tr("mfa.login.title"))
			p.see(tr("tap.link"))
			look(p, "second-step")
			p.submit("/login/pass", 200)
			p.heading(tr("tap.title"))
			look(p, "form")
			p.fill("pass", "1234")
			p.submit("/login/pass", 422)
			p.see(tr("tap.pass.malformed"))
			look(p, "form-error")
			p.fill("pass", pass)
			p.submit("/login/pass", 200)
			p.heading(tr("tap.choose.title"))
			look(p, "choose")
			p.submit("/login/pass/enrol/totp", 200)
			p.heading(tr("mfa.totp.add.title"))
			look(p, "totp")
			env.Clock.Advance(31 * time.Second)
			p.confirmTOTP(env, "/login/pass/enrol/totp")
			p.at("/login")
			p.see(tr("notice.tap_enrolled"))
			look(p, "done")
			env.Mail(t, personEmail, "Your temporary access pass was used")

			// Still not signed in: the pass gave no session.
			p.open("/account", 200)
			p.at("/login")
		})
	}
}
