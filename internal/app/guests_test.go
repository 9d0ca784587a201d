package app_test

import (
	"context"
	"errors"
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/portti/portti/internal/account"
	"github.com/portti/portti/internal/app/apptest"
	"github.com/portti/portti/internal/guests"
	"github.com/portti/portti/internal/oidc"
	"github.com/portti/portti/internal/storage"
)

const guestPassword = "vierailija kesällä järvellä"

// inviterConsole signs an inviter in with a password and an
// authenticator app and returns the browser on /admin/guests.
func inviterConsole(t *testing.T, env *apptest.Env, email string) *http.Client {
	t.Helper()
	c := newBrowser(t)
	if a := send(t, c, http.MethodPost, env.URL+"/login", url.Values{"email": {email}, "password": {goodPassword}}); a.Status != http.StatusOK {
		t.Fatalf("login %s: %d at %s", email, a.Status, a.URL)
	}
	// Without a second factor in the session: sign in again with one.
	if a := send(t, c, http.MethodGet, env.URL+"/admin/guests", nil); a.URL.Path != "/login" || a.URL.Query().Get("mfa") != "fresh" {
		t.Fatalf("inviter without a second factor: %d at %s", a.Status, a.URL)
	}
	enrolTOTP(t, env, c)
	a := send(t, c, http.MethodGet, env.URL+"/admin/guests", nil)
	if a.Status != http.StatusOK || a.URL.Path != "/admin/guests" {
		t.Fatalf("inviters' page: %d at %s\n%s", a.Status, a.URL, a.Body)
	}
	mustContainText(t, a.Body, enText("guests.invite.title"))
	return c
}

