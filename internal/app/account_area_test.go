package app_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/portti/portti/internal/app/apptest"
	"github.com/portti/portti/internal/oidc"
)

// TestAccountApplications (issue 7 point 9): the account page lists the
// applications the person signed in to, under the account area's
// navigation; "remove access" revokes the application's tokens and
// consent, is audited, and is refused from another site and for an
// application that holds nothing.
func TestAccountApplications(t *testing.T) {
	env := apptest.Start(t, nil)
	aino := addSSOUser(t, env, "aino@example.fi", "Aino", "Virtanen")
	wiki := newSSOApp(t, env, oidc.ClientSpec{ID: "wiki", Name: "Campus wiki"})
	newSSOApp(t, env, oidc.ClientSpec{ID: "unused", Name: "Unused app"})
	c := env.Browser(t)
	res := wiki.signIn(c, "aino@example.fi")
	if res.token.RefreshToken == "" {
		t.Fatal("no refresh token (offline_access)")
	}

	a := signedInAs(t, env, c, "aino@example.fi")
	for _, key := range []string{"account.nav.profile", "account.nav.security", "account.nav.browsers", "account.apps"} {
		mustContainText(t, a.Body, enText(key))
	}
	mustContainText(t, a.Body, `<nav class="subnav"`, `href="/account?account=`+aino.ID+`#browsers"`, "Campus wiki", `name="client_id" value="wiki"`)
	mustNotContainText(t, a.Body, "Unused app")

	// From another site: refused, nothing removed.
	cross := send(t, c, http.MethodPost, env.URL+"/account/apps/remove", url.Values{"account_id": {aino.ID}, "client_id": {"wiki"}},
		"Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example")
	if cross.Status != http.StatusForbidden {
		t.Fatalf("cross-site remove: %d", cross.Status)
	}
	// An application that holds nothing: nothing to say about it.
	if a := send(t, c, http.MethodPost, env.URL+"/account/apps/remove", url.Values{"account_id": {aino.ID}, "client_id": {"unused"}}); a.Status != http.StatusNotFound {
		t.Fatalf("remove an unused application: %d", a.Status)
	}

	a = send(t, c, http.MethodPost, env.URL+"/account/apps/remove", url.Values{"account_id": {aino.ID}, "client_id": {"wiki"}})
	if a.Status != http.StatusOK || a.URL.Path != "/account" {
		t.Fatalf("remove access: %d at %s\n%s", a.Status, a.URL, a.Body)
	}
	mustContainText(t, a.Body, enText("notice.app_removed"), enText("account.apps.none"))
	mustNotContainText(t, a.Body, `name="client_id" value="wiki"`)

	// The refresh token is dead, and the access token with it.
	if _, err := wiki.conf.TokenSource(context.Background(), &oauth2.Token{RefreshToken: res.token.RefreshToken}).Token(); err == nil {
		t.Error("the refresh token still works after remove access")
	}
	intro := postJSON(t, env.URL+oidc.PathIntrospect, url.Values{"token": {res.token.AccessToken}}, "wiki", wiki.conf.ClientSecret)
	if intro["active"] != false {
		t.Errorf("the access token is still active after remove access: %v", intro)
	}
	found := false
	for _, e := range allEvents(t, env) {
		found = found || (e.Kind == "app.access_removed" && e.AccountID == aino.ID && strings.Contains(e.Reason, "wiki"))
	}
	if !found {
		t.Error("no app.access_removed audit event")
	}
}

// TestTermsLinks (issue 7 point 8): terms_url (one per language) and
// privacy_url (one for all) are linked from the registration form's
// acceptance label, in the page's language, and from the e-mail; the
// accepted terms version is stored with the account.
func TestTermsLinks(t *testing.T) {
	env := apptest.Start(t, map[string]string{
		"PORTTI_TERMS_URL":   "fi=https://example.fi/kayttoehdot,sv=https://example.fi/villkor,en=https://example.fi/terms",
		"PORTTI_PRIVACY_URL": "https://example.fi/privacy",
	})
	for lang, terms := range map[string]string{"fi": "https://example.fi/kayttoehdot", "sv": "https://example.fi/villkor", "en": "https://example.fi/terms"} {
		a := send(t, newBrowser(t, "Accept-Language", lang), http.MethodGet, env.URL+"/register", nil)
		label := a.Body[strings.Index(a.Body, `<label for="accept_terms">`):]
		label = label[:strings.Index(label, "</label>")]
		mustContainText(t, label, `<a href="`+terms+`" target="_blank" rel="noopener">`+catalogText(lang, "register.terms_link"),
			`<a href="https://example.fi/privacy" target="_blank" rel="noopener">`+catalogText(lang, "register.privacy_link"))
	}
	const email = "terms@example.fi"
	if a := send(t, newBrowser(t), http.MethodPost, env.URL+"/register", registration(email, goodPassword)); a.Status != http.StatusOK {
		t.Fatalf("register: %d\n%s", a.Status, a.Body)
	}
	m := env.Mail(t, email, "")
	if !strings.Contains(m.Text, "Terms of use: https://example.fi/terms") || !strings.Contains(m.HTML, `href="https://example.fi/privacy"`) {
		t.Errorf("the activation mail does not link the terms and the privacy notice:\n%s", m.Text)
	}
	acc := storedAccount(t, env, email)
	if acc.TermsVersion != env.App.Config.TermsVersion || acc.TermsAcceptedAt.IsZero() {
		t.Errorf("accepted terms: version %q at %v", acc.TermsVersion, acc.TermsAcceptedAt)
	}
}

