package provision

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portti/portti/internal/storage"
	"github.com/portti/portti/internal/storage/sqlstore"
)

// testTokens are the bearer tokens the test verifier knows.
var testTokens = map[string][]string{
	"registry-token": {"scim"},
	"other-token":    {"books:read"},
}

func newTestServer(t *testing.T, db dbFunc) (*httptest.Server, storage.Storage) {
	t.Helper()
	st, err := sqlstore.Open(t.Context(), db(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	types, err := NewUserTypes([]UserTypeRule{
		{Type: TypeStudent, Domains: []string{"*@student.example.fi"}},
		{Type: TypeStaff, Domains: []string{"*@example.fi"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := New(Config{
		Store: st, UserTypes: types, BaseURL: "https://id.example.fi", MaxBody: 64 << 10,
		Now: func() time.Time { return time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC) },
		Verify: func(_ context.Context, token string) (string, []string, bool, error) {
			scopes, ok := testTokens[token]
			return "registry", scopes, ok, nil
		},
	})
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return ts, st
}

type response struct {
	status int
	header http.Header
	body   map[string]any
}

func do(t *testing.T, ts *httptest.Server, method, path, token string, body any, header ...string) response {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, _ := http.NewRequest(method, ts.URL+"/scim/v2"+path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/scim+json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	out := response{status: res.StatusCode, header: res.Header}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out.body); err != nil {
			t.Fatalf("%s %s: response is not JSON: %s", method, path, raw)
		}
		if ct := res.Header.Get("Content-Type"); ct != "application/scim+json" {
			t.Errorf("%s %s: Content-Type %q", method, path, ct)
		}
	}
	return out
}

// subset reports where got differs from want, which lists only what
// matters: objects compare key by key, lists element by element.
func subset(got, want any, at string) string {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return fmt.Sprintf("%s: got %v, want an object", at, got)
		}
		for k, v := range w {
			if d := subset(g[k], v, at+"."+k); d != "" {
				return d
			}
		}
		return ""
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return fmt.Sprintf("%s: got %v, want %d values", at, got, len(w))
		}
		for i := range w {
			if d := subset(g[i], w[i], fmt.Sprintf("%s[%d]", at, i)); d != "" {
				return d
			}
		}
		return ""
	}
	if !reflect.DeepEqual(got, want) {
		return fmt.Sprintf("%s: got %#v, want %#v", at, got, want)
	}
	return ""
}

// TestEntraSequence replays the request sequence Microsoft Entra ID's
// provisioning service sends (its documented request shapes: a lookup
// by userName before each create, PATCH with Replace of active as the
// string "False", a value-filtered e-mail path, the manager as a bare id,
// group members added and removed by value list) against the server.
func TestEntraSequence(t *testing.T) { onBackends(t, testEntraSequence) }

func testEntraSequence(t *testing.T, db dbFunc) {
	ts, _ := newTestServer(t, db)
	raw, err := os.ReadFile("testdata/entra.json")
	if err != nil {
		t.Fatal(err)
	}
	var steps []struct {
		Name, Method, Path, Save string
		Status                   int
		Body                     json.RawMessage
		Want                     map[string]any
		WantMembers              []string
	}
	if err := json.Unmarshal(raw, &steps); err != nil {
		t.Fatal(err)
	}
	saved := map[string]string{}
	subst := func(s string) string {
		for k, v := range saved {
			s = strings.ReplaceAll(s, "{"+k+"}", v)
		}
		return s
	}
	for _, st := range steps {
		var body any
		if len(st.Body) > 0 {
			body = subst(string(st.Body))
		}
		res := do(t, ts, st.Method, subst(st.Path), "registry-token", body)
		if res.status != st.Status {
			t.Fatalf("%s: status %d, want %d: %v", st.Name, res.status, st.Status, res.body)
		}
		if st.Save != "" {
			saved[st.Save], _ = res.body["id"].(string)
		}
		if st.Want != nil {
			var want map[string]any
			wb, _ := json.Marshal(st.Want)
			_ = json.Unmarshal([]byte(subst(string(wb))), &want)
			if d := subset(res.body, want, st.Name); d != "" {
				t.Fatalf("%s", d)
			}
		}
		if st.WantMembers != nil {
			var got, want []string
			for _, m := range res.body["members"].([]any) {
				got = append(got, m.(map[string]any)["value"].(string))
			}
			for _, k := range st.WantMembers {
				want = append(want, saved[k])
			}
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Fatalf("%s: members %v, want %v", st.Name, got, want)
			}
		}
	}
}

