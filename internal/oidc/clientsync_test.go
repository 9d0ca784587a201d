package oidc

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portti/portti/internal/secret"
	"github.com/portti/portti/internal/storage"
)

// TestSpecProblemFields: each problem names its field as the configuration
// file does, with list positions.
func TestSpecProblemFields(t *testing.T) {
	web := []string{"https://app.example.org/cb"}
	tests := []struct {
		name string
		spec ClientSpec
		want []string
	}{
		{"valid", ClientSpec{ID: "a", RedirectURIs: web}, nil},
		{"id and name", ClientSpec{ID: "a b", Name: "x\ny", RedirectURIs: web}, []string{"id", "name"}},
		{"lists", ClientSpec{ID: "a",
			RedirectURIs:           []string{"https://app.example.org/ok", "http://app.example.org/cb"},
			PostLogoutRedirectURIs: []string{"/bye"},
			GrantTypes:             []string{GrantAuthorizationCode, "password", "implicit"},
			AllowedNetworks:        []string{"10.0.0.0/8", "10.1.2.3/8"},
		}, []string{"grants[1]", "grants[2]", "redirect_uris[1]", "post_logout_redirect_uris[0]", "allowed_networks[1]"}},
		{"whole lists", ClientSpec{ID: "a", Public: true, GrantTypes: []string{GrantRefreshToken, GrantClientCredentials}},
			[]string{"grants", "grants"}},
		{"no redirect", ClientSpec{ID: "a"}, []string{"redirect_uris"}},
		{"scopes", ClientSpec{ID: "a", ResourceServer: "https://api.example.fi/a", Scopes: []string{"ok", "not ok", "email"}},
			[]string{"scopes[1]", "scopes[2]", "scopes"}},
		{"resource server", ClientSpec{ID: "a", ResourceServer: "api#x", ResourceScopes: []string{"ok", "not ok"}},
			[]string{"resource_server", "resource_scopes[1]"}},
		{"single values", ClientSpec{ID: "a", RedirectURIs: web, BackchannelLogoutURI: "ftp://x", IDTokenAlg: "none"},
			[]string{"backchannel_logout_uri", "id_token_alg"}},
		{"hash not hex", ClientSpec{ID: "a", RedirectURIs: web, SecretHash: "xyz"}, []string{"secret"}},
		{"hash of nothing", ClientSpec{ID: "a", RedirectURIs: web, SecretHash: emptySHA256}, []string{"secret"}},
		{"secret and hash", ClientSpec{ID: "a", RedirectURIs: web, Secret: strings.Repeat("s", 40), SecretHash: secret.Hash("x")}, []string{"secret"}},
		{"public with hash", ClientSpec{ID: "a", Public: true, RedirectURIs: web, SecretHash: secret.Hash("x")}, []string{"secret"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, p := range tt.spec.Validate() {
				got = append(got, p.Field)
				if p.Message == "" || p.String() != p.Message {
					t.Errorf("problem %+v", p)
				}
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("fields %q, want %q", got, tt.want)
			}
		})
	}
}

func TestNewClientWithSecretHash(t *testing.T) {
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	h := secret.Hash("the-client-keeps-this-secret-0123456789")
	rec, sec, err := NewClient(ClientSpec{ID: "svc", SecretHash: strings.ToUpper(h), GrantTypes: []string{GrantClientCredentials}}, now, nil)
	if err != nil {
		t.Fatal(err)
	}
	if sec != "" || rec.SecretHash != h || rec.Source != storage.ClientSourceCLI {
		t.Errorf("secret %q, record %+v", sec, rec)
	}
	if err := CheckClientSecret("short"); err == nil {
		t.Error("short secret accepted")
	}
	if err := CheckClientSecret(strings.Repeat("s", 31) + "\n"); err == nil {
		t.Error("secret with a newline accepted")
	}
}

// fileClients is a list as the configuration file would give it.
func fileClients(webSecret string) []ClientSpec {
	return []ClientSpec{
		{ID: "web", Name: "Web", RedirectURIs: []string{webRedirect}, SecretHash: secret.Hash(webSecret)},
		{ID: "svc", GrantTypes: []string{GrantClientCredentials}, SecretHash: secret.Hash(svcSecret)},
		{ID: "app", Public: true, RedirectURIs: []string{"fi.example.app:/cb"}},
	}
}

const (
	svcSecret = "svc-secret-from-the-environment-0123456789"
	webSecret = "web-secret-from-the-environment-0123456789"
)

