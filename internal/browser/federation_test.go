package browser

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/portti/portti/internal/account"
	"github.com/portti/portti/internal/app/apptest"
	"github.com/portti/portti/internal/i18n"
	"github.com/portti/portti/internal/proofing/proofingtest"
)

// TestBrowserFederation walks sign-in with a home organisation in each
// language, through a real upstream OpenID provider's page (choose a
// test person): the chooser from /login and its server-side search, the
// page for an upstream identity linked to no account, linking the home
// organisation from the account area after a password sign-in, and then
// signing in with it through /login?idp=. Every page of portti's is
// screenshotted as <lang>-federation-*.png and checked with axe-core.
func TestBrowserFederation(t *testing.T) {
	startChromium(t)
	up := proofingtest.Start(t, "portti-browser-fed")
	file := `federation:
  providers:
    - id: home
      name: {fi: Tampereen korkeakoulu, sv: Tammerfors högskola, en: Tampere College}
      issuer: ` + up.URL + `
      client_id: portti-browser-fed
      request_object: true
      encrypted_id_token: true
    - id: turku
      name: {fi: Turun yliopisto, sv: Åbo universitet, en: University of Turku}
      issuer: https://idp.utu.example
      client_id: portti
`
	env := apptest.StartWithFile(t, file, map[string]string{"PORTTI_KEY_ENCRYPTION_KEY": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="})
	up.SetClient(env.URL+"/federation/callback", env.URL+"/proofing/jwks.json")
	cat, err := i18n.Load()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i, lang := range []string{"fi", "sv", "en"} {
		t.Run(lang, func(t *testing.T) {
			tr := func(key string, args ...any) string {
				m := map[string]any{}
				for i := 0; i+1 < len(args); i += 2 {
					m[args[i].(string)] = args[i+1]
				}
				return cat.T(lang, key, m)
			}
			hetu := fmt.Sprintf("0%d0290-34%dB", i+1, i)
			up.AddPerson(proofingtest.Person{Hetu: hetu, GivenName: "Maija", FamilyName: "Meikäläinen"})
			email := "maija.fed." + lang + "@example.fi"
			p := maija(email)
			if _, err := env.App.Accounts.AddUser(ctx, email, account.Profile{GivenName: "Maija", FamilyName: "Meikäläinen"}, p.password, account.Meta{ClientIP: "test", Lang: "en"}); err != nil {
				t.Fatal(err)
			}
			b := newTabFor(t, env, 3*time.Minute)
			shot := func(name string) {
				t.Helper()
				b.screenshot(lang + "-federation-" + name)
				b.checkAxe(lang + "-federation-" + name)
			}
			atUpstream := func() {
				t.Helper()
				if !strings.HasPrefix(b.location(), up.URL) {
					t.Fatalf("not at the home organisation: %s", b.location())
				}
				b.click(fmt.Sprintf(`button[name=hetu][value=%q]`, hetu), 0)
			}

			// 1. The chooser from /login, and its search (no JavaScript).
			b.open("/login", 200)
			if lang != "en" {
				b.click(fmt.Sprintf(`header nav a[hreflang=%q]`, lang), 200)
			}
			b.see(tr("federation.login.heading"))
			b.click(`main a[href^="/federation/choose"]`, 200)
			b.heading(tr("federation.choose.title"))
			b.see(tr("federation.choose.all", "Count", 2))
			shot("chooser")
			b.fill("q", "turku")
			b.submit("/federation/choose", 200)
			b.see(tr("federation.choose.count", "Count", 1, "Query", "turku"))
			name := map[string]string{"fi": "Tampereen korkeakoulu", "sv": "Tammerfors högskola", "en": "Tampere College"}[lang]
			if strings.Contains(b.mainText(), name) {
				t.Fatal("the search did not filter")
			}
			shot("chooser-search")

			// 2. The home organisation, with no link: a clear page.
			b.open("/federation/choose", 200)
			b.click(`main a[href^="/federation/start?idp=home"]`, 0)
			atUpstream()
			b.heading(tr("federation.nolink.title"))
			shot("nolink")

			// The choice is remembered.
			b.open("/federation/choose", 200)
			b.see(tr("federation.choose.continue", "Provider", name))
			shot("chooser-remembered")

			// 3. Link it from the account area after a password sign-in.
			b.open("/login", 200)
			b.logIn(email, p.password, false, 200)
			b.click(`main a[href^="/federation/links"]`, 200)
			b.heading(tr("federation.links.title"))
			shot("links")
			b.click(`main button[name=idp][value=home]`, 0)
			atUpstream()
			b.at("/federation/links")
			b.see(tr("federation.links.notice.linked"), name)
			shot("linked")

			// 4. Sign in with it, in a new browser, through ?idp=.
			c := newTabFor(t, env, 3*time.Minute)
			c.open("/lang/"+lang+"?return=/login", 200)
			c.open("/login?idp=home", 0)
			if !strings.HasPrefix(c.location(), up.URL) {
				t.Fatalf("?idp= did not go to the home organisation: %s", c.location())
			}
			c.click(fmt.Sprintf(`button[name=hetu][value=%q]`, hetu), 200)
			c.at("/account")
			c.see(email)
		})
	}
}
