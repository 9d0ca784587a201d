package oidc

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/portti/portti/internal/secret"
)

// TestAllowedGroupsSpec: allowed groups are validated, deduplicated,
// need the authorization_code grant, round-trip through SpecOf, and a
// change of them alone is synced from the configuration file.
func TestAllowedGroupsSpec(t *testing.T) {
	web := []string{"https://app.example.org/cb"}
	rec, problems := ClientSpec{ID: "a", RedirectURIs: web, AllowedGroups: []string{"Staff", "Staff", "Physics students"}}.record()
	if len(problems) != 0 || !slices.Equal(rec.AllowedGroups, []string{"Staff", "Physics students"}) {
		t.Fatalf("record: %v %v", rec.AllowedGroups, problems)
	}
	if got := SpecOf(rec).AllowedGroups; !slices.Equal(got, rec.AllowedGroups) {
		t.Errorf("SpecOf: %v", got)
	}
	for _, tc := range []struct {
		spec  ClientSpec
		field string
	}{
		{ClientSpec{ID: "a", RedirectURIs: web, AllowedGroups: []string{"ok", " "}}, "allowed_groups[1]"},
		{ClientSpec{ID: "a", RedirectURIs: web, AllowedGroups: []string{"a\nb"}}, "allowed_groups[0]"},
		{ClientSpec{ID: "a", RedirectURIs: web, AllowedGroups: []string{strings.Repeat("x", 257)}}, "allowed_groups[0]"},
		{ClientSpec{ID: "a", GrantTypes: []string{GrantClientCredentials}, AllowedGroups: []string{"Staff"}}, "allowed_groups"},
	} {
		var fields []string
		for _, p := range tc.spec.Validate() {
			fields = append(fields, p.Field)
		}
		if !slices.Contains(fields, tc.field) {
			t.Errorf("%v: problems at %v, want %s", tc.spec.AllowedGroups, fields, tc.field)
		}
	}

	e := newEnv(t)
	ctx := context.Background()
	spec := ClientSpec{ID: "intranet", RedirectURIs: web, SecretHash: secret.Hash("intranet-secret-0123456789-0123456789")}
	if _, err := e.p.SyncClients(ctx, []ClientSpec{spec}); err != nil {
		t.Fatal(err)
	}
	spec.AllowedGroups = []string{"Staff"}
	res, err := e.p.SyncClients(ctx, []ClientSpec{spec})
	if err != nil || !slices.Equal(res.Updated, []string{"intranet"}) {
		t.Fatalf("sync of allowed groups: %+v %v", res, err)
	}
	c, err := e.store.GetClient(ctx, "intranet")
	if err != nil || !slices.Equal(c.AllowedGroups, []string{"Staff"}) {
		t.Fatalf("stored: %v %v", c.AllowedGroups, err)
	}
}
