package browser

import (
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/portti/portti/internal/app/apptest"
	"github.com/portti/portti/internal/i18n"
)

// TestBrowserMFAGraceAndRemember walks, in each language, the enrolment
// grace ("Later", then "Set up now") under a required policy, and the
// second step's "Don't ask again in this browser" box: ticked once, the
// next sign-in in this browser skips the second step. Pages are checked
// with axe and screenshotted as <lang>-mfa-grace.png and
// <lang>-mfa-remember.png.
func TestBrowserMFAGraceAndRemember(t *testing.T) {
	startChromium(t)
	env := apptest.Start(t, map[string]string{
		"PORTTI_MFA_POLICY": "required", "PORTTI_MFA_ENROLMENT_GRACE": "336h", "PORTTI_MFA_REMEMBER_BROWSER": "720h",
	})
	cat, err := i18n.Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, lang := range []string{"fi", "sv", "en"} {
		t.Run(lang, func(t *testing.T) {
			b := newTab(t, env)
			tr := func(key string, args ...any) string {
				m := map[string]any{}
				for i := 0; i+1 < len(args); i += 2 {
					m[args[i].(string)] = args[i+1]
				}
				return cat.T(lang, key, m)
			}
			p := maija("grace." + lang + "@example.fi")
			b.open("/register", 200)
			if lang != "en" {
				b.click(fmt.Sprintf(`header nav a[hreflang=%q]`, lang), 200)
			}
			b.fillRegistration(p)
			b.submit("/register", 200)
			b.open(b.mailLink(p.email, "/activate"), 200)
			b.open("/login", 200)
			b.logIn(p.email, p.password, false, 200)
			b.at("/account/mfa")
			b.see(tr("mfarest.grace.now"), tr("mfarest.grace.later"))
			b.checkAxe(lang + "-mfa-grace")
			b.screenshot(lang + "-mfa-grace")
			b.click(`main a.button.secondary`, 200)
			b.at("/account")

			b.open("/account/mfa", 200)
			b.click(`main a[href^="/account/mfa/totp/new"]`, 200)
			b.do("open the key", chromedp.Click(chromedp.CSS(`main details summary`)))
			secret := ""
			for _, r := range b.text("code.secret") {
				if r != ' ' {
					secret += string(r)
				}
			}
			code := func() string {
				c, err := totp.GenerateCodeCustom(secret, env.Clock.Now(), totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
				if err != nil {
					t.Fatal(err)
				}
				return c
			}
			b.fill("code", code())
			b.submit("/account/mfa/totp/new", 200)
			b.heading(tr("mfa.codes.title"))
			b.open("/account", 200)
			b.submit("/logout", 200)

			b.open("/login", 200)
			b.logIn(p.email, p.password, false, 200)
			b.heading(tr("mfa.login.title"))
			b.see(tr("mfarest.remember.days", "Days", 30))
			b.checkAxe(lang + "-mfa-remember")
			b.screenshot(lang + "-mfa-remember")
			b.tick("remember_browser")
			env.Clock.Advance(30 * time.Second)
			b.fill("code", code())
			b.submit("/login/mfa", 200)
			b.at("/account")
			b.submit("/logout", 200)

			// The same browser: the password alone.
			b.open("/login", 200)
			b.logIn(p.email, p.password, false, 200)
			b.at("/account")
			b.submit("/logout", 200)
		})
	}
}
