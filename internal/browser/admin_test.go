package browser

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
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

// setValue sets an input's value the way a date picker does (typing into
// a datetime-local field depends on the browser's locale).
func (b *tab) setValue(id, value string) {
	b.t.Helper()
	b.do("set #"+id, chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`document.getElementById(%q).value = %q`, id, value)))
}

// postLogin signs in over plain HTTP (another person's browser) and
// returns the page.
func postLogin(t *testing.T, env *apptest.Env, email, pw string) string {
	t.Helper()
	resp, err := http.PostForm(env.URL+"/login", url.Values{"email": {email}, "password": {pw}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

var consoleRef = regexp.MustCompile(`[A-HJ-NP-Z2-9]{4}-[A-HJ-NP-Z2-9]{4}`)

// TestBrowserConsole walks the helpdesk console in each language, in
// Chromium: a staff member is sent to set up a second factor first; finds
// a locked-out person by name and reads why in the panel; unlocks with a
// reason (e-mail to the owner, audit event with the staff member);
// disables the account; finds the event behind the reference code the
// person then reads; reads the audit trail; adds and removes a notice
// (shown on every page) and looks at the staff roles. Every page is
// checked with axe-core and screenshotted as <lang>-admin-*.png (en at
// desktop width, fi and sv at 320 px, where no page may scroll sideways).
func TestBrowserConsole(t *testing.T) {
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
			staffEmail, personEmail := "tuki."+lang+"@example.fi", "maija."+lang+"@example.fi"
			addPerson(t, env, staffEmail, "Tuula", "Tukihenkilö")
			personID := addPerson(t, env, personEmail, "Maija", "Meikäläinen")
			if _, err := env.App.Admin.Grant(context.Background(), admin.Actor{Name: "cli", Admin: true}, staffEmail, storage.RoleAdmin, account.Meta{}); err != nil {
				t.Fatal(err)
			}
			b := newTabFor(t, env, 4*testTimeout) // axe-core on every page
			look := func(name string) {
				t.Helper()
				if lang == "en" {
					b.screenshot(lang + "-admin-" + name)
					b.checkAxe(lang + "-admin-" + name)
				} else {
					b.noSidewaysScroll(lang + "-admin-" + name)
				}
			}
			if lang != "en" {
				b.narrow()
			}
			b.open("/login", 200)
			if lang != "en" {
				b.click(fmt.Sprintf(`header nav a[hreflang=%q]`, lang), 200)
			}
			b.logIn(staffEmail, ssoPassword, false, 200)

			// Staff must use a second factor: the console sends them to set one up.
			b.open("/admin", 200)
			b.at("/account/mfa")
			b.click(`main a[href^="/account/mfa/totp/new"]`, 200)
			b.do("open the key", chromedp.Click(chromedp.CSS(`main details summary`)))
			secret := strings.ReplaceAll(b.text("code.secret"), " ", "")
			code, err := totp.GenerateCodeCustom(secret, env.Clock.Now(), totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
			if err != nil {
				t.Fatal(err)
			}
			b.fill("code", code)
			b.submit("/account/mfa/totp/new", 200)
			b.open("/admin", 200)
			b.at("/admin")
			b.heading(tr("admin.title"))
			look("search")

			// The person locks their account with wrong passwords.
			for range 5 {
				postLogin(t, env, personEmail, "wrong password entirely")
			}
			b.fill("q", "maija."+lang)
			b.submit("/admin", 200)
			b.see(personEmail)
			b.click(`main a[href="/admin/people/`+personID+`"]`, 200)
			b.heading(personEmail)
			b.see(tr("admin.why.title"), "127.0.0.1", tr("admin.reason.wrong_password"))
			look("person-locked")

			// Unlock, with a reason (the browser itself asks for one: the
			// field is required; the server's refusal is tested in app).
			b.tick("action-unlock")
			b.fill("reason", "ticket 4711")
			b.submit("/admin/people/"+personID+"/action", 200)
			b.see(tr("admin.done.unlock"), tr("admin.why.nothing"))
			look("person-unlocked")
			env.Mail(t, personEmail, "unlocked")
			lastConsoleEvent(t, env, personID, "helpdesk.unlock", "by "+staffEmail+": ticket 4711")

			// Disable; the person's right password now shows a reference
			// code, which the console opens.
			b.tick("action-disable")
			b.fill("reason", "reported stolen")
			b.submit("/admin/people/"+personID+"/action", 200)
			b.see(tr("admin.done.disable"))
			env.Mail(t, personEmail, "disabled")
			ref := consoleRef.FindString(postLogin(t, env, personEmail, ssoPassword))
			if ref == "" {
				t.Fatal("no reference code on the disabled page")
			}
			b.open("/admin", 200)
			b.fill("q", ref)
			b.submit("/admin", 200)
			b.see(tr("admin.event.title", "Ref", ref), tr("admin.reason.disabled"), "login.failure")
			look("ref")
			b.click(`main section a[href="/admin/people/`+personID+`"]`, 200)
			b.see("reported stolen")
			look("person-disabled")
			b.click(`main a[href="/admin/people/`+personID+`/events"]`, 200)
			b.heading(tr("admin.events.title"))
			b.see("helpdesk.disable", "helpdesk.unlock")
			look("events")

			// A notice, on every page in the reader's language.
			b.open("/admin/notices", 200)
			now := env.Clock.Now().In(time.FixedZone("EET", 2*3600))
			b.setValue("from", now.Add(-time.Hour).Format("2006-01-02T15:04"))
			b.setValue("until", now.Add(3*time.Hour).Format("2006-01-02T15:04"))
			b.fill("text_fi", "Huoltokatko lauantaina 8–12 ("+lang+")")
			b.fill("text_sv", "Underhåll på lördag 8–12 ("+lang+")")
			b.fill("text_en", "Maintenance on Saturday 8–12 ("+lang+")")
			b.submit("/admin/notices", 200)
			b.see(tr("admin.notices.added"))
			want := map[string]string{"fi": "Huoltokatko lauantaina", "sv": "Underhåll på lördag", "en": "Maintenance on Saturday"}[lang]
			if banner := b.text("section.banner"); !strings.Contains(banner, want) {
				t.Fatalf("banner %q lacks %q", banner, want)
			}
			look("notices")
			b.open("/admin/roles", 200)
			b.heading(tr("admin.roles.title"))
			b.see(staffEmail)
			look("roles")
			b.open("/admin/notices", 200)
			b.submit("/admin/notices/remove", 200)
			b.see(tr("admin.notices.removed"))
		})
	}
}

func lastConsoleEvent(t *testing.T, env *apptest.Env, accountID, kind, reason string) {
	t.Helper()
	events, err := env.App.Store.ListEvents(context.Background(), accountID, 50)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range events {
		if e.Kind == kind {
			if e.Reason != reason {
				t.Fatalf("%s reason %q, want %q", kind, e.Reason, reason)
			}
			return
		}
	}
	t.Fatalf("no %s event", kind)
}
