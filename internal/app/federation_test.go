package app_test

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/portti/portti/internal/account"
	"github.com/portti/portti/internal/app/apptest"
	"github.com/portti/portti/internal/authn"
	"github.com/portti/portti/internal/federation"
	"github.com/portti/portti/internal/proofing/proofingtest"
	"github.com/portti/portti/internal/storage"
)

// Sign-in with a home organisation end to end: portti as the relying
// party of an upstream OpenID provider (zitadel's op, started by the
// test), through the real wiring.

const (
	fedPerson = "111111-1111" // the upstream person; its subject is "u-" + this
	fedOther  = "222222-2222"
)

// startFederation runs an upstream provider and a portti that offers it
// (id "home") and a second organisation that is never contacted.
func startFederation(t *testing.T) (*apptest.Env, *proofingtest.Provider) {
	t.Helper()
	up := proofingtest.Start(t, "portti-fed",
		// The upstream asserts the e-mail address of a local account:
		// portti must never open that account by it.
		proofingtest.Person{Hetu: fedPerson, GivenName: "Aino", FamilyName: "Virtanen", Email: "aino@example.fi"},
		proofingtest.Person{Hetu: fedOther, GivenName: "Eero", FamilyName: "Korhonen", Email: "eero@example.fi"})
	file := `federation:
  providers:
    - id: home
      name: {fi: Tampereen korkeakoulu, sv: Tammerfors högskola, en: Tampere College}
      issuer: ` + up.URL + `
      client_id: portti-fed
      scopes: [openid, email]
      request_object: true
      encrypted_id_token: true
      trust_mfa: true
      acr_values: [https://refeds.org/profile/mfa, https://refeds.org/profile/sfa]
    - id: turku
      name: {fi: Turun yliopisto, sv: Åbo universitet, en: University of Turku}
      issuer: https://idp.utu.example
      client_id: portti
`
	env := apptest.StartWithFile(t, file, map[string]string{"PORTTI_KEY_ENCRYPTION_KEY": testKEK})
	up.SetClient(env.URL+"/federation/callback", env.URL+"/proofing/jwks.json")
	up.SetAuto(fedPerson)
	up.SetACR(authn.ACRPassword)
	return env, up
}

func TestFederationChooser(t *testing.T) {
	env, _ := startFederation(t)
	c := env.Browser(t)
	login := send(t, c, http.MethodGet, env.URL+"/login?return=/account", nil)
	if !strings.Contains(login.Body, `href="/federation/choose?return=%2faccount"`) {
		t.Fatalf("the login page does not offer the chooser:\n%s", login.Body)
	}
	all := send(t, c, http.MethodGet, env.URL+"/federation/choose", nil)
	if all.Status != http.StatusOK || !strings.Contains(all.Body, "Tampere College") || !strings.Contains(all.Body, "University of Turku") ||
		!strings.Contains(all.Body, "All organisations: 2") {
		t.Fatalf("chooser: %d\n%s", all.Status, all.Body)
	}
	// Tampere before Turku: sorted by name.
	if strings.Index(all.Body, "Tampere College") > strings.Index(all.Body, "University of Turku") {
		t.Fatal("the chooser is not sorted by name")
	}
	for _, tc := range []struct{ q, want, not string }{
		{"åbo", "University of Turku", "Tampere College"},        // the Swedish name, page in English
		{"TAMPEREEN", "Tampere College", "University of Turku"},  // Finnish, any case
		{"univ turku", "University of Turku", "Tampere College"}, // every word
	} {
		got := send(t, c, http.MethodGet, env.URL+"/federation/choose?"+url.Values{"q": {tc.q}}.Encode(), nil)
		if !strings.Contains(got.Body, tc.want) || strings.Contains(got.Body, ">"+tc.not+"<") || !strings.Contains(got.Body, ": 1</p>") {
			t.Fatalf("search %q: want %s only\n%s", tc.q, tc.want, got.Body)
		}
	}
	none := send(t, c, http.MethodGet, env.URL+"/federation/choose?q=harvard", nil)
	if !strings.Contains(none.Body, "No organisation matches") {
		t.Fatalf("empty search:\n%s", none.Body)
	}
	// In Finnish, the Finnish names.
	fi := send(t, c, http.MethodGet, env.URL+"/lang/fi?return=/federation/choose", nil)
	if !strings.Contains(fi.Body, "Tampereen korkeakoulu") || !strings.Contains(fi.Body, "Kirjaudu sisään kotiorganisaatiosi kautta") {
		t.Fatalf("chooser in Finnish:\n%s", fi.Body)
	}
	// An unknown organisation in a link.
	if got := send(t, c, http.MethodGet, env.URL+"/login?idp=nowhere", nil); got.Status != http.StatusNotFound {
		t.Fatalf("?idp=nowhere: %d", got.Status)
	}
}