func TestSyncClients(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	cliSecret := e.client(ClientSpec{ID: "cli-svc", GrantTypes: []string{GrantClientCredentials}})
	cliBefore, err := e.store.GetClient(ctx, "cli-svc")
	if err != nil {
		t.Fatal(err)
	}
	cc := url.Values{"grant_type": {"client_credentials"}}
	grant := func(id, sec string) int {
		t.Helper()
		status, _ := e.token(cc, id, sec)
		return status
	}
	sync := func(specs []ClientSpec) SyncResult {
		t.Helper()
		res, err := e.p.SyncClients(ctx, specs)
		if err != nil {
			t.Fatalf("sync: %v", err)
		}
		return res
	}
	checkCLIUntouched := func() {
		t.Helper()
		got, err := e.store.GetClient(ctx, "cli-svc")
		if err != nil || !reflect.DeepEqual(got, cliBefore) {
			t.Errorf("the command's client changed: %+v, %v", got, err)
		}
		if grant("cli-svc", cliSecret) != http.StatusOK {
			t.Error("the command's client stopped working")
		}
	}

	// Create.
	res := sync(fileClients(webSecret))
	if !reflect.DeepEqual(res.Created, []string{"web", "svc", "app"}) || len(res.Updated)+len(res.Removed)+len(res.Conflicts) != 0 {
		t.Fatalf("first sync: %+v", res)
	}
	web, err := e.store.GetClient(ctx, "web")
	if err != nil {
		t.Fatal(err)
	}
	if web.Source != storage.ClientSourceConfig || web.SecretHash != secret.Hash(webSecret) || web.IDTokenAlg != algRS256 ||
		!slices.Equal(web.GrantTypes, []string{GrantAuthorizationCode, GrantRefreshToken}) || !web.CreatedAt.Equal(e.clock.Now()) {
		t.Errorf("stored: %+v", web)
	}
	// web may not use client_credentials (yet): unauthorized_client.
	if grant("svc", svcSecret) != http.StatusOK || grant("web", webSecret) != http.StatusBadRequest {
		t.Error("grants after the first sync")
	}
	checkCLIUntouched()

	// The same list again writes nothing.
	e.clock.Advance(time.Hour)
	res = sync(fileClients(webSecret))
	if len(res.Unchanged) != 3 || len(res.Changed()) != 0 {
		t.Errorf("second sync: %+v", res)
	}
	if again, _ := e.store.GetClient(ctx, "web"); !again.UpdatedAt.Equal(web.UpdatedAt) {
		t.Errorf("unchanged client rewritten: %v → %v", web.UpdatedAt, again.UpdatedAt)
	}

	// Update: a new secret and grant take effect at once on this node
	// (the cache forgets the client), without waiting for its TTL.
	if grant("svc", svcSecret) != http.StatusOK {
		t.Fatal("svc before the update")
	}
	changed := fileClients(webSecret)
	const newSvcSecret = "svc-secret-rotated-in-the-file-0123456789"
	changed[1].SecretHash = secret.Hash(newSvcSecret)
	changed[0].RedirectURIs = append(changed[0].RedirectURIs, "https://web.example.org/cb2")
	changed[0].GrantTypes = []string{GrantAuthorizationCode, GrantRefreshToken, GrantClientCredentials}
	res = sync(changed)
	if !reflect.DeepEqual(res.Updated, []string{"web", "svc"}) || !reflect.DeepEqual(res.Unchanged, []string{"app"}) {
		t.Errorf("update: %+v", res)
	}
	if grant("svc", svcSecret) != http.StatusUnauthorized || grant("svc", newSvcSecret) != http.StatusOK || grant("web", webSecret) != http.StatusOK {
		t.Error("the update is not in effect")
	}
	updated, _ := e.store.GetClient(ctx, "web")
	if !updated.CreatedAt.Equal(web.CreatedAt) || !updated.UpdatedAt.Equal(e.clock.Now()) || len(updated.RedirectURIs) != 2 {
		t.Errorf("updated: %+v", updated)
	}
	checkCLIUntouched()

	// Clients that left the file are removed (in ID order), at once.
	res = sync(changed[:1])
	if !reflect.DeepEqual(res.Removed, []string{"app", "svc"}) || !reflect.DeepEqual(res.Unchanged, []string{"web"}) {
		t.Errorf("removal: %+v", res)
	}
	if _, err := e.store.GetClient(ctx, "svc"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("svc still stored: %v", err)
	}
	if grant("svc", newSvcSecret) != http.StatusUnauthorized {
		t.Error("a removed client still gets tokens")
	}
	checkCLIUntouched()

	// The file may not take over a client of the command's.
	clash := append(changed[:1:1], ClientSpec{ID: "cli-svc", Public: true, RedirectURIs: []string{"fi.example.app:/cb"}})
	res = sync(clash)
	if !reflect.DeepEqual(res.Conflicts, []string{"cli-svc"}) || len(res.Changed()) != 0 {
		t.Errorf("conflict: %+v", res)
	}
	checkCLIUntouched()

	// An empty list removes every file client and nothing else.
	res = sync(nil)
	if !reflect.DeepEqual(res.Removed, []string{"web"}) {
		t.Errorf("empty list: %+v", res)
	}
	list, _ := e.store.ListClients(ctx)
	if len(list) != 1 || list[0].ID != "cli-svc" {
		t.Errorf("left: %+v", list)
	}
	checkCLIUntouched()
}

