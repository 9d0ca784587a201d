package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/portti/portti/internal/app/apptest"
	"github.com/portti/portti/internal/oidc"
	"github.com/portti/portti/internal/storage"
)

const (
	helpdeskBotSecret = "helpdesk-bot-secret-from-the-environment-0123456789"
	adminBotSecret    = "admin-bot-secret-from-the-environment-0123456789"
	otherBotSecret    = "other-bot-secret-from-the-environment-0123456789"
)

var adminClientsFile = `
clients:
  - id: helpdesk-bot
    grants: [client_credentials]
    secret_env: HELPDESK_BOT_SECRET
    scopes: [portti:helpdesk]
  - id: admin-bot
    grants: [client_credentials]
    secret_env: ADMIN_BOT_SECRET
    scopes: [portti:admin]
  - id: other-bot
    grants: [client_credentials]
    secret_env: OTHER_BOT_SECRET
    scopes: [grades:read]
`

// apiClient calls the admin API with a bearer token and checks every
// request and answer against the OpenAPI document the server serves.
type apiClient struct {
	t      *testing.T
	env    *apptest.Env
	token  string
	router routers.Router
}

func (c apiClient) call(method, path string, body any, wantStatus int) map[string]any {
	c.t.Helper()
	var raw []byte
	if body != nil {
		raw, _ = json.Marshal(body)
	}
	req, _ := http.NewRequest(method, c.env.URL+path, bytes.NewReader(raw))
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != wantStatus {
		c.t.Fatalf("%s %s: %d %s, want %d", method, path, resp.StatusCode, got, wantStatus)
	}
	// Validate the exchange against the document.
	vreq, _ := http.NewRequest(method, c.env.URL+path, bytes.NewReader(raw))
	vreq.Header = req.Header.Clone()
	route, params, err := c.router.FindRoute(vreq)
	if err != nil {
		c.t.Fatalf("%s %s is not in the OpenAPI document: %v", method, path, err)
	}
	opts := &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, IncludeResponseStatus: true}
	in := &openapi3filter.RequestValidationInput{Request: vreq, PathParams: params, Route: route, Options: opts}
	if wantStatus < 400 {
		if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
			c.t.Fatalf("%s %s: the request does not match the document: %v", method, path, err)
		}
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header,
		Body: io.NopCloser(bytes.NewReader(got)), Options: opts}
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		c.t.Fatalf("%s %s: the answer does not match the document: %v\n%s", method, path, err, got)
	}
	m := map[string]any{}
	if len(got) > 0 {
		if err := json.Unmarshal(got, &m); err != nil {
			c.t.Fatalf("%s %s: %v", method, path, err)
		}
	}
	return m
}

