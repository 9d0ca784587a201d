package app_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2/clientcredentials"

	"github.com/portti/portti/internal/app/apptest"
	"github.com/portti/portti/internal/oidc"
)

const registrySecret = "registry-secret-from-the-environment-0123456789"

// TestProvisionSCIM drives /scim/v2 through the real wiring: a registry
// client with the scim scope gets a client_credentials token from
// portti's token endpoint (through an independent OAuth 2.0 library) and
// creates a user, who gets the user type of the domain and no password;
// a client without the scope gets 403, no token 401.
func TestProvisionSCIM(t *testing.T) {
	env := apptest.StartWithFile(t, `
provision:
  user_types: [student=*@student.example.fi, staff=*@example.fi]
clients:
  - id: registry
    grants: [client_credentials]
    secret_env: REGISTRY_SECRET
    scopes: [scim]
  - id: reporting
    grants: [client_credentials]
    secret_env: REGISTRY_SECRET
    scopes: [grades:read]
`, map[string]string{"REGISTRY_SECRET": registrySecret})
	ctx := context.Background()
	token := func(id string) string {
		cc := clientcredentials.Config{ClientID: id, ClientSecret: registrySecret, TokenURL: env.URL + oidc.PathToken}
		tok, err := cc.Token(ctx)
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		return tok.AccessToken
	}
	call := func(method, path, bearer, body string) (int, map[string]any) {
		req, _ := http.NewRequest(method, env.URL+"/scim/v2"+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/scim+json")
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(res.Body).Decode(&out)
		return res.StatusCode, out
	}
	reg := token("registry")
	status, u := call("POST", "/Users", reg, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],
		"userName":"Maija@Student.Example.fi","externalId":"s-1","name":{"givenName":"Maija","familyName":"Meikäläinen"}}`)
	if status != http.StatusCreated {
		t.Fatalf("create: %d %v", status, u)
	}
	id := u["id"].(string)
	if loc, _ := u["meta"].(map[string]any)["location"].(string); loc != env.URL+"/scim/v2/Users/"+id {
		t.Errorf("location %q", loc)
	}
	pa, err := env.App.Store.GetProvisioned(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if pa.Account.Email != "maija@student.example.fi" || pa.Account.PasswordHash != "" || pa.Account.Activated() || pa.Provisioned.UserType != "student" {
		t.Errorf("provisioned account: %+v %+v", pa.Account, pa.Provisioned)
	}
	if status, _ := call("GET", "/Users?filter="+`userName%20eq%20%22maija%40student.example.fi%22`, reg, ""); status != http.StatusOK {
		t.Errorf("filter: %d", status)
	}
	if status, body := call("GET", "/Users", token("reporting"), ""); status != http.StatusForbidden || body["status"] != "403" {
		t.Errorf("token without scim: %d %v", status, body)
	}
	if status, _ := call("GET", "/Users", "", ""); status != http.StatusUnauthorized {
		t.Errorf("no token: %d", status)
	}
	// A token the registry asked for another API (RFC 8707) is that
	// API's: refused here.
	if _, _, err := oidc.RegisterClient(ctx, env.App.Store, oidc.ClientSpec{ID: "grades-api", ResourceServer: "https://api.example.fi/grades"}, env.Clock.Now()); err != nil {
		t.Fatal(err)
	}
	other := clientcredentials.Config{ClientID: "registry", ClientSecret: registrySecret, TokenURL: env.URL + oidc.PathToken,
		EndpointParams: url.Values{"resource": {"https://api.example.fi/grades"}}}
	otk, err := other.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if status, _ := call("GET", "/Users", otk.AccessToken, ""); status != http.StatusUnauthorized {
		t.Errorf("a token for another API: %d", status)
	}
	// A revoked token stops working at once.
	req, _ := http.NewRequest("POST", env.URL+oidc.PathRevoke, strings.NewReader("token="+reg))
	req.SetBasicAuth("registry", registrySecret)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("revoke: %v %v", res, err)
	}
	if status, _ := call("GET", "/Users/"+id, reg, ""); status != http.StatusUnauthorized {
		t.Errorf("revoked token: %d", status)
	}
	events, _ := env.App.Store.ListEvents(ctx, id, 10)
	if len(events) == 0 || events[0].Kind != "provision.user_created" || !strings.Contains(events[0].Reason, "registry") {
		t.Errorf("audit: %+v", events)
	}
}

func decodeJSON(r io.Reader, v any) error { return json.NewDecoder(r).Decode(v) }