func createUser(t *testing.T, ts *httptest.Server, user map[string]any) map[string]any {
	t.Helper()
	if user["schemas"] == nil {
		user["schemas"] = []string{"urn:ietf:params:scim:schemas:core:2.0:User"}
	}
	res := do(t, ts, "POST", "/Users", "registry-token", user)
	if res.status != http.StatusCreated {
		t.Fatalf("create user: %d %v", res.status, res.body)
	}
	return res.body
}

// TestAuthentication: no token 401, a token without the scim scope 403,
// both with a SCIM error body.
func TestAuthentication(t *testing.T) { onBackends(t, testAuthentication) }

func testAuthentication(t *testing.T, db dbFunc) {
	ts, _ := newTestServer(t, db)
	for _, tc := range []struct {
		token  string
		status int
		www    string
	}{
		{"", 401, `Bearer realm="scim"`},
		{"forged", 401, `error="invalid_token"`},
		{"other-token", 403, `error="insufficient_scope"`},
	} {
		res := do(t, ts, "GET", "/Users", tc.token, nil)
		if res.status != tc.status || res.body["status"] != fmt.Sprint(tc.status) || !strings.Contains(res.header.Get("WWW-Authenticate"), tc.www) {
			t.Errorf("token %q: %d %v %q", tc.token, res.status, res.body, res.header.Get("WWW-Authenticate"))
		}
	}
}

// TestBadInput: each malformed request gets its exact SCIM error, and
// nothing is stored.
func TestBadInput(t *testing.T) { onBackends(t, testBadInput) }