// TestAdminAPI drives the admin API with client_credentials tokens and
// validates every answer against /admin/api/openapi.json: the console's
// operations, with the same rules (a reason, helpdesk not on an admin,
// admin-only roles and notices) and the same audit trail.
func TestAdminAPI(t *testing.T) {
	env := apptest.StartWithFile(t, adminClientsFile, map[string]string{
		"HELPDESK_BOT_SECRET": helpdeskBotSecret, "ADMIN_BOT_SECRET": adminBotSecret, "OTHER_BOT_SECRET": otherBotSecret,
	})
	ctx := context.Background()
	resp, err := http.Get(env.URL + "/admin/api/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	spec, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(spec)
	if err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if err := doc.Validate(ctx); err != nil {
		t.Fatalf("openapi.json is not valid: %v", err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Fatalf("openapi %q", doc.OpenAPI)
	}
	doc.Servers = openapi3.Servers{{URL: env.URL}}
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	token := func(id, secret, scope string) string {
		tok := postJSON(t, env.URL+oidc.PathToken, map[string][]string{"grant_type": {"client_credentials"}, "scope": {scope}}, id, secret)
		return tok["access_token"].(string)
	}
	helpdesk := apiClient{t, env, token("helpdesk-bot", helpdeskBotSecret, "portti:helpdesk"), router}
	adm := apiClient{t, env, token("admin-bot", adminBotSecret, "portti:admin"), router}
	other := apiClient{t, env, token("other-bot", otherBotSecret, "grades:read"), router}
	anon := apiClient{t, env, "", router}
	forged := apiClient{t, env, helpdesk.token[:len(helpdesk.token)-4] + "AAAA", router}

	person := addUser(t, env, "maija@example.fi", goodPassword)
	boss := addUser(t, env, "pomo@example.fi", goodPassword)
	grant(t, env, "pomo@example.fi", storage.RoleAdmin)
	for range 5 {
		loginRefused(t, env, "maija@example.fi", "wrong password entirely")
	}

	anon.call("GET", "/admin/api/accounts?q=maija", nil, http.StatusUnauthorized)
	forged.call("GET", "/admin/api/accounts?q=maija", nil, http.StatusUnauthorized)
	other.call("GET", "/admin/api/accounts?q=maija", nil, http.StatusForbidden)

	found := helpdesk.call("GET", "/admin/api/accounts?q=MAIJA", nil, http.StatusOK)
	if accts := found["accounts"].([]any); len(accts) != 1 || accts[0].(map[string]any)["id"] != person.ID {
		t.Fatalf("search: %v", found)
	}
	x := helpdesk.call("GET", "/admin/api/accounts/"+person.ID, nil, http.StatusOK)
	if p := x["problems"].([]any); len(p) != 1 || p[0].(map[string]any)["code"] != "locked" {
		t.Fatalf("explanation: %v", x)
	}
	if _, ok := x["identity_bound_at"]; ok {
		t.Errorf("explanation of an account without a strong identity: %v", x)
	}
	// A strong identity bound to the account shows, with its provider.
	if err := env.App.Store.BindIdentity(context.Background(), storage.ProofedIdentity{
		AccountID: person.ID, Identity: strings.Repeat("ab", 32), Provider: "cli", BoundAt: time.Now(),
	}); err != nil {
		t.Fatal(err)
	}
	x = helpdesk.call("GET", "/admin/api/accounts/"+person.ID, nil, http.StatusOK)
	if x["identity_bound_at"] == nil || x["identity_provider"] != "cli" {
		t.Errorf("explanation of an account with a strong identity: %v", x)
	}
	helpdesk.call("GET", "/admin/api/accounts/nosuch", nil, http.StatusNotFound)

	helpdesk.call("POST", "/admin/api/accounts/"+person.ID+"/actions/unlock", map[string]string{"reason": ""}, http.StatusBadRequest)
	helpdesk.call("POST", "/admin/api/accounts/"+person.ID+"/actions/explode", map[string]string{"reason": "x"}, http.StatusNotFound)
	done := helpdesk.call("POST", "/admin/api/accounts/"+person.ID+"/actions/unlock", map[string]string{"reason": "ticket 4711"}, http.StatusOK)
	if done["status"] != "done" {
		t.Fatalf("unlock: %v", done)
	}
	if e := lastEvent(t, env, person.ID, "helpdesk.unlock"); e.Reason != "by client:helpdesk-bot: ticket 4711" {
		t.Fatalf("audit %+v", e)
	}
	env.Mail(t, "maija@example.fi", "unlocked")
	// The temporary access pass is in the answer, and only there.
	tap := helpdesk.call("POST", "/admin/api/accounts/"+person.ID+"/actions/temporary_access_pass", map[string]string{"reason": "ticket 4712, identity checked"}, http.StatusOK)
	if p, _ := tap["access_pass"].(string); len(p) != 24 || tap["expires_at"] == nil {
		t.Fatalf("temporary access pass: %v", tap)
	}
	if e := lastEvent(t, env, person.ID, "helpdesk.temporary_access_pass"); e.Reason != "by client:helpdesk-bot: ticket 4712, identity checked" {
		t.Fatalf("audit %+v", e)
	}
	env.Mail(t, "maija@example.fi", "temporary access pass")
	helpdesk.call("POST", "/admin/api/accounts/"+boss.ID+"/actions/temporary_access_pass", map[string]string{"reason": "x"}, http.StatusForbidden)
	helpdesk.call("POST", "/admin/api/accounts/"+person.ID+"/actions/enable", map[string]string{"reason": "x"}, http.StatusConflict)
	helpdesk.call("POST", "/admin/api/accounts/"+boss.ID+"/actions/disable", map[string]string{"reason": "x"}, http.StatusForbidden)
	adm.call("POST", "/admin/api/accounts/"+person.ID+"/actions/disable", map[string]string{"reason": "left"}, http.StatusOK)

	// The reference code of the page the disabled person then sees.
	refused := loginRefused(t, env, "maija@example.fi", goodPassword)
	ref := refRE.FindString(refused.Body)
	ev := helpdesk.call("GET", "/admin/api/events/"+ref, nil, http.StatusOK)
	if ev["account_id"] != person.ID || ev["reason"] != "disabled" || ev["ref"] != ref {
		t.Fatalf("event by ref: %v", ev)
	}
	helpdesk.call("GET", "/admin/api/events/ZZZZ-ZZZZ", nil, http.StatusNotFound)
	helpdesk.call("GET", "/admin/api/events/nonsense", nil, http.StatusBadRequest)

	page1 := helpdesk.call("GET", "/admin/api/accounts/"+person.ID+"/events?limit=2", nil, http.StatusOK)
	evs := page1["events"].([]any)
	if len(evs) != 2 || page1["next_before"] == nil {
		t.Fatalf("events page: %v", page1)
	}
	next := int64(page1["next_before"].(float64))
	page2 := helpdesk.call("GET", "/admin/api/accounts/"+person.ID+"/events?limit=200&before="+jsonInt(next), nil, http.StatusOK)
	if len(page2["events"].([]any)) == 0 {
		t.Fatal("no older events")
	}

	// Notices and roles are for admin tokens.
	notice := map[string]any{"from": env.Clock.Now().Add(-time.Minute).Format(time.RFC3339), "until": env.Clock.Now().Add(time.Hour).Format(time.RFC3339),
		"text_fi": "Huoltokatko", "text_sv": "Underhåll", "text_en": "Maintenance"}
	helpdesk.call("POST", "/admin/api/notices", notice, http.StatusForbidden)
	added := adm.call("POST", "/admin/api/notices", notice, http.StatusCreated)
	list := helpdesk.call("GET", "/admin/api/notices", nil, http.StatusOK)
	if len(list["notices"].([]any)) != 1 {
		t.Fatalf("notices: %v", list)
	}
	if a := send(t, newBrowser(t), http.MethodGet, env.URL+"/login", nil, "Accept-Language", "sv"); !strings.Contains(a.Body, "Underhåll") {
		t.Fatal("the notice added through the API does not show")
	}
	bad := map[string]any{"from": notice["from"], "until": notice["from"], "text_fi": "a", "text_sv": "b", "text_en": "c"}
	adm.call("POST", "/admin/api/notices", bad, http.StatusBadRequest)
	adm.call("DELETE", "/admin/api/notices/"+added["id"].(string), nil, http.StatusNoContent)
	adm.call("DELETE", "/admin/api/notices/"+added["id"].(string), nil, http.StatusNotFound)

	helpdesk.call("GET", "/admin/api/roles", nil, http.StatusForbidden)
	granted := adm.call("POST", "/admin/api/roles", map[string]string{"email": "maija@example.fi", "role": "helpdesk"}, http.StatusOK)
	if r := granted["roles"].([]any); len(r) != 1 || r[0] != "helpdesk" {
		t.Fatalf("grant: %v", granted)
	}
	roles := adm.call("GET", "/admin/api/roles", nil, http.StatusOK)
	if len(roles["roles"].([]any)) != 2 {
		t.Fatalf("roles: %v", roles)
	}
	adm.call("DELETE", "/admin/api/roles", map[string]string{"email": "maija@example.fi", "role": "helpdesk"}, http.StatusOK)
	adm.call("POST", "/admin/api/roles", map[string]string{"email": "nobody@example.fi", "role": "helpdesk"}, http.StatusNotFound)
	adm.call("POST", "/admin/api/roles", map[string]string{"email": "maija@example.fi", "role": "root"}, http.StatusBadRequest)

	// A revoked token stops working at once.
	postJSON(t, env.URL+oidc.PathRevoke, map[string][]string{"token": {helpdesk.token}}, "helpdesk-bot", helpdeskBotSecret)
	helpdesk.call("GET", "/admin/api/accounts?q=maija", nil, http.StatusUnauthorized)
	// So does an expired one.
	env.Clock.Advance(24 * time.Hour)
	adm.call("GET", "/admin/api/notices", nil, http.StatusUnauthorized)
}

func jsonInt(n int64) string { b, _ := json.Marshal(n); return string(b) }