// TestGuestInvitation: an inviter invites from the console, the guest
// accepts with a password, the account is a guest's with the
// invitation's end date, signs in, and its id_token says guest; the
// link works once; an expired link and an address with an account.
func TestGuestInvitation(t *testing.T) {
	env := apptest.Start(t, nil)
	ctx := context.Background()
	addUser(t, env, "kutsuja@example.fi", goodPassword)
	addUser(t, env, "tuki@example.fi", goodPassword)
	aino := addUser(t, env, "aino@example.fi", goodPassword)
	grant(t, env, "kutsuja@example.fi", storage.RoleGuestInviter)
	grant(t, env, "tuki@example.fi", storage.RoleHelpdesk)

	// A helpdesk member is no inviter; an inviter is no helpdesk member.
	hd := newBrowser(t)
	signIn(t, env, hd, "tuki@example.fi", goodPassword, false)
	if a := send(t, hd, http.MethodGet, env.URL+"/admin/guests", nil); a.Status != http.StatusForbidden {
		t.Fatalf("helpdesk on the inviters' page: %d", a.Status)
	}
	c := inviterConsole(t, env, "kutsuja@example.fi")
	if a := send(t, c, http.MethodGet, env.URL+"/admin", nil); a.Status != http.StatusForbidden {
		t.Fatalf("a guest inviter in the helpdesk console: %d at %s", a.Status, a.URL)
	}

	// Bad input: each field named, nothing stored.
	today := env.Clock.Now().In(guests.Helsinki)
	bad := send(t, c, http.MethodPost, env.URL+"/admin/guests", url.Values{"email": {"not an address"},
		"until": {today.AddDate(0, 0, -1).Format(time.DateOnly)}, "note": {"x"}, "lang": {"en"}})
	if bad.Status != http.StatusUnprocessableEntity {
		t.Fatalf("bad invitation: %d\n%s", bad.Status, bad.Body)
	}
	mustContainText(t, bad.Body, enText("guests.error.until_past"))
	far := send(t, c, http.MethodPost, env.URL+"/admin/guests", url.Values{"email": {"vieras@example.org"},
		"until": {today.AddDate(2, 0, 0).Format(time.DateOnly)}, "lang": {"en"}})
	mustContainText(t, far.Body, enText("guests.error.until_far"))
	if list, _ := env.App.Store.ListInvitations(ctx, "", 10); len(list) != 0 {
		t.Fatalf("refused invitations stored: %+v", list)
	}

	until := today.AddDate(0, 3, 0).Format(time.DateOnly)
	sent := send(t, c, http.MethodPost, env.URL+"/admin/guests", url.Values{"email": {"Vieras@Example.org"},
		"until": {until}, "note": {"Tutkimushanke Kide"}, "lang": {"en"}})
	if sent.Status != http.StatusOK || sent.URL.Path != "/admin/guests" {
		t.Fatalf("invite: %d at %s\n%s", sent.Status, sent.URL, sent.Body)
	}
	mustContainText(t, sent.Body, enText("guests.invite.sent", "Email", "vieras@example.org"), "Tutkimushanke Kide", enText("guests.invite.state.open"))
	msg := env.Mail(t, "vieras@example.org", "You are invited as a guest")
	mustContain(t, msg.Text, "kutsuja@example.fi invites you", "Tutkimushanke Kide")
	link := env.Link(t, msg, "/guests/accept?code=")
	code := strings.TrimPrefix(link, env.URL+"/guests/accept?code=")
	inv, err := env.App.Store.GetInvitationByToken(ctx, "x")
	if !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("lookup by a wrong hash: %+v %v", inv, err)
	}
	list, err := env.App.Store.ListInvitations(ctx, "", 10)
	if err != nil || len(list) != 1 || list[0].TokenHash == code || strings.Contains(list[0].TokenHash, code) {
		t.Fatalf("stored invitation: %+v %v (the code must be stored hashed)", list, err)
	}
	if ev := lastEvent(t, env, list[0].InvitedBy, guests.EventInvited); !strings.Contains(ev.Reason, list[0].ID) || ev.Email != "vieras@example.org" {
		t.Fatalf("invited event: %+v", ev)
	}

	// The guest opens the link (another browser).
	g := newBrowser(t)
	page := send(t, g, http.MethodGet, link, nil)
	if page.Status != http.StatusOK {
		t.Fatalf("acceptance page: %d\n%s", page.Status, page.Body)
	}
	mustContainText(t, page.Body, enText("guests.accept.title"), "kutsuja@example.fi", "vieras@example.org")
	if page.Header.Get("Referrer-Policy") != "no-referrer" {
		t.Errorf("Referrer-Policy %q", page.Header.Get("Referrer-Policy"))
	}
	// The password policy applies; nothing is created by a refusal.
	weak := send(t, g, http.MethodPost, env.URL+"/guests/accept", url.Values{"code": {code}, "password": {"short"}, "password_confirm": {"short"}})
	if weak.Status != http.StatusUnprocessableEntity {
		t.Fatalf("weak password: %d\n%s", weak.Status, weak.Body)
	}
	noAccount(t, env, "vieras@example.org")
	ok := send(t, g, http.MethodPost, env.URL+"/guests/accept", url.Values{"code": {code}, "password": {guestPassword}, "password_confirm": {guestPassword}})
	if ok.Status != http.StatusOK {
		t.Fatalf("accept: %d\n%s", ok.Status, ok.Body)
	}
	mustContainText(t, ok.Body, enText("guests.accepted.title"))
	acc := storedAccount(t, env, "vieras@example.org")
	if !acc.Activated() || acc.PasswordHash == "" {
		t.Fatalf("guest account not active with a password: %+v", acc)
	}
	pa, err := env.App.Store.GetProvisioned(ctx, acc.ID)
	wantEnd, _ := guests.ParseUntil(until)
	if err != nil || pa.Provisioned.UserType != "guest" || !pa.Provisioned.EndsAt.Equal(wantEnd) ||
		pa.Provisioned.State != storage.ProvisionActive || pa.Provisioned.Source != storage.ProvisionSourceInvitation {
		t.Fatalf("guest's registry record: %+v %v", pa.Provisioned, err)
	}
	if ev := lastEvent(t, env, acc.ID, guests.EventAccepted); !strings.Contains(ev.Reason, "password") {
		t.Fatalf("accepted event: %+v", ev)
	}
	// Used: the link works no more, on GET or POST.
	for _, a := range []answer{
		send(t, newBrowser(t), http.MethodGet, link, nil),
		send(t, newBrowser(t), http.MethodPost, env.URL+"/guests/accept", url.Values{"code": {code}, "password": {guestPassword}, "password_confirm": {guestPassword}}),
	} {
		if a.Status != http.StatusGone {
			t.Fatalf("used link: %d\n%s", a.Status, a.Body)
		}
		mustContainText(t, a.Body, enText("guests.link_invalid"))
	}
	send(t, c, http.MethodGet, env.URL+"/admin/guests", nil)
	if a := send(t, c, http.MethodGet, env.URL+"/admin/guests", nil); !strings.Contains(html.UnescapeString(a.Body), enText("guests.invite.state.accepted")) {
		t.Errorf("the console does not show the acceptance:\n%s", a.Body)
	}

	// The guest signs in to an application, which is told "guest".
	rp := newRelyingParty(t)
	_, secret, err := oidc.RegisterClient(ctx, env.App.Store, oidc.ClientSpec{ID: "wiki", Name: "Wiki", RedirectURIs: []string{rp.redirectURI()}}, env.Clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	provider, err := gooidc.NewProvider(ctx, env.URL)
	if err != nil {
		t.Fatal(err)
	}
	conf := &oauth2.Config{ClientID: "wiki", ClientSecret: secret, Endpoint: provider.Endpoint(), RedirectURL: rp.redirectURI(),
		Scopes: []string{gooidc.ScopeOpenID, "portti_user_type"}}
	state, pkce := oauth2.GenerateVerifier()[:20], oauth2.GenerateVerifier()
	resp, body := browse(t, g, conf.AuthCodeURL(state, oauth2.S256ChallengeOption(pkce)))
	ret, _ := loginForm(t, resp, body)
	if status, body := post(t, g, env.URL+"/login", url.Values{"email": {"vieras@example.org"}, "password": {guestPassword}, "return": {ret}}); status != http.StatusOK {
		t.Fatalf("guest sign-in: %d\n%s", status, body)
	}
	cb := rp.callback()
	if cb == nil {
		t.Fatal("no callback after the guest's sign-in")
	}
	tok, err := conf.Exchange(ctx, cb.Get("code"), oauth2.VerifierOption(pkce))
	if err != nil {
		t.Fatal(err)
	}
	idt, err := provider.Verifier(&gooidc.Config{ClientID: "wiki", Now: env.Clock.Now}).Verify(ctx, tok.Extra("id_token").(string))
	if err != nil {
		t.Fatal(err)
	}
	var claims struct {
		UserType string `json:"portti_user_type"`
	}
	if err := idt.Claims(&claims); err != nil || claims.UserType != "guest" {
		t.Fatalf("id_token portti_user_type = %q (%v), want guest", claims.UserType, err)
	}

	// An address with an account: the page says to sign in, and the
	// invitation creates no second account.
	if _, err := env.App.Guests.Invite(ctx, guests.Inviter{}, "aino@example.fi", wantEnd, "", "en", account.Meta{ClientIP: "cli"}); err != nil {
		t.Fatal(err)
	}
	ainoLink := env.Link(t, env.Mail(t, "aino@example.fi", "You are invited as a guest"), "/guests/accept?code=")
	has := send(t, newBrowser(t), http.MethodGet, ainoLink, nil)
	mustContainText(t, has.Body, enText("guests.has_account.title"))
	ainoCode := strings.TrimPrefix(ainoLink, env.URL+"/guests/accept?code=")
	again := send(t, newBrowser(t), http.MethodPost, env.URL+"/guests/accept", url.Values{"code": {ainoCode}, "password": {guestPassword}, "password_confirm": {guestPassword}})
	mustContainText(t, again.Body, enText("guests.has_account.title"))
	if got := storedAccount(t, env, "aino@example.fi"); got.ID != aino.ID || got.PasswordHash != aino.PasswordHash {
		t.Fatal("the invitation changed an existing account")
	}
	if _, err := env.App.Store.GetProvisioned(ctx, aino.ID); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("an existing account became a guest: %v", err)
	}

	// Expired: 14 days later the link works no more.
	if _, err := env.App.Guests.Invite(ctx, guests.Inviter{}, "myohassa@example.org", wantEnd, "", "fi", account.Meta{ClientIP: "cli"}); err != nil {
		t.Fatal(err)
	}
	late := env.Link(t, env.Mail(t, "myohassa@example.org", "Sinut on kutsuttu vieraaksi"), "/guests/accept?code=")
	env.Clock.Advance(14*24*time.Hour + time.Second)
	if a := send(t, newBrowser(t), http.MethodGet, late, nil); a.Status != http.StatusGone {
		t.Fatalf("expired link: %d", a.Status)
	}
	noAccount(t, env, "myohassa@example.org")
	// A made-up code gets the same page as a used or expired one.
	if a := send(t, newBrowser(t), http.MethodGet, env.URL+"/guests/accept?code=AAAA", nil); a.Status != http.StatusGone {
		t.Fatalf("made-up link: %d", a.Status)
	}
}