func testBadInput(t *testing.T, db dbFunc) {
	ts, st := newTestServer(t, db)
	u := createUser(t, ts, map[string]any{"userName": "a@example.fi", "externalId": "x1"})
	id := u["id"].(string)
	big := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"b@example.fi","displayName":"` + strings.Repeat("x", 70<<10) + `"}`
	patch := func(ops string) string {
		return `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":` + ops + `}`
	}
	for _, tc := range []struct {
		name, method, path, body string
		status                   int
		scimType                 string
	}{
		{"malformed JSON", "POST", "/Users", `{"userName": `, 400, "invalidSyntax"},
		{"two JSON values", "POST", "/Users", `{} {}`, 400, "invalidSyntax"},
		{"unknown attribute", "POST", "/Users", `{"userName":"c@example.fi","shoeSize":42}`, 400, "invalidValue"},
		{"unknown schema", "POST", "/Users", `{"schemas":["urn:example:nope"],"userName":"c@example.fi"}`, 400, "invalidValue"},
		{"no userName", "POST", "/Users", `{"displayName":"x"}`, 400, "invalidValue"},
		{"userName not an address", "POST", "/Users", `{"userName":"bjensen"}`, 400, "invalidValue"},
		{"a password", "POST", "/Users", `{"userName":"c@example.fi","password":"hunter2hunter2"}`, 400, "invalidValue"},
		{"active not boolean", "POST", "/Users", `{"userName":"c@example.fi","active":"maybe"}`, 400, "invalidValue"},
		{"bad date", "POST", "/Users", `{"userName":"c@example.fi","urn:portti:params:scim:schemas:extension:portti:2.0:User":{"startDate":"14.1.2027"}}`, 400, "invalidValue"},
		{"end before start", "POST", "/Users", `{"userName":"c@example.fi","urn:portti:params:scim:schemas:extension:portti:2.0:User":{"startDate":"2027-01-14T00:00:00Z","endDate":"2026-01-14T00:00:00Z"}}`, 400, "invalidValue"},
		{"bad user type", "POST", "/Users", `{"userName":"c@example.fi","urn:portti:params:scim:schemas:extension:portti:2.0:User":{"userType":"Staff Member"}}`, 400, "invalidValue"},
		{"taken userName in another case", "POST", "/Users", `{"userName":"A@Example.FI"}`, 409, "uniqueness"},
		{"taken externalId", "POST", "/Users", `{"userName":"c@example.fi","externalId":"x1"}`, 409, "uniqueness"},
		{"oversized body", "POST", "/Users", big, 413, ""},
		{"patch: unknown path", "PATCH", "/Users/" + id, patch(`[{"op":"replace","path":"shoeSize","value":1}]`), 400, "invalidPath"},
		{"patch: bad path syntax", "PATCH", "/Users/" + id, patch(`[{"op":"replace","path":"emails[type eq","value":1}]`), 400, "invalidPath"},
		{"patch: read-only", "PATCH", "/Users/" + id, patch(`[{"op":"replace","path":"id","value":"x"}]`), 400, "mutability"},
		{"patch: remove without path", "PATCH", "/Users/" + id, patch(`[{"op":"remove"}]`), 400, "noTarget"},
		{"patch: unknown op", "PATCH", "/Users/" + id, patch(`[{"op":"move","path":"title","value":"x"}]`), 400, "invalidSyntax"},
		{"patch: no match for a complex filter", "PATCH", "/Users/" + id, patch(`[{"op":"replace","path":"emails[type eq \"work\" or primary eq true].value","value":"z@example.fi"}]`), 400, "noTarget"},
		{"patch: second op fails, first not applied", "PATCH", "/Users/" + id, patch(`[{"op":"replace","path":"title","value":"Professor"},{"op":"replace","path":"userName","value":"not an address"}]`), 400, "invalidValue"},
		{"patch: wrong schemas", "PATCH", "/Users/" + id, `{"schemas":["x"],"Operations":[]}`, 400, "invalidSyntax"},
		{"patch: remove required userName", "PATCH", "/Users/" + id, patch(`[{"op":"remove","path":"userName"}]`), 400, "invalidValue"},
		{"filter: syntax", "GET", "/Users?filter=userName+eq", "", 400, "invalidFilter"},
		{"filter: unknown attribute", "GET", "/Users?filter=shoeSize+eq+1", "", 400, "invalidFilter"},
		{"filter: gt on a boolean", "GET", "/Users?filter=active+gt+true", "", 400, "invalidFilter"},
		{"missing user", "GET", "/Users/nobody", "", 404, ""},
		{"group with a stranger", "POST", "/Groups", `{"displayName":"G","members":[{"value":"nobody"}]}`, 400, "invalidValue"},
		{"nested group", "POST", "/Groups", `{"displayName":"G","members":[{"value":"` + id + `","type":"Group"}]}`, 400, "invalidValue"},
		{"bulk", "POST", "/Bulk", `{}`, 501, ""},
	} {
		var body any
		if tc.body != "" {
			body = tc.body
		}
		res := do(t, ts, tc.method, tc.path, "registry-token", body)
		if res.status != tc.status || res.body["status"] != fmt.Sprint(tc.status) {
			t.Errorf("%s: %d %v, want %d", tc.name, res.status, res.body, tc.status)
			continue
		}
		if got, _ := res.body["scimType"].(string); got != tc.scimType {
			t.Errorf("%s: scimType %q, want %q (%v)", tc.name, got, tc.scimType, res.body["detail"])
		}
		if !slices.Equal(toStrings(res.body["schemas"]), []string{"urn:ietf:params:scim:api:messages:2.0:Error"}) {
			t.Errorf("%s: schemas %v", tc.name, res.body["schemas"])
		}
	}
	// Nothing half-applied, nothing extra stored.
	pa, err := st.GetProvisioned(t.Context(), id)
	if err != nil || pa.Provisioned.Title != "" || pa.Provisioned.Version != 1 {
		t.Fatalf("the user changed: %+v %v", pa.Provisioned, err)
	}
	list, _ := st.ListProvisioned(t.Context(), "", 10)
	if len(list) != 1 {
		t.Fatalf("%d users stored, want 1", len(list))
	}
}

func toStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

