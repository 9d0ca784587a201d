package main

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/portti/portti/internal/storage/sqlstore"
)

// TestClientGroupsAndSCIMClient: `client add --allow-group` limits an
// application to groups (shown by client list, changed by client update,
// refused without the authorization_code grant), and the registry's
// client of the README is accepted as written.
func TestClientGroupsAndSCIMClient(t *testing.T) {
	dbURL := clientEnv(t)
	out, err := runCmd(t, "", "client", "add", "--id", "intranet", "--redirect-uri", "https://intranet.example.fi/cb",
		"--allow-group", "Staff", "--allow-group", "Physics students", "--allow-group", "Staff")
	if err != nil {
		t.Fatalf("add: %v\n%s", err, out)
	}
	out, err = runCmd(t, "", "client", "list")
	if err != nil || !strings.Contains(out, "groups Staff|Physics students") {
		t.Fatalf("list: %v\n%s", err, out)
	}
	if out, err := runCmd(t, "", "client", "update", "--id", "intranet", "--allow-group", "Alumni"); err != nil {
		t.Fatalf("update: %v\n%s", err, out)
	}
	st, err := sqlstore.Open(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	c, err := st.GetClient(context.Background(), "intranet")
	st.Close()
	if err != nil || !slices.Equal(c.AllowedGroups, []string{"Alumni"}) {
		t.Fatalf("after update: %v %v", c.AllowedGroups, err)
	}
	out, err = runCmd(t, "", "client", "add", "--id", "svc", "--grant", "client_credentials", "--allow-group", "Staff")
	if err == nil || !strings.Contains(out+err.Error(), "authorization_code") {
		t.Fatalf("groups without authorization_code: %v\n%s", err, out)
	}
	out, err = runCmd(t, "registry-secret-with-enough-randomness-0123456789\n", "client", "add", "--id", "registry",
		"--grant", "client_credentials", "--scope", "scim", "--secret-stdin")
	if err != nil {
		t.Fatalf("registry client: %v\n%s", err, out)
	}
}
