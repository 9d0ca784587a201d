package app_test

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/portti/portti/internal/account"
	"github.com/portti/portti/internal/app/apptest"
	"github.com/portti/portti/internal/oidc"
)

// TestSessionsEndedByRulesReachApplications: sessions ended not by a logout
// but by the account rules — a password change ends the other browsers, a
// reset ends all, an operator's disable ends all — are reported to the
// applications signed in through them, with a back-channel logout token.
func TestSessionsEndedByRulesReachApplications(t *testing.T) {
	env := apptest.Start(t, nil)
	ctx := context.Background()
	aino := addSSOUser(t, env, "aino@example.fi", "Aino", "Virtanen")
	bc := newBackchannel(t)
	app := newSSOApp(t, env, oidc.ClientSpec{ID: "rp", Name: "Test application", BackchannelLogoutURI: bc.srv.URL + "/backchannel"})
	m := account.Meta{ClientIP: "127.0.0.1", Lang: "en"}

	signedIn := func() string {
		t.Helper()
		var claims struct {
			SID string `json:"sid"`
		}
		r := app.signIn(env.Browser(t), aino.Email)
		if err := r.id.Claims(&claims); err != nil || claims.SID == "" {
			t.Fatalf("id_token sid: %v", err)
		}
		return claims.SID
	}
	expectLogout := func(what, sid string) {
		t.Helper()
		c := verifyLogoutToken(t, env, bc.wait(t, 5*time.Second), "rp")
		if c.SID != sid || c.Subject != aino.ID {
			t.Errorf("%s: logout token sid %q sub %q, want %q %q", what, c.SID, c.Subject, sid, aino.ID)
		}
	}

	// A password change ends the browsers other than the one it is made
	// in (none here), and their applications are told.
	other := signedIn()
	if err := env.App.Accounts.ChangePassword(ctx, aino.ID, ssoPassword, ssoPassword, ssoPassword, "", m); err != nil {
		t.Fatalf("change password: %v", err)
	}
	expectLogout("password change", other)

	// A reset through the e-mailed link ends every session.
	sid := signedIn()
	if err := env.App.Accounts.ForgotPassword(ctx, aino.Email, m); err != nil {
		t.Fatal(err)
	}
	link := env.Link(t, env.Mail(t, aino.Email, "Set a new password"), "/password/reset")
	u, _ := url.Parse(link)
	if _, err := env.App.Accounts.ResetPassword(ctx, u.Query().Get("token"), ssoPassword, ssoPassword, m); err != nil {
		t.Fatalf("reset: %v", err)
	}
	expectLogout("password reset", sid)

	// An operator disabling the account ends its sessions too.
	sid = signedIn()
	if _, err := env.App.Accounts.Disable(ctx, aino.Email, m); err != nil {
		t.Fatal(err)
	}
	expectLogout("disable", sid)
	if ss, _ := env.App.Store.ListSessions(ctx, aino.ID); len(ss) != 0 {
		t.Errorf("%d sessions left after disable", len(ss))
	}
}
