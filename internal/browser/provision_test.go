package browser

import (
	"context"
	"testing"

	"golang.org/x/oauth2"

	"github.com/portti/portti/internal/app/apptest"
	"github.com/portti/portti/internal/oidc"
	"github.com/portti/portti/internal/storage"
)

// TestBrowserGroupRestrictedApp: an application limited to a group stops
// the sign-in of a person outside it at a page naming the application and
// the account, in each language, with 403, axe-core clean, with
// screenshots (<lang>-group-restricted.png); its link leads to the login
// form for another account, and a member goes through.
func TestBrowserGroupRestrictedApp(t *testing.T) {
	startChromium(t)
	env := apptest.Start(t, nil)
	ctx := context.Background()
	aino := addPerson(t, env, "aino@example.fi", "Aino", "Virtanen")
	eero := addPerson(t, env, "eero@example.fi", "Eero", "Korhonen")
	for _, id := range []string{aino, eero} {
		if err := env.App.Store.CreateProvisioned(ctx, storage.Provisioned{AccountID: id, State: storage.ProvisionActive}); err != nil {
			t.Fatal(err)
		}
	}
	if err := env.App.Store.CreateGroup(ctx, storage.Group{ID: "g1", DisplayName: "Staff", Members: []string{eero}}); err != nil {
		t.Fatal(err)
	}
	app := newApplication(t, env, oidc.ClientSpec{ID: "intranet", Name: "Staff intranet", AllowedGroups: []string{"Staff"}})
	b := newTab(t, env)
	v := oauth2.GenerateVerifier()
	b.open(app.authorizeURL(v), 200)
	b.at("/login")
	b.logIn("aino@example.fi", ssoPassword, false, 403)
	for _, lang := range []string{"fi", "sv", "en"} {
		b.switchTo(lang, 403)
		b.at(oidc.PathContinue)
		b.heading(catalog(t).T(lang, "provision.groups.heading", map[string]any{"App": "Staff intranet"}))
		b.see(catalog(t).T(lang, "provision.groups.message", map[string]any{"App": "Staff intranet", "Email": "aino@example.fi"}))
		b.checkAxe(lang + "-group-restricted")
		b.screenshot(lang + "-group-restricted")
	}
	app.mu.Lock()
	if app.last != nil {
		t.Errorf("the application was reached: %v", app.last)
	}
	app.mu.Unlock()

	// Another account, from the page's own link: Eero is in Staff.
	b.click(`main a[href*="another=1"]`, 200)
	b.at("/login")
	b.logIn("eero@example.fi", ssoPassword, false, 200)
	app.arrivedAt(b, "/callback")
	if sub := app.subject(v); sub != eero {
		t.Errorf("member: sub %s, want %s", sub, eero)
	}
}

// TestBrowserRegistryOnlyRegistration: the registration form refuses an
// address of a registry-only domain in each language, saying where the
// account comes from, as an accessible field error (axe-core clean,
// screenshots <lang>-registry-only.png); nothing is created.
func TestBrowserRegistryOnlyRegistration(t *testing.T) {
	startChromium(t)
	env := apptest.Start(t, map[string]string{"PORTTI_PROVISION_REGISTRY_ONLY": "*@student.example.fi"})
	b := newTab(t, env)
	b.open("/register", 200)
	for _, lang := range []string{"fi", "sv", "en"} {
		b.switchTo(lang, 200)
		b.fillRegistration(maija("maija@student.example.fi"))
		b.submit("/register", 422)
		b.checkErrors(map[string]string{"email": catalog(t).T(lang, "provision.register.refused", map[string]any{"Domain": "@student.example.fi"})})
		b.checkAxe(lang + "-registry-only")
		b.screenshot(lang + "-registry-only")
	}
	if _, err := env.App.Store.GetAccountByEmail(context.Background(), "maija@student.example.fi"); err == nil {
		t.Fatal("an account was created")
	}
}