// TestGuestAcceptWithHomeOrganisation: the guest accepts by signing in
// at their home organisation (proofingtest as the upstream); the new
// guest account has no password and is opened by that identity only;
// the same identity cannot accept a second invitation into a second
// account.
func TestGuestAcceptWithHomeOrganisation(t *testing.T) {
	env, _ := startFederation(t)
	ctx := context.Background()
	until := env.Clock.Now().AddDate(0, 1, 0)
	if _, err := env.App.Guests.Invite(ctx, guests.Inviter{}, "vieras@example.org", until, "Kide", "en", account.Meta{ClientIP: "cli"}); err != nil {
		t.Fatal(err)
	}
	link := env.Link(t, env.Mail(t, "vieras@example.org", "You are invited as a guest"), "/guests/accept?code=")
	code := strings.TrimPrefix(link, env.URL+"/guests/accept?code=")
	g := newBrowser(t)
	page := send(t, g, http.MethodGet, link, nil)
	mustContainText(t, page.Body, enText("guests.accept.home.heading"), enText("guests.accept.home.button", "Provider", "Tampere College"))
	done := send(t, g, http.MethodPost, env.URL+"/guests/accept/home", url.Values{"code": {code}, "idp": {"home"}})
	if done.Status != http.StatusOK || done.URL.Path != "/federation/callback" {
		t.Fatalf("accept at home: %d at %s\n%s", done.Status, done.URL, done.Body)
	}
	mustContainText(t, done.Body, enText("guests.accepted.home"))
	acc := storedAccount(t, env, "vieras@example.org")
	if acc.PasswordHash != "" || !acc.Activated() {
		t.Fatalf("guest account: %+v", acc)
	}
	l, err := env.App.Store.GetFederatedLink(ctx, "home", "u-"+fedPerson)
	if err != nil || l.AccountID != acc.ID || l.LinkedBy != "invitation" {
		t.Fatalf("link: %+v %v", l, err)
	}
	pa, err := env.App.Store.GetProvisioned(ctx, acc.ID)
	if err != nil || pa.Provisioned.UserType != "guest" || !pa.Provisioned.EndsAt.Equal(until.UTC()) {
		t.Fatalf("registry record: %+v %v", pa.Provisioned, err)
	}
	// Signing in at home opens the guest account.
	in := send(t, newBrowser(t), http.MethodGet, env.URL+"/login?idp=home&return=/account", nil)
	if in.Status != http.StatusOK || in.URL.Path != "/account" {
		t.Fatalf("guest's home sign-in: %d at %s\n%s", in.Status, in.URL, in.Body)
	}
	mustContainText(t, in.Body, "vieras@example.org")
	// The link is spent.
	if a := send(t, newBrowser(t), http.MethodPost, env.URL+"/guests/accept/home", url.Values{"code": {code}, "idp": {"home"}}); a.Status != http.StatusGone {
		t.Fatalf("used link at home: %d", a.Status)
	}
	// A second invitation accepted with the same identity: refused.
	if _, err := env.App.Guests.Invite(ctx, guests.Inviter{}, "toinen@example.org", until, "", "en", account.Meta{ClientIP: "cli"}); err != nil {
		t.Fatal(err)
	}
	link2 := env.Link(t, env.Mail(t, "toinen@example.org", "You are invited as a guest"), "/guests/accept?code=")
	code2 := strings.TrimPrefix(link2, env.URL+"/guests/accept?code=")
	again := send(t, newBrowser(t), http.MethodPost, env.URL+"/guests/accept/home", url.Values{"code": {code2}, "idp": {"home"}})
	if again.Status != http.StatusConflict {
		t.Fatalf("same identity twice: %d\n%s", again.Status, again.Body)
	}
	noAccount(t, env, "toinen@example.org")
	// An unknown organisation.
	if a := send(t, newBrowser(t), http.MethodPost, env.URL+"/guests/accept/home", url.Values{"code": {code2}, "idp": {"nowhere"}}); a.Status != http.StatusNotFound {
		t.Fatalf("unknown idp: %d", a.Status)
	}
}

