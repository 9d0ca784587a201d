package app_test

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/portti/portti/internal/app/apptest"
	"github.com/portti/portti/internal/oidc"
)

var laterLink = regexp.MustCompile(`<a class="button secondary" href="([^"]+)">`)

// TestMFAEnrolmentGrace: under a required policy with a grace period, a
// person without a method may choose "Later" — until the grace, counted
// from the first sign-in and never extended, is over; an application
// that requires MFA never grants it.
func TestMFAEnrolmentGrace(t *testing.T) {
	env := apptest.Start(t, map[string]string{"PORTTI_MFA_POLICY": "required", "PORTTI_MFA_ENROLMENT_GRACE": "336h"})
	ctx := context.Background()
	addUser(t, env, "aino@example.fi", goodPassword)

	login := func(c *http.Client, extra url.Values) answer {
		t.Helper()
		f := url.Values{"email": {"aino@example.fi"}, "password": {goodPassword}}
		for k, v := range extra {
			f[k] = v
		}
		return send(t, c, http.MethodPost, env.URL+"/login", f)
	}
	c := newBrowser(t)
	got := login(c, nil)
	if got.URL.Path != "/account/mfa" {
		t.Fatalf("sign-in under a required policy ended at %s", got.URL)
	}
	mustContainText(t, got.Body, enText("mfarest.grace.now"), enText("mfarest.grace.later"))
	if strings.Contains(got.Body, enText("mfa.none_required")) {
		t.Error("the grace page also says the setup is required now")
	}
	until := helsinkiTime(env.Clock.Now().Add(336 * time.Hour))
	if !strings.Contains(got.Body, until) {
		t.Errorf("the grace page does not say by when (%s):\n%s", until, got.Body)
	}
	later := laterLink.FindStringSubmatch(got.Body)
	if later == nil || html.UnescapeString(later[1]) != "/account" {
		t.Fatalf("no Later link to /account:\n%s", got.Body)
	}
	mustLogOut(t, env, c)

	rp := newRelyingParty(t)
	_, sec, err := oidc.RegisterClient(ctx, env.App.Store, oidc.ClientSpec{ID: "rp", RedirectURIs: []string{rp.redirectURI()}}, env.Clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	_, strictSec, err := oidc.RegisterClient(ctx, env.App.Store, oidc.ClientSpec{ID: "strict", RedirectURIs: []string{rp.redirectURI()}, RequireMFA: true}, env.Clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	provider, err := gooidc.NewProvider(ctx, env.URL)
	if err != nil {
		t.Fatal(err)
	}
	confFor := func(id, s string) *oauth2.Config {
		return &oauth2.Config{ClientID: id, ClientSecret: s, Endpoint: provider.Endpoint(), RedirectURL: rp.redirectURI(), Scopes: []string{gooidc.ScopeOpenID}}
	}
	// flow signs in through conf and returns the page the password led to.
	flow := func(conf *oauth2.Config) answer {
		t.Helper()
		resp, body := browse(t, c, conf.AuthCodeURL("state-0123456789abcdef"))
		if resp.Request.URL.Path != "/login" {
			t.Fatalf("flow at %s", resp.Request.URL)
		}
		f := hiddenFields(body)
		return login(c, f)
	}

	// Day 10, the ordinary application: "Later" goes on to it.
	env.Clock.Advance(10 * 24 * time.Hour)
	got = flow(confFor("rp", sec))
	later = laterLink.FindStringSubmatch(got.Body)
	if got.URL.Path != "/account/mfa" || later == nil || rp.callback() != nil {
		t.Fatalf("grace in a sign-in to an application: at %s\n%s", got.URL, got.Body)
	}
	if !strings.Contains(got.Body, until) {
		t.Error("a later sign-in moved the grace's end")
	}
	next := send(t, c, http.MethodGet, env.URL+html.UnescapeString(later[1]), nil)
	if cb := rp.callback(); cb.Get("code") == "" {
		t.Fatalf("Later did not go on to the application: at %s", next.URL)
	}
	mustLogOut(t, env, c)

	// The application that requires MFA: no Later, no code.
	got = flow(confFor("strict", strictSec))
	if laterLink.MatchString(got.Body) {
		t.Fatal("a require_mfa client's sign-in offers Later")
	}
	if got.URL.Path != "/account/mfa" || rp.callback() != nil {
		t.Fatalf("require_mfa during the grace: at %s", got.URL)
	}
	mustContainText(t, got.Body, enText("mfa.setup_first"))
	// Going to /continue by hand does not get the code either.
	ret := got.URL.Query().Get("return")
	send(t, c, http.MethodGet, env.URL+ret, nil)
	if rp.callback() != nil {
		t.Fatal("require_mfa client got a code during the grace")
	}
	mustLogOut(t, env, c)

	// Day 15: the grace is over.
	env.Clock.Advance(5 * 24 * time.Hour)
	got = login(c, nil)
	if got.URL.Path != "/account/mfa" || laterLink.MatchString(got.Body) {
		t.Fatalf("after the grace: at %s, Later offered: %v", got.URL, laterLink.MatchString(got.Body))
	}
	mustContainText(t, got.Body, enText("notice.mfa_required"))
	mustLogOut(t, env, c)
	got = flow(confFor("rp", sec))
	if rp.callback() != nil || laterLink.MatchString(got.Body) {
		t.Fatal("after the grace an application got a code without a second factor")
	}
	// ?grace=1 by hand offers nothing.
	forced := send(t, c, http.MethodGet, env.URL+"/account/mfa?grace=1&return=%2Faccount", nil)
	if laterLink.MatchString(forced.Body) {
		t.Fatal("grace=1 after the grace offers Later")
	}
}