func TestFederationNoLinkNeverByEmail(t *testing.T) {
	env, _ := startFederation(t)
	aino := addUser(t, env, "aino@example.fi", goodPassword)
	c := env.Browser(t)
	// ?idp= skips the chooser; the upstream says aino@example.fi, but no
	// link exists: no account opens.
	got := send(t, c, http.MethodGet, env.URL+"/login?idp=home&return=/account", nil)
	if got.Status != http.StatusForbidden || !strings.Contains(got.Body, "This identity is not linked to an account") ||
		!strings.Contains(got.Body, "never match accounts by email address") || !strings.Contains(got.Body, "Reference code") {
		t.Fatalf("no-link page: %d at %s\n%s", got.Status, got.URL, got.Body)
	}
	mustNotContain(t, got.Body, "aino@example.fi", "u-"+fedPerson)
	if acc := send(t, c, http.MethodGet, env.URL+"/account", nil); acc.URL.Path != "/login" {
		t.Fatalf("a session exists after an unlinked upstream sign-in: %s", acc.URL)
	}
	ss, err := env.App.Store.ListSessions(context.Background(), aino.ID)
	if err != nil || len(ss) != 0 {
		t.Fatalf("sessions of the e-mail's owner: %v %v", ss, err)
	}
	if !hasEvent(allEvents(t, env), federation.EventNoLink, "") {
		t.Fatal("no federation.unlinked event")
	}
	// The choice is remembered.
	back := send(t, c, http.MethodGet, env.URL+"/federation/choose", nil)
	if !strings.Contains(back.Body, "Continue with Tampere College") {
		t.Fatalf("the last choice is not offered:\n%s", back.Body)
	}
}

func TestFederationLinkAndSignIn(t *testing.T) {
	env, up := startFederation(t)
	aino := addUser(t, env, "aino@example.fi", goodPassword)
	addUser(t, env, "bert@example.fi", goodPassword)

	// Linking needs a local sign-in.
	anon := send(t, env.Browser(t), http.MethodGet, env.URL+"/federation/links", nil)
	if anon.URL.Path != "/login" {
		t.Fatalf("links page without a session: %s", anon.URL)
	}
	c := env.Browser(t)
	mustLogIn(t, env, c, "aino@example.fi", goodPassword)
	page := send(t, c, http.MethodGet, env.URL+"/federation/links", nil)
	if page.Status != http.StatusOK || !strings.Contains(page.Body, `name="idp" value="home"`) || !strings.Contains(page.Body, "No home organisation is linked") {
		t.Fatalf("links page: %d\n%s", page.Status, page.Body)
	}
	acct := send(t, c, http.MethodGet, env.URL+"/account", nil)
	if !strings.Contains(acct.Body, "/federation/links?account=") {
		t.Fatalf("the account area does not link to home organisations:\n%s", acct.Body)
	}
	linked := send(t, c, http.MethodPost, env.URL+"/federation/links", url.Values{"idp": {"home"}, "account": {aino.ID}})
	if linked.Status != http.StatusOK || !strings.Contains(linked.Body, "Your home organisation is now linked") || !strings.Contains(linked.Body, "Tampere College") {
		t.Fatalf("after linking: %d at %s\n%s", linked.Status, linked.URL, linked.Body)
	}
	l, err := env.App.Store.GetFederatedLink(context.Background(), "home", "u-"+fedPerson)
	if err != nil || l.AccountID != aino.ID || l.LinkedBy != "self" {
		t.Fatalf("link: %+v %v", l, err)
	}
	if !hasEvent(allEvents(t, env), federation.EventLinked, aino.ID) {
		t.Fatal("no federation.linked event")
	}
	// The owner is told, with how to report a link they did not make.
	msg := env.Mail(t, "aino@example.fi", "A home organisation was linked to your account")
	if !strings.Contains(msg.Text, "Tampere College") || !strings.Contains(msg.Text, "/password/forgot?email=") {
		t.Fatalf("link notice:\n%s", msg.Text)
	}

	// Now the home organisation opens the account, in a new browser.
	b := env.Browser(t)
	in := send(t, b, http.MethodGet, env.URL+"/login?idp=home&return=/account", nil)
	if in.Status != http.StatusOK || in.URL.Path != "/account" || !strings.Contains(in.Body, txtLoggedIn+"aino@example.fi") {
		t.Fatalf("upstream sign-in: %d at %s\n%s", in.Status, in.URL, in.Body)
	}
	fs := upstreamFactors(t, env, aino.ID)
	if fs[0].Method != federation.MethodFed {
		t.Fatalf("session factors: %+v", fs)
	}
	if amr := env.App.MFA.Registry().AMR(fs); !slices.Contains(amr, "fed") || slices.Contains(amr, "mfa") {
		t.Fatalf("amr of an upstream sign-in = %v", amr)
	}
	// A session begun at the home organisation cannot link another one:
	// linking wants the password.
	again := send(t, b, http.MethodPost, env.URL+"/federation/links", url.Values{"idp": {"home"}})
	if again.URL.Path != "/login" || again.URL.Query().Get("mfa") != "fresh" {
		t.Fatalf("linking from an upstream session: %s", again.URL)
	}

	// Another account cannot take the same upstream identity.
	c2 := env.Browser(t)
	mustLogIn(t, env, c2, "bert@example.fi", goodPassword)
	taken := send(t, c2, http.MethodPost, env.URL+"/federation/links", url.Values{"idp": {"home"}})
	if taken.Status != http.StatusConflict || !strings.Contains(taken.Body, "already linked to another account") {
		t.Fatalf("second link of one identity: %d\n%s", taken.Status, taken.Body)
	}

	// The owner removes the link: the home organisation opens nothing.
	rm := send(t, c, http.MethodPost, env.URL+"/federation/links/remove", url.Values{"idp": {"home"}, "subject": {"u-" + fedPerson}, "account": {aino.ID}})
	if !strings.Contains(rm.Body, "The link was removed") {
		t.Fatalf("unlink: %d\n%s", rm.Status, rm.Body)
	}
	if got := send(t, env.Browser(t), http.MethodGet, env.URL+"/login?idp=home", nil); got.Status != http.StatusForbidden {
		t.Fatalf("after unlinking: %d at %s", got.Status, got.URL)
	}
	_ = up
}