// TestGuestMFARule: a guest account falls under mfa.required_types
// (and optional_types) by its user type, like a registry's account.
func TestGuestMFARule(t *testing.T) {
	for _, tc := range []struct {
		file string
		want bool
	}{
		{"mfa:\n  policy: optional\n  required_types: [guest]\n", true},
		{"mfa:\n  policy: required\n  optional_types: [guest]\n", false},
	} {
		env := apptest.StartWithFile(t, tc.file, nil)
		ctx := context.Background()
		if _, err := env.App.Guests.Invite(ctx, guests.Inviter{}, "vieras@example.org", env.Clock.Now().AddDate(0, 1, 0), "", "en", account.Meta{ClientIP: "cli"}); err != nil {
			t.Fatal(err)
		}
		link := env.Link(t, env.Mail(t, "vieras@example.org", "You are invited as a guest"), "/guests/accept?code=")
		code := strings.TrimPrefix(link, env.URL+"/guests/accept?code=")
		a, err := env.App.Guests.AcceptWithPassword(ctx, code, guestPassword, guestPassword, account.Meta{ClientIP: "test", Lang: "en"})
		if err != nil {
			t.Fatal(err)
		}
		if got := env.App.MFA.RequiredFor(a); got != tc.want {
			t.Errorf("%q: second factor required %v, want %v", tc.file, got, tc.want)
		}
	}
}
