package browser

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/portti/portti/internal/account"
	"github.com/portti/portti/internal/app/apptest"
	"github.com/portti/portti/internal/oidc"
)

func TestZZProbeCSP(t *testing.T) {
	startChromium(t)
	env := apptest.Start(t, nil)
	rp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("<h1>RP</h1>")) }))
	defer rp.Close()
	ctx := context.Background()
	_, err := env.App.Accounts.AddUser(ctx, "a@example.fi", account.Profile{GivenName: "A", FamilyName: "B"}, "kesämökki järven rannalla", account.Meta{ClientIP: "t", Lang: "en"})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = oidc.RegisterClient(ctx, env.App.Store, oidc.ClientSpec{ID: "rp", RedirectURIs: []string{rp.URL + "/cb"}}, env.Clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	b := newTab(t, env)
	b.open(oidc.PathAuthorize+"?"+url.Values{"client_id": {"rp"}, "redirect_uri": {rp.URL + "/cb"}, "response_type": {"code"}, "scope": {"openid"}, "state": {"xyzxyzxyz"}}.Encode(), 200)
	b.logIn("a@example.fi", "kesämökki järven rannalla", false, 0)
	t.Logf("location: %s", b.location())
	t.Logf("text: %s", b.mainText())
}
