package browser

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/portti/portti/internal/app/apptest"
	"github.com/portti/portti/internal/oidc"
	"github.com/portti/portti/internal/storage"
)

// Passkeys in Chromium, through its virtual authenticator (the CDP WebAuthn
// domain): a platform authenticator with discoverable credentials and user
// verification, as a laptop's fingerprint reader. portti's public URL is
// http://localhost:PORT: WebAuthn needs a domain name and a secure context.

// addAuthenticator gives the tab's browser a virtual authenticator.
func (b *tab) addAuthenticator() webauthn.AuthenticatorID {
	b.t.Helper()
	if _, err := chromedp.Call(b.ctx, webauthn.Enable, webauthn.EnableParams{EnableUI: new(false)}); err != nil {
		b.t.Fatalf("WebAuthn.enable: %v", err)
	}
	res, err := chromedp.Call(b.ctx, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{
		Options: &webauthn.VirtualAuthenticatorOptions{
			Protocol: webauthn.AuthenticatorProtocolCtap2, Ctap2version: webauthn.Ctap2versionCtap21,
			Transport:      webauthn.AuthenticatorTransportInternal,
			HasResidentKey: true, HasUserVerification: true, IsUserVerified: true,
			AutomaticPresenceSimulation: true,
		},
	})
	if err != nil {
		b.t.Fatalf("WebAuthn.addVirtualAuthenticator: %v", err)
	}
	return res.AuthenticatorID
}

// claims exchanges the application's last code and returns the verified
// id_token's sub, amr and acr.
func (a *application) claims(verifier string) (sub string, amr []string, acr string) {
	a.t.Helper()
	a.mu.Lock()
	q := a.last
	a.mu.Unlock()
	ctx := context.Background()
	tok, err := a.conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		a.t.Fatalf("exchange: %v", err)
	}
	provider, err := gooidc.NewProvider(ctx, a.env.URL)
	if err != nil {
		a.t.Fatal(err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := provider.Verifier(&gooidc.Config{ClientID: a.conf.ClientID, Now: a.env.Clock.Now}).Verify(ctx, raw)
	if err != nil {
		a.t.Fatalf("id_token: %v", err)
	}
	var c struct {
		AMR []string `json:"amr"`
		ACR string   `json:"acr"`
	}
	if err := idt.Claims(&c); err != nil {
		a.t.Fatal(err)
	}
	return idt.Subject, c.AMR, c.ACR
}

// passkeyButton presses the page's passkey button; the script then talks
// to the authenticator and posts the form, which loads a page.
func (b *tab) passkeyButton(action string, want int) {
	b.t.Helper()
	sel := `form[action="` + action + `"] button[data-passkey-start]`
	b.do("wait for the passkey button", chromedp.WaitVisible(chromedp.CSS(sel)))
	b.click(sel, want)
}

func (b *tab) passkeyCount(accountID string) int {
	b.t.Helper()
	creds, err := b.env.App.Store.ListCredentials(context.Background(), accountID)
	if err != nil {
		b.t.Fatal(err)
	}
	n := 0
	for _, c := range creds {
		if c.Kind == "webauthn" {
			n++
		}
	}
	return n
}

// TestBrowserPasskeys: add a passkey at /account/mfa, use it as the second
// step after a password, then sign in to an application with it alone
// (passwordless, through the OpenID Connect code flow), and remove it.
func TestBrowserPasskeys(t *testing.T) {
	startChromium(t)
	env := apptest.Start(t, map[string]string{"PORTTI_PUBLIC_URL": apptest.Localhost})
	if !strings.HasPrefix(env.URL, "http://localhost:") {
		t.Fatalf("public URL %s", env.URL)
	}
	id := addPerson(t, env, "aino@example.fi", "Aino", "Virtanen")
	app := newApplication(t, env, oidc.ClientSpec{ID: "moodle", Name: "Moodle"})
	b := newTab(t, env)
	b.addAuthenticator()

	// Add a passkey.
	b.open("/login", 200)
	b.logIn("aino@example.fi", ssoPassword, false, 200)
	b.at("/account")
	b.open("/account/mfa", 200)
	b.click(`main a[href^="/account/mfa/webauthn/new"]`, 200)
	b.heading("Add a passkey or security key")
	b.fill("name", "work laptop")
	b.screenshot("en-passkey-add")
	b.passkeyButton("/account/mfa/webauthn/new", 200)
	b.heading(catalog(t).T("en", "mfa.codes.title", nil)) // the first method comes with recovery codes
	if n := b.passkeyCount(id); n != 1 {
		t.Fatalf("%d passkeys stored", n)
	}
	b.open("/account/mfa", 200)
	b.see("Passkey or security key", "work laptop", "Kept only on this device or security key")
	b.screenshot("en-passkey-list")

	// Rename it.
	creds, _ := env.App.Store.ListCredentials(context.Background(), id)
	var pk storage.Credential
	for _, c := range creds {
		if c.Kind == "webauthn" {
			pk = c
		}
	}
	b.fill("rename-"+pk.ID, "YubiKey")
	b.click(`form[action="/account/mfa/rename"] button[type=submit]`, 200)
	b.see("The name was saved.", "YubiKey")

	// Second step after the password: "Use a passkey".
	b.open("/account", 200)
	b.submit("/logout", 200)
	env.Clock.Advance(time.Minute)
	b.open("/login", 200)
	b.logIn("aino@example.fi", ssoPassword, false, 200)
	b.heading(catalog(t).T("en", "mfa.login.title", nil))
	b.see("Use a passkey")
	b.screenshot("en-passkey-second-step")
	b.passkeyButton("/login/mfa/passkey", 200)
	b.at("/account")

	// Passwordless through the code flow: the application gets its code.
	b.open("/account", 200)
	b.submit("/logout", 200)
	env.Clock.Advance(time.Minute)
	v := oauth2.GenerateVerifier()
	b.open(app.authorizeURL(v), 200)
	b.at("/login")
	for _, lang := range []string{"fi", "sv", "en"} {
		b.switchTo(lang, 200)
		b.see(catalog(t).T(lang, "passkey.login.heading", nil))
		b.screenshot(lang + "-passkey-login")
	}
	b.passkeyButton("/login/passkey", 200)
	app.arrivedAt(b, "/callback")
	sub, amr, acr := app.claims(v)
	if sub != id {
		t.Errorf("sub %s, want %s", sub, id)
	}
	if !slices.Equal(amr, []string{"hwk", "user", "mfa"}) || acr != "https://refeds.org/profile/mfa" {
		t.Errorf("passwordless sign-in: amr %v, acr %q", amr, acr)
	}

	// Remove it (the sign-in is fresh): the owner is told.
	b.open("/account/mfa", 200)
	b.click(`form[action="/account/mfa/remove"] button[type=submit]`, 200)
	b.see(catalog(t).T("en", "notice.mfa_removed", nil))
	if n := b.passkeyCount(id); n != 0 {
		t.Errorf("%d passkeys after removing", n)
	}
	b.mailLink("aino@example.fi", "/account/mfa")
}