// TestFilterAndPaging: the filter operators the issue names on the
// attributes it names, and RFC 7644 3.4.2.4 paging.
func TestFilterAndPaging(t *testing.T) { onBackends(t, testFilterAndPaging) }

func testFilterAndPaging(t *testing.T, db dbFunc) {
	ts, _ := newTestServer(t, db)
	for i, u := range []string{"anna", "bertta", "cecilia", "daniel", "eemeli"} {
		createUser(t, ts, map[string]any{
			"userName":   u + "@example.fi",
			"externalId": fmt.Sprintf("ext-%d", i),
			"name":       map[string]any{"givenName": strings.ToUpper(u[:1]) + u[1:], "familyName": "Test"},
			"emails":     []any{map[string]any{"type": "work", "value": u + "@work.example.org"}},
			"active":     i%2 == 0,
		})
	}
	users := func(filter string) []string {
		res := do(t, ts, "GET", "/Users?filter="+urlEscape(filter), "registry-token", nil)
		if res.status != 200 {
			t.Fatalf("filter %q: %d %v", filter, res.status, res.body)
		}
		var out []string
		for _, r := range res.body["Resources"].([]any) {
			out = append(out, strings.TrimSuffix(r.(map[string]any)["userName"].(string), "@example.fi"))
		}
		slices.Sort(out)
		return out
	}
	for filter, want := range map[string][]string{
		`userName eq "ANNA@example.fi"`:                            {"anna"},
		`userName co "ert"`:                                        {"bertta"},
		`userName sw "c"`:                                          {"cecilia"},
		`userName ew "example.fi" and active eq true`:              {"anna", "cecilia", "eemeli"},
		`externalId eq "ext-3" or externalId eq "ext-4"`:           {"daniel", "eemeli"},
		`externalId eq "EXT-3"`:                                    nil, // caseExact
		`emails co "daniel@work"`:                                  {"daniel"},
		`emails.value sw "eemeli"`:                                 {"eemeli"},
		`emails[type eq "work" and value co "anna"]`:               {"anna"},
		`name.givenName eq "bertta"`:                               {"bertta"},
		`not (active eq true)`:                                     {"bertta", "daniel"},
		`meta.lastModified gt "2026-01-01T00:00:00Z"`:              {"anna", "bertta", "cecilia", "daniel", "eemeli"},
		`meta.lastModified lt "2026-01-01T00:00:00Z"`:              nil,
		`(userName sw "a" or userName sw "b") and active eq false`: {"bertta"},
		`title pr`:                      nil,
		`USERNAME EQ "anna@example.fi"`: {"anna"},
		`urn:ietf:params:scim:schemas:core:2.0:User:userName eq "anna@example.fi"`: {"anna"},
	} {
		if got := users(filter); !slices.Equal(got, want) {
			t.Errorf("filter %q: %v, want %v", filter, got, want)
		}
	}
	res := do(t, ts, "GET", "/Users?startIndex=2&count=2", "registry-token", nil)
	if res.body["totalResults"] != 5.0 || res.body["startIndex"] != 2.0 || res.body["itemsPerPage"] != 2.0 || len(res.body["Resources"].([]any)) != 2 {
		t.Errorf("page: %v", res.body)
	}
	res = do(t, ts, "GET", "/Users?startIndex=0&count=-1", "registry-token", nil)
	if res.body["totalResults"] != 5.0 || res.body["startIndex"] != 1.0 || len(res.body["Resources"].([]any)) != 0 {
		t.Errorf("count 0: %v", res.body)
	}
	res = do(t, ts, "POST", "/Users/.search", "registry-token", map[string]any{
		"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:SearchRequest"}, "filter": `userName sw "d"`, "attributes": []string{"userName"},
	})
	rs := res.body["Resources"].([]any)
	if len(rs) != 1 || rs[0].(map[string]any)["emails"] != nil || rs[0].(map[string]any)["id"] == nil {
		t.Errorf(".search with attributes: %v", res.body)
	}
}

func urlEscape(s string) string {
	r := strings.NewReplacer(" ", "+", `"`, "%22", "@", "%40", "[", "%5B", "]", "%5D", "(", "%28", ")", "%29")
	return r.Replace(s)
}

