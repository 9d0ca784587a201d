package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/portti/portti/internal/guests"
	"github.com/portti/portti/internal/storage/sqlstore"
)

// TestGuestInvite: `portti guest invite` stores a hashed invitation and
// queues its e-mail, for the operator or for an inviter named with --by
// who must hold the guest-inviter (or admin) role; mistakes are named.
func TestGuestInvite(t *testing.T) {
	dbURL := clientEnv(t)
	if out, err := runCmd(t, "kesämökki järven rannalla\n", "user", "add", "--email", "kutsuja@example.fi", "--given-name", "K", "--family-name", "J", "--password-stdin"); err != nil {
		t.Fatalf("add: %v\n%s", err, out)
	}
	until := time.Now().In(guests.Helsinki).AddDate(0, 2, 0).Format(time.DateOnly)
	if _, err := runCmd(t, "", "guest", "invite", "vieras@example.org", "--until", until, "--by", "kutsuja@example.fi"); err == nil ||
		!strings.Contains(err.Error(), "holds neither the guest-inviter nor the admin role") {
		t.Fatalf("--by without the role: %v", err)
	}
	if out, err := runCmd(t, "", "user", "grant", "kutsuja@example.fi", "--role", "guest-inviter"); err != nil || !strings.Contains(out, "roles now: guest-inviter") {
		t.Fatalf("grant guest-inviter: %v\n%s", err, out)
	}
	out, err := runCmd(t, "", "guest", "invite", "Vieras@example.org", "--until", until, "--note", "Projekti X", "--lang", "fi", "--by", "kutsuja@example.fi")
	if err != nil || !strings.Contains(out, "invited vieras@example.org until "+until) {
		t.Fatalf("invite: %v\n%s", err, out)
	}
	if out, err := runCmd(t, "", "guest", "invite", "toinen@example.org", "--until", until); err != nil {
		t.Fatalf("invite by the operator: %v\n%s", err, out)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"guest", "invite", "x@example.org"}, "--until is required"},
		{[]string{"guest", "invite", "x@example.org", "--until", "31.3.2027"}, "is not a date like 2027-03-31"},
		{[]string{"guest", "invite", "x@example.org", "--until", "2020-01-01"}, "--until is in the past"},
		{[]string{"guest", "invite", "x@example.org", "--until", time.Now().AddDate(2, 0, 0).Format(time.DateOnly)}, "more than a year away"},
		{[]string{"guest", "invite", "not-an-address", "--until", until}, "is not an e-mail address"},
		{[]string{"guest", "invite", "x@example.org", "--until", until, "--lang", "de"}, "--lang must be fi, sv or en"},
		{[]string{"guest", "invite", "x@example.org", "--until", until, "--note", strings.Repeat("x", 501)}, "--note is longer than 500"},
		{[]string{"guest", "frobnicate"}, "say invite or list"},
	} {
		if out, err := runCmd(t, "", c.args...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v\n%s, want an error with %q", c.args, err, out, c.want)
		}
	}
	out, err = runCmd(t, "", "guest", "list")
	if err != nil || strings.Count(out, "\tuntil ") != 2 || !strings.Contains(out, "vieras@example.org\tuntil "+until+"\topen\tby kutsuja@example.fi\tProjekti X") {
		t.Fatalf("list: %v\n%s", err, out)
	}
	out, err = runCmd(t, "", "guest", "list", "--by", "kutsuja@example.fi")
	if err != nil || strings.Count(out, "\tuntil ") != 1 {
		t.Fatalf("list --by: %v\n%s", err, out)
	}
	store, err := sqlstore.Open(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	list, err := store.ListInvitations(context.Background(), "", 10)
	if err != nil || len(list) != 2 || list[1].Locale != "fi" || len(list[1].TokenHash) != 64 {
		t.Fatalf("stored: %+v %v", list, err)
	}
	events, err := store.ListEvents(context.Background(), "", 50)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range events {
		if e.Kind == guests.EventInvited {
			n++
		}
	}
	if n != 2 {
		t.Fatalf("%d guest.invited events, want 2", n)
	}
}