// An operator's pre-link (the CLI's federation.Link) opens the account;
// a second factor the account has is not skipped unless the trusted home
// organisation asserts MFA.
func TestFederationPreLinkAndMFA(t *testing.T) {
	env, up := startFederation(t)
	aino := addUser(t, env, "aino@example.fi", goodPassword)
	if err := federation.Link(context.Background(), env.App.Store, aino, "home", "u-"+fedPerson, "operator", account.Meta{ClientIP: "cli"}, env.Clock.Now(), nil); err != nil {
		t.Fatal(err)
	}
	c := env.Browser(t)
	mustLogIn(t, env, c, "aino@example.fi", goodPassword)
	enrolTOTP(t, env, c)

	got := send(t, env.Browser(t), http.MethodGet, env.URL+"/login?idp=home", nil)
	if got.Status != http.StatusForbidden || !strings.Contains(got.Body, "Two-step verification is needed") {
		t.Fatalf("upstream sign-in without MFA for an account with a second factor: %d\n%s", got.Status, got.Body)
	}
	up.SetACR(authn.ACRMFA)
	b := env.Browser(t)
	in := send(t, b, http.MethodGet, env.URL+"/login?idp=home", nil)
	if in.URL.Path != "/account" || !strings.Contains(in.Body, txtLoggedIn+"aino@example.fi") {
		t.Fatalf("upstream sign-in with MFA at home: %d at %s\n%s", in.Status, in.URL, in.Body)
	}
	fs := upstreamFactors(t, env, aino.ID)
	if fs[0].Method != federation.MethodFedMFA || !env.App.MFA.Registry().MultiFactor(fs) {
		t.Fatalf("factors of an MFA-at-home sign-in: %+v", fs)
	}
}

// upstreamFactors returns the factors of the account's session begun at a
// home organisation.
func upstreamFactors(t *testing.T, env *apptest.Env, accountID string) []storage.AuthFactor {
	t.Helper()
	ss, err := env.App.Store.ListSessions(context.Background(), accountID)
	if err != nil {
		t.Fatal(err)
	}
	for _, se := range ss {
		if len(se.Factors) > 0 && !federation.Local(se.Factors) {
			return se.Factors
		}
	}
	t.Fatalf("no session begun at a home organisation among %+v", ss)
	return nil
}

func TestFederationCallbackChecks(t *testing.T) {
	env, _ := startFederation(t)
	c := env.Browser(t)
	// No flow in this browser.
	if got := send(t, c, http.MethodGet, env.URL+"/federation/callback?state=x&code=y", nil); got.Status != http.StatusGone {
		t.Fatalf("callback without a flow: %d", got.Status)
	}
	// A flow, and an answer with another state: refused with a
	// reference code, the flow left for the real answer.
	noRedirect := *c
	noRedirect.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	start := send(t, &noRedirect, http.MethodGet, env.URL+"/federation/start?idp=home", nil)
	if start.Status != http.StatusSeeOther {
		t.Fatalf("start: %d", start.Status)
	}
	bad := send(t, c, http.MethodGet, env.URL+"/federation/callback?state=forged&code=y", nil)
	if bad.Status != http.StatusBadGateway || !strings.Contains(bad.Body, "Reference code") {
		t.Fatalf("forged state: %d\n%s", bad.Status, bad.Body)
	}
	// The provider's error (the person cancelled) with the right state
	// is not possible to forge here; a duplicated parameter is refused.
	dup := send(t, c, http.MethodGet, env.URL+"/federation/callback?state=a&state=b&code=y", nil)
	if dup.Status != http.StatusBadGateway {
		t.Fatalf("duplicated state: %d", dup.Status)
	}
}