// TestSyncClientsRefusesBadLists: a list with any bad entry changes
// nothing, not even the good entries or the removals.
func TestSyncClientsRefusesBadLists(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, err := SyncClients(ctx, e.store, fileClients(webSecret), e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	before, _ := e.store.ListClients(ctx)
	for name, specs := range map[string][]ClientSpec{
		"invalid":           {{ID: "new", RedirectURIs: []string{"http://new.example.org/cb"}, SecretHash: secret.Hash("x")}},
		"duplicate":         {fileClients(webSecret)[0], fileClients(webSecret)[0]},
		"no secret to hash": {{ID: "new", RedirectURIs: []string{webRedirect}}},
	} {
		res, err := SyncClients(ctx, e.store, specs, e.clock.Now())
		var ce *ClientError
		if !errors.As(err, &ce) || len(res.Changed()) != 0 {
			t.Errorf("%s: %+v, %v", name, res, err)
		}
		if after, _ := e.store.ListClients(ctx); !reflect.DeepEqual(after, before) {
			t.Errorf("%s: clients changed", name)
		}
	}
}

// TestSyncClientsNodes: nodes that sync the same list at the same moment
// (several portti starting on one database) make each change once.
func TestSyncClientsNodes(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	const nodes = 4
	var wg sync.WaitGroup
	results := make([]SyncResult, nodes)
	errs := make([]error, nodes)
	for i := range nodes {
		wg.Go(func() { results[i], errs[i] = SyncClients(ctx, e.store, fileClients(webSecret), e.clock.Now()) })
	}
	wg.Wait()
	created := 0
	for i := range nodes {
		if errs[i] != nil {
			t.Errorf("node %d: %v", i, errs[i])
		}
		created += len(results[i].Created)
		if len(results[i].Conflicts) != 0 {
			t.Errorf("node %d: conflicts %v", i, results[i].Conflicts)
		}
	}
	if list, _ := e.store.ListClients(ctx); len(list) != 3 || created < 3 {
		t.Errorf("%d clients, %d created", len(list), created)
	}
}

// TestSameClientSeesEveryField: a change to any field of a client but its
// timestamps makes sameClient false, so the configuration file's change
// is synced (a field added to storage.Client and forgotten there, as
// RequireMFA once was, fails here).
func TestSameClientSeesEveryField(t *testing.T) {
	base := storage.Client{ID: "web", Name: "Web", RedirectURIs: []string{"https://a.example/cb"}}
	if !sameClient(base, base) {
		t.Fatal("a client differs from itself")
	}
	typ := reflect.TypeOf(base)
	for i := range typ.NumField() {
		f := typ.Field(i)
		if f.Name == "CreatedAt" || f.Name == "UpdatedAt" {
			continue
		}
		changed := base
		v := reflect.ValueOf(&changed).Elem().Field(i)
		switch v.Kind() {
		case reflect.String:
			v.SetString(v.String() + "x")
		case reflect.Bool:
			v.SetBool(!v.Bool())
		case reflect.Slice:
			v.Set(reflect.Append(v, reflect.ValueOf("x")))
		default:
			t.Fatalf("field %s of kind %s: teach this test to change it", f.Name, v.Kind())
		}
		if sameClient(base, changed) {
			t.Errorf("sameClient does not see a change of %s", f.Name)
		}
	}
}