// TestETags: every resource has an ETag; If-Match with an old one is
// refused with 412 and nothing changes; If-None-Match gives 304.
func TestETags(t *testing.T) { onBackends(t, testETags) }

func testETags(t *testing.T, db dbFunc) {
	ts, _ := newTestServer(t, db)
	u := createUser(t, ts, map[string]any{"userName": "a@example.fi"})
	id := u["id"].(string)
	get := do(t, ts, "GET", "/Users/"+id, "registry-token", nil)
	tag := get.header.Get("ETag")
	if tag != `W/"1"` || get.body["meta"].(map[string]any)["version"] != tag {
		t.Fatalf("ETag %q, meta %v", tag, get.body["meta"])
	}
	if res := do(t, ts, "GET", "/Users/"+id, "registry-token", nil, "If-None-Match", tag); res.status != 304 {
		t.Errorf("If-None-Match: %d", res.status)
	}
	patch := map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
		"Operations": []any{map[string]any{"op": "replace", "path": "title", "value": "Dr"}}}
	if res := do(t, ts, "PATCH", "/Users/"+id, "registry-token", patch, "If-Match", tag); res.status != 200 || res.header.Get("ETag") != `W/"2"` {
		t.Fatalf("PATCH with the right If-Match: %d %v %q", res.status, res.body, res.header.Get("ETag"))
	}
	if res := do(t, ts, "PATCH", "/Users/"+id, "registry-token", patch, "If-Match", tag); res.status != 412 {
		t.Errorf("PATCH with an old If-Match: %d", res.status)
	}
	if res := do(t, ts, "DELETE", "/Users/"+id, "registry-token", nil, "If-Match", tag); res.status != 412 {
		t.Errorf("DELETE with an old If-Match: %d", res.status)
	}
	put := map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:User"}, "userName": "a@example.fi", "title": "Prof"}
	if res := do(t, ts, "PUT", "/Users/"+id, "registry-token", put, "If-Match", `"2"`); res.status != 200 || res.body["title"] != "Prof" {
		t.Errorf("PUT with If-Match: %d %v", res.status, res.body)
	}
}

// TestLifecycleFields: the portti extension's dates give the state, the
// domain gives the user type unless the registry says, and active=false
// disables the account and ends its sessions.
func TestLifecycleFields(t *testing.T) { onBackends(t, testLifecycleFields) }

