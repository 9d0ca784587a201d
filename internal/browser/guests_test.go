package browser

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/portti/portti/internal/account"
	"github.com/portti/portti/internal/app/apptest"
	"github.com/portti/portti/internal/guests"
	"github.com/portti/portti/internal/i18n"
	"github.com/portti/portti/internal/mail/smtptest"
	"github.com/portti/portti/internal/proofing/proofingtest"
)

// TestBrowserGuests walks a guest's acceptance in each language with a
// home organisation offered: the page (also at 320 px), a refused
// password, acceptance with a password, the spent link; in English also
// acceptance at the home organisation. Screenshots <lang>-guests-*.png,
// every page checked with axe-core.
func TestBrowserGuests(t *testing.T) {
	startChromium(t)
	up := proofingtest.Start(t, "portti-browser-guests")
	file := `federation:
  providers:
    - id: home
      name: {fi: Tampereen korkeakoulu, sv: Tammerfors högskola, en: Tampere College}
      issuer: ` + up.URL + `
      client_id: portti-browser-guests
      request_object: true
      encrypted_id_token: true
`
	env := apptest.StartWithFile(t, file, map[string]string{"PORTTI_KEY_ENCRYPTION_KEY": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="})
	up.SetClient(env.URL+"/federation/callback", env.URL+"/proofing/jwks.json")
	cat, err := i18n.Load()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	invite := func(t *testing.T, email, lang string) string {
		t.Helper()
		if _, err := env.App.Guests.Invite(ctx, guests.Inviter{}, email, env.Clock.Now().AddDate(0, 2, 0), "Tutkimushanke Kide", lang, account.Meta{ClientIP: "test"}); err != nil {
			t.Fatal(err)
		}
		m := env.SMTP.WaitFor(t, smtptest.To(email), 10*time.Second)
		for _, l := range smtptest.Links(m) {
			if strings.HasPrefix(l, env.URL+"/guests/accept?code=") {
				return strings.TrimPrefix(l, env.URL)
			}
		}
		t.Fatalf("no acceptance link in %q", m.Subject)
		return ""
	}
	for i, lang := range []string{"fi", "sv", "en"} {
		t.Run(lang, func(t *testing.T) {
			tr := func(key string, args ...any) string {
				m := map[string]any{}
				for i := 0; i+1 < len(args); i += 2 {
					m[args[i].(string)] = args[i+1]
				}
				return cat.T(lang, key, m)
			}
			b := newTabFor(t, env, 3*time.Minute)
			shot := func(name string) {
				t.Helper()
				b.screenshot(lang + "-guests-" + name)
				b.checkAxe(lang + "-guests-" + name)
			}
			b.open("/lang/"+lang+"?return=/login", 200)
			link := invite(t, "vieras."+lang+"@example.org", lang)
			b.open(link, 200)
			b.heading(tr("guests.accept.title"))
			b.see(tr("guests.accept.home.heading"), "vieras."+lang+"@example.org")
			shot("accept")

			// A password the policy refuses: the errors, nothing lost.
			b.fill("password", "lyhyt")
			b.fill("password_confirm", "lyhyt")
			b.submit("/guests/accept", 422)
			shot("accept-error")
			pw := fmt.Sprintf("vierailija järvellä kesällä %d", i)
			b.fill("password", pw)
			b.fill("password_confirm", pw)
			b.submit("/guests/accept", 200)
			b.heading(tr("guests.accepted.title"))
			shot("accepted")

			// The spent link.
			b.open(link, 410)
			b.heading(tr("guests.link_invalid.title"))
			shot("link-invalid")

			// The page at 320 px.
			n := newTabFor(t, env, time.Minute)
			n.open("/lang/"+lang+"?return=/login", 200)
			n.narrow()
			n.open(invite(t, "kapea."+lang+"@example.org", lang), 200)
			n.noSidewaysScroll(lang + "-guests-accept")

			if lang != "en" {
				return
			}
			// Accept at the home organisation.
			hetu := "010190-123A"
			up.AddPerson(proofingtest.Person{Hetu: hetu, GivenName: "Vieras", FamilyName: "Vierailija"})
			h := newTabFor(t, env, 3*time.Minute)
			h.open(invite(t, "koti@example.org", "en"), 200)
			h.click(`form[action="/guests/accept/home"] button[type=submit]`, 0)
			if !strings.HasPrefix(h.location(), up.URL) {
				t.Fatalf("not at the home organisation: %s", h.location())
			}
			h.click(fmt.Sprintf(`button[name=hetu][value=%q]`, hetu), 200)
			h.heading(tr("guests.accepted.title"))
			h.see(tr("guests.accepted.home"))
			h.screenshot("en-guests-accepted-home")
			h.checkAxe("en-guests-accepted-home")
		})
	}
}
