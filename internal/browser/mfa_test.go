package browser

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/portti/portti/internal/app/apptest"
	"github.com/portti/portti/internal/i18n"
)

// TestBrowserMFA sets up an authenticator app in each language through
// the pages, with the code computed here from the key the page shows,
// keeps the recovery codes, and signs in with the second step: a wrong
// code, a replayed code, the right one, a recovery code. Every page is
// screenshotted as <lang>-mfa-*.png.
func TestBrowserMFA(t *testing.T) {
	startChromium(t) // skip (or fail) before starting portti
	env := apptest.Start(t, nil)
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
			code := func(secret string, at time.Time) string {
				c, err := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
				if err != nil {
					t.Fatal(err)
				}
				return c
			}
			p := maija("mfa." + lang + "@example.fi")
			b.open("/register", 200)
			if lang != "en" {
				b.click(fmt.Sprintf(`header nav a[hreflang=%q]`, lang), 200)
			}
			b.fillRegistration(p)
			b.submit("/register", 200)
			b.open(b.mailLink(p.email, "/activate"), 200)
			b.open("/login", 200)
			b.logIn(p.email, p.password, false, 200)
			b.at("/account")
			b.see(tr("mfa.status.off"))

			b.click(`main a[href^="/account/mfa"]`, 200)
			b.heading(tr("mfa.title"))
			b.screenshot(lang + "-mfa")
			b.click(`main a[href^="/account/mfa/totp/new"]`, 200)
			b.heading(tr("mfa.totp.add.title"))
			if w := evalJS[int](b, `document.querySelector("main img").naturalWidth`); w < 100 {
				t.Fatalf("the QR code did not load (width %d)", w)
			}
			// The key is in a <details> a person opens: open it, as they would.
			b.do("open the key", chromedp.Click(chromedp.CSS(`main details summary`)))
			secret := strings.ReplaceAll(b.text("code.secret"), " ", "")
			if uri := b.text("code.uri"); !strings.HasPrefix(uri, "otpauth://totp/") || !strings.Contains(uri, "secret="+secret) {
				t.Fatalf("otpauth URI %q does not hold the key %q", uri, secret)
			}
			b.screenshot(lang + "-mfa-totp")
			b.fill("code", "000000")
			b.submit("/account/mfa/totp/new", 422)
			b.see(tr("mfa.code.wrong"))
			if again := strings.ReplaceAll(evalJS[string](b, `document.querySelector("code.secret").textContent`), " ", ""); again != secret {
				t.Fatalf("after a wrong code the key changed: %q → %q", secret, again)
			}
			b.fill("name", "Puhelin")
			b.fill("code", code(secret, env.Clock.Now()))
			b.submit("/account/mfa/totp/new", 200)
			b.heading(tr("mfa.codes.title"))
			codes := strings.Fields(b.text("ol.codes"))
			if len(codes) != 10 {
				t.Fatalf("%d recovery codes on the page, want 10: %v", len(codes), codes)
			}
			b.screenshot(lang + "-mfa-codes")
			b.click(`main a.button`, 200)
			b.at("/account/mfa")
			b.see("Puhelin", tr("mfa.recovery.left", "N", 10))
			b.screenshot(lang + "-mfa-on")

			b.open("/account", 200)
			b.submit("/logout", 200)
			b.open("/login", 200)
			b.logIn(p.email, p.password, false, 200)
			b.heading(tr("mfa.login.title"))
			if got := evalJS[string](b, `document.activeElement.id`); got != "code" {
				t.Errorf("the second step does not put the focus on the code field (%q)", got)
			}
			b.screenshot(lang + "-mfa-login")
			b.fill("code", "123 456")
			b.submit("/login/mfa", 401)
			b.see(tr("mfa.code.wrong"))
			b.screenshot(lang + "-mfa-login-wrong")
			// The enrolment's own code is of this time step: refused.
			b.fill("code", code(secret, env.Clock.Now()))
			b.submit("/login/mfa", 401)
			b.see(tr("mfa.code.replayed"))
			env.Clock.Advance(30 * time.Second)
			b.fill("code", code(secret, env.Clock.Now()))
			b.submit("/login/mfa", 200)
			b.at("/account")
			b.see(tr("mfa.status.on"))

			// A recovery code, typed with spaces instead of dashes.
			b.submit("/logout", 200)
			b.open("/login", 200)
			b.logIn(p.email, p.password, false, 200)
			b.fill("code", strings.ReplaceAll(codes[3], "-", " "))
			b.submit("/login/mfa", 200)
			b.at("/account")
			b.see(tr("mfa.recovery.left", "N", 9))
		})
	}
}