func testLifecycleFields(t *testing.T, db dbFunc) {
	ts, st := newTestServer(t, db)
	ctx := t.Context()
	ext := "urn:portti:params:scim:schemas:extension:portti:2.0:User"
	u := createUser(t, ts, map[string]any{"userName": "new@student.example.fi",
		ext: map[string]any{"startDate": "2027-01-14T00:00:00+02:00", "endDate": "2030-07-31T00:00:00Z"}})
	pa, _ := st.GetProvisioned(ctx, u["id"].(string))
	if pa.Provisioned.State != storage.ProvisionPending || pa.Provisioned.UserType != TypeStudent || pa.Account.PasswordHash != "" ||
		pa.Provisioned.Source != storage.ProvisionSourceSCIM || !pa.Provisioned.DueAt.Equal(pa.Provisioned.StartsAt) {
		t.Fatalf("pending student: %+v", pa.Provisioned)
	}
	if got := u[ext].(map[string]any)["startDate"]; got != "2027-01-13T22:00:00Z" {
		t.Errorf("startDate = %v", got)
	}
	u = createUser(t, ts, map[string]any{"userName": "guest@example.fi", ext: map[string]any{"userType": "guest"}, "active": false})
	pa, _ = st.GetProvisioned(ctx, u["id"].(string))
	if pa.Provisioned.State != storage.ProvisionDisabled || pa.Provisioned.UserType != "guest" || !pa.Account.Disabled || !pa.Provisioned.DueAt.IsZero() {
		t.Fatalf("disabled guest: %+v %+v", pa.Provisioned, pa.Account)
	}
	u = createUser(t, ts, map[string]any{"userName": "staff@example.fi"})
	id := u["id"].(string)
	if err := st.CreateSession(ctx, storage.Session{ID: "s1", AccountID: id, ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	do(t, ts, "PATCH", "/Users/"+id, "registry-token", map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
		"Operations": []any{map[string]any{"op": "Replace", "path": "active", "value": false}}})
	pa, _ = st.GetProvisioned(ctx, id)
	if !pa.Account.Disabled || pa.Provisioned.UserType != TypeStaff {
		t.Fatalf("after active=false: %+v %+v", pa.Account, pa.Provisioned)
	}
	if _, err := st.GetSession(ctx, "s1"); err == nil {
		t.Error("the disabled account's session survived")
	}
}

// TestDiscovery: ServiceProviderConfig, ResourceTypes and Schemas, and
// every attribute a filter accepts is in the served schema.
func TestDiscovery(t *testing.T) { onBackends(t, testDiscovery) }

func testDiscovery(t *testing.T, db dbFunc) {
	ts, _ := newTestServer(t, db)
	res := do(t, ts, "GET", "/ServiceProviderConfig", "registry-token", nil)
	if res.body["patch"].(map[string]any)["supported"] != true || res.body["etag"].(map[string]any)["supported"] != true ||
		res.body["bulk"].(map[string]any)["supported"] != false {
		t.Errorf("ServiceProviderConfig: %v", res.body)
	}
	res = do(t, ts, "GET", "/ResourceTypes", "registry-token", nil)
	if res.body["totalResults"] != 2.0 {
		t.Errorf("ResourceTypes: %v", res.body)
	}
	res = do(t, ts, "GET", "/ResourceTypes/User", "registry-token", nil)
	if exts := res.body["schemaExtensions"].([]any); len(exts) != 2 {
		t.Errorf("User extensions: %v", exts)
	}
	res = do(t, ts, "GET", "/Schemas", "registry-token", nil)
	if res.body["totalResults"] != 4.0 {
		t.Errorf("Schemas: %v", res.body)
	}
	res = do(t, ts, "GET", "/Schemas/urn:portti:params:scim:schemas:extension:portti:2.0:User", "registry-token", nil)
	if res.status != 200 || len(res.body["attributes"].([]any)) != 4 {
		t.Errorf("portti schema: %d %v", res.status, res.body)
	}
}

// TestConcurrency: registries send in parallel. The same new user sent
// eight times at once is created once (the others get 409, not 500), and
// eight members added to one group at once are all there: no change is
// lost, on either backend.
func TestConcurrency(t *testing.T) { onBackends(t, testConcurrency) }

func testConcurrency(t *testing.T, db dbFunc) {
	ts, st := newTestServer(t, db)
	const n = 8
	statuses := make(chan int, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			res := do(t, ts, "POST", "/Users", "registry-token", `{"userName":"same@example.fi"}`)
			statuses <- res.status
		})
	}
	wg.Wait()
	close(statuses)
	count := map[int]int{}
	for s := range statuses {
		count[s]++
	}
	if count[201] != 1 || count[409] != n-1 {
		t.Errorf("statuses %v, want one 201 and %d 409", count, n-1)
	}

	var ids []string
	for i := range n {
		ids = append(ids, createUser(t, ts, map[string]any{"userName": fmt.Sprintf("m%d@example.fi", i)})["id"].(string))
	}
	g := do(t, ts, "POST", "/Groups", "registry-token", `{"displayName":"G"}`)
	gid := g.body["id"].(string)
	for _, id := range ids {
		wg.Go(func() {
			res := do(t, ts, "PATCH", "/Groups/"+gid, "registry-token", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
				"Operations":[{"op":"add","path":"members","value":[{"value":"`+id+`"}]}]}`)
			if res.status != 200 {
				t.Errorf("PATCH: %d %v", res.status, res.body)
			}
		})
	}
	wg.Wait()
	got, err := st.GetGroup(t.Context(), gid)
	if err != nil || len(got.Members) != n || got.Version != n+1 {
		t.Errorf("group after %d parallel adds: %d members, version %d, %v", n, len(got.Members), got.Version, err)
	}
}
