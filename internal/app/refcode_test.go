package app_test

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"testing"

	"github.com/portti/portti/internal/account"
	"github.com/portti/portti/internal/app/apptest"
	"github.com/portti/portti/internal/oidc"
	"github.com/portti/portti/internal/refcode"
	"github.com/portti/portti/internal/storage"
)

// shownRef is the reference code a page shows, in any format that looks
// like one (so that a code in another format is found, and then refused).
var shownRef = regexp.MustCompile(`(?:Reference code|Reference|Viitekoodi|Referenskod)[^A-Z0-9]*([A-Z0-9-]{6,12})`)

func refOnPage(t *testing.T, page string) string {
	t.Helper()
	m := shownRef.FindStringSubmatch(html.UnescapeString(page))
	if m == nil {
		t.Fatalf("no reference code on the page:\n%s", page)
	}
	if !refcode.Valid(m[1]) {
		t.Errorf("reference code %q is not in the one format (ABCD-EFGH)", m[1])
	}
	return m[1]
}

// eventWithRef is the audit event that carries ref.
func eventWithRef(t *testing.T, env *apptest.Env, ref string) storage.Event {
	t.Helper()
	for _, e := range allEvents(t, env) {
		if e.Ref == ref {
			return e
		}
	}
	t.Fatalf("no audit event carries the reference code %s shown to the person", ref)
	return storage.Event{}
}

// TestReferenceCodes (issue 7 point 12): every page that shows a
// reference code shows it in one format, and the audit event about what
// happened carries it, so the helpdesk finds the event by the code.
func TestReferenceCodes(t *testing.T) {
	env := apptest.Start(t, map[string]string{"PORTTI_TRUSTED_PROXIES": "127.0.0.1"})

	t.Run("disabled account at sign-in", func(t *testing.T) {
		acc := addUser(t, env, "disabled@example.fi", goodPassword)
		if _, err := env.App.Accounts.Disable(context.Background(), acc.Email, account.Meta{ClientIP: "test"}); err != nil {
			t.Fatal(err)
		}
		a := send(t, newBrowser(t), http.MethodPost, env.URL+"/login", url.Values{"email": {acc.Email}, "password": {goodPassword}})
		if a.Status != http.StatusForbidden {
			t.Fatalf("login to a disabled account: %d\n%s", a.Status, a.Body)
		}
		e := eventWithRef(t, env, refOnPage(t, a.Body))
		if e.Kind != "login.failure" || e.Reason != "disabled" || e.AccountID != acc.ID {
			t.Errorf("the event with the code is %+v, want the login.failure (disabled) of the account", e)
		}
	})

	t.Run("application closed to the network", func(t *testing.T) {
		campus := newSSOApp(t, env, oidc.ClientSpec{ID: "hr", Name: "HR", AllowedNetworks: []string{"10.0.0.0/8"}})
		f := campus.begin(browserFrom(t, env, "203.0.113.9", "fi"))
		if f.resp.StatusCode != http.StatusForbidden {
			t.Fatalf("restricted: %d\n%s", f.resp.StatusCode, f.page)
		}
		e := eventWithRef(t, env, refOnPage(t, f.page))
		if e.Kind != "oidc.network_refused" || e.ClientIP != "203.0.113.9" {
			t.Errorf("the event with the code is %+v", e)
		}
	})

	t.Run("unknown application", func(t *testing.T) {
		q := url.Values{"client_id": {"nobody"}, "redirect_uri": {"https://rp.example/cb"}, "response_type": {"code"}, "scope": {"openid"}}
		resp, page := browse(t, browserFrom(t, env, "", "sv"), env.URL+oidc.PathAuthorize+"?"+q.Encode())
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("unknown client: %d\n%s", resp.StatusCode, page)
		}
		if e := eventWithRef(t, env, refOnPage(t, page)); e.Kind != "oidc.problem" {
			t.Errorf("the event with the code is %+v", e)
		}
	})
}
