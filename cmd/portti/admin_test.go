package main

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/portti/portti/internal/storage/sqlstore"
)

// TestUserGrantRevoke: roles are granted and revoked by e-mail address,
// the answer says what the account holds, mistakes are named, and the
// audit trail records each change with "cli" as the actor.
func TestUserGrantRevoke(t *testing.T) {
	dbURL := clientEnv(t)
	if out, err := runCmd(t, "kesämökki järven rannalla\n", "user", "add", "--email", "aino@example.fi", "--given-name", "Aino", "--family-name", "V", "--password-stdin"); err != nil {
		t.Fatalf("add: %v\n%s", err, out)
	}
	out, err := runCmd(t, "", "user", "grant", "aino@example.fi", "--role", "helpdesk")
	if err != nil || !strings.Contains(out, "granted role helpdesk for aino@example.fi; roles now: helpdesk") {
		t.Fatalf("grant: %v\n%s", err, out)
	}
	out, err = runCmd(t, "", "user", "grant", "--role", "admin", "AINO@example.fi")
	if err != nil || !strings.Contains(out, "roles now: admin, helpdesk") {
		t.Fatalf("grant admin: %v\n%s", err, out)
	}
	out, err = runCmd(t, "", "user", "revoke", "aino@example.fi", "--role", "helpdesk")
	if err != nil || !strings.Contains(out, "roles now: admin") {
		t.Fatalf("revoke: %v\n%s", err, out)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"user", "revoke", "aino@example.fi", "--role", "helpdesk"}, "does not hold the role helpdesk"},
		{[]string{"user", "grant", "nobody@example.fi", "--role", "helpdesk"}, "no account with e-mail address nobody@example.fi"},
		{[]string{"user", "grant", "aino@example.fi", "--role", "root"}, "--role must be helpdesk, admin or guest-inviter"},
		{[]string{"user", "grant", "--role", "admin"}, "give one e-mail address"},
	} {
		if out, err := runCmd(t, "", c.args...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v\n%s, want an error with %q", c.args, err, out, c.want)
		}
	}
	store, err := sqlstore.Open(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	events, err := store.ListEvents(context.Background(), "", 50)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, e := range events {
		if strings.HasPrefix(e.Kind, "staff.") {
			kinds = append(kinds, e.Kind+" "+e.Reason)
		}
	}
	want := []string{"staff.role_revoked by cli: helpdesk", "staff.role_granted by cli: admin", "staff.role_granted by cli: helpdesk"}
	if strings.Join(kinds, "|") != strings.Join(want, "|") {
		t.Fatalf("audit = %q, want %q", kinds, want)
	}
}

// TestNoticeCommands: add (both time forms), list, remove; every
// language is required and the end must follow the start.
func TestNoticeCommands(t *testing.T) {
	dbURL := clientEnv(t)
	from := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	out, err := runCmd(t, "", "notice", "add", "--from", from, "--until", "2999-01-02T12:00",
		"--text-fi", "Huoltokatko lauantaina 8–12", "--text-sv", "Underhåll på lördag 8–12", "--text-en", "Maintenance on Saturday 8–12")
	if err != nil {
		t.Fatalf("add: %v\n%s", err, out)
	}
	id := regexp.MustCompile(`added notice ([0-9a-f]{16}),`).FindStringSubmatch(out)
	if id == nil {
		t.Fatalf("add said %q", out)
	}
	store, err := sqlstore.Open(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	all, err := store.ListNotices(context.Background())
	if err != nil || len(all) != 1 {
		t.Fatalf("notices = %v, %v", all, err)
	}
	n := all[0]
	if n.TextSV != "Underhåll på lördag 8–12" || n.CreatedBy != "cli" || n.EndsAt.In(orgZone).Format("2006-01-02 15:04") != "2999-01-02 12:00" {
		t.Fatalf("stored %+v", n)
	}
	if out, err := runCmd(t, "", "notice", "list"); err != nil || !strings.Contains(out, id[1]) || !strings.Contains(out, "Maintenance on Saturday") {
		t.Fatalf("list: %v\n%s", err, out)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"notice", "add", "--from", from, "--until", "2999-01-01T00:00", "--text-fi", "a", "--text-en", "b"}, "--text-sv is required"},
		{[]string{"notice", "add", "--from", "2999-01-02T00:00", "--until", "2999-01-01T00:00", "--text-fi", "a", "--text-sv", "b", "--text-en", "c"}, "--until must be after --from"},
		{[]string{"notice", "add", "--from", "tomorrow", "--until", "2999-01-01T00:00", "--text-fi", "a", "--text-sv", "b", "--text-en", "c"}, `--from: "tomorrow" is not a time`},
		{[]string{"notice", "add", "--from", "2000-01-01T00:00", "--until", "2000-01-02T00:00", "--text-fi", "a", "--text-sv", "b", "--text-en", "c"}, "has ended already"},
		{[]string{"notice", "remove", "0000000000000000"}, "no notice with ID 0000000000000000"},
		{[]string{"notice", "drop"}, `unknown command "drop"`},
	} {
		if out, err := runCmd(t, "", c.args...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v\n%s, want an error with %q", c.args, err, out, c.want)
		}
	}
	if out, err := runCmd(t, "", "notice", "remove", id[1]); err != nil || !strings.Contains(out, "removed notice "+id[1]) {
		t.Fatalf("remove: %v\n%s", err, out)
	}
	if out, err := runCmd(t, "", "notice", "list"); err != nil || !strings.Contains(out, "no notices") {
		t.Fatalf("list after remove: %v\n%s", err, out)
	}
}