// TestSayWhereFromAndWhatHappened (issue 7 point 10): the login page names
// the application that sent the person there (from the pending sign-in,
// not from anything in the URL); a browser signed out from elsewhere says
// why on its next page, once; confirming a new address in a browser
// signed in to the account keeps it signed in; the new-password fields
// say "New password".
func TestSayWhereFromAndWhatHappened(t *testing.T) {
	env := apptest.Start(t, nil)
	acc := addSSOUser(t, env, "aino@example.fi", "Aino", "Virtanen")

	t.Run("login names the application", func(t *testing.T) {
		wiki := newSSOApp(t, env, oidc.ClientSpec{ID: "wiki", Name: "Campus wiki"})
		f := wiki.begin(browserFrom(t, env, "", "fi"))
		if !f.at("/login") {
			t.Fatalf("at %s", f.resp.Request.URL)
		}
		mustContainText(t, f.page, catalogText("fi", "login.for_app", "App", "Campus wiki"))
		// A made-up return address names nothing.
		a := send(t, newBrowser(t), http.MethodGet, env.URL+"/login?return="+url.QueryEscape(oidc.PathContinue+"?id=made-up"), nil)
		mustNotContainText(t, a.Body, "continue to")
	})

	t.Run("signed out by a password change elsewhere", func(t *testing.T) {
		here, there := newBrowser(t), newBrowser(t)
		signIn(t, env, here, acc.Email, ssoPassword, false)
		signIn(t, env, there, acc.Email, ssoPassword, false)
		a := send(t, here, http.MethodPost, env.URL+"/account/password", url.Values{"account_id": {acc.ID}, "form": {"password"},
			"current_password": {ssoPassword}, "password": {goodPassword}, "password_confirm": {goodPassword}})
		if a.Status != http.StatusOK {
			t.Fatalf("change password: %d\n%s", a.Status, a.Body)
		}
		a = signedInAs(t, env, there, "")
		mustContainText(t, a.Body, enText("notice.ended.password_changed"))
		// Said once.
		a = send(t, there, http.MethodGet, env.URL+"/login", nil)
		mustNotContainText(t, a.Body, enText("notice.ended.password_changed"))
		signIn(t, env, there, acc.Email, goodPassword, false)
		signIn(t, env, here, acc.Email, goodPassword, false)
		// "Sign out of every browser" from the other browser.
		if a := send(t, there, http.MethodPost, env.URL+"/account/sessions/end-all", url.Values{"account_id": {acc.ID}}); a.Status != http.StatusOK {
			t.Fatalf("end all: %d", a.Status)
		}
		a = signedInAs(t, env, here, "")
		mustContainText(t, a.Body, enText("notice.ended.signed_out_elsewhere"))
		// The browser that did it is told what it did, not that it was
		// signed out from elsewhere.
		a = send(t, there, http.MethodGet, env.URL+"/login", nil)
		mustNotContainText(t, a.Body, enText("notice.ended.signed_out_elsewhere"))
	})

	t.Run("new password labels", func(t *testing.T) {
		c := newBrowser(t)
		a := signIn(t, env, c, acc.Email, goodPassword, false)
		mustContainText(t, fieldHTML(t, a.Body, "password-password"), ">"+enText("field.new_password")+" <")
		mustContainText(t, fieldHTML(t, a.Body, "password-password_confirm"), ">"+enText("field.new_password_confirm")+" <")
		a = send(t, c, http.MethodGet, env.URL+"/register", nil)
		mustContainText(t, fieldHTML(t, a.Body, "password"), ">"+enText("field.password")+" <")
	})

	t.Run("confirm a new address while signed in", func(t *testing.T) {
		c := newBrowser(t)
		signIn(t, env, c, acc.Email, goodPassword, false)
		const next = "aino.virtanen@example.fi"
		a := send(t, c, http.MethodPost, env.URL+"/account/email", url.Values{"account_id": {acc.ID}, "form": {"email"},
			"new_email": {next}, "current_password": {goodPassword}})
		if a.Status != http.StatusOK {
			t.Fatalf("change address: %d\n%s", a.Status, a.Body)
		}
		link := env.Link(t, env.Mail(t, next, ""), "/email/confirm")
		a = send(t, c, http.MethodGet, link, nil)
		a = send(t, c, http.MethodPost, env.URL+"/email/confirm", url.Values{"token": {hiddenValue(t, a.Body, "token")}})
		if a.Status != http.StatusOK || a.URL.Path != "/account" {
			t.Fatalf("confirm while signed in: %d at %s, want the account page\n%s", a.Status, a.URL, a.Body)
		}
		mustContainText(t, a.Body, enText("notice.email_changed_here"), enText("account.signed_in_as", "Email", next))
	})
}
