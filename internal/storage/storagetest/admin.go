package storagetest

import (
	"errors"
	"testing"
	"time"

	"github.com/portti/portti/internal/storage"
)

// adminTests cover the helpdesk console's tables and look-ups.
var adminTests = []conformanceTest{
	{"Admin/Roles", testAdminRoles},
	{"Admin/Notices", testAdminNotices},
	{"Admin/SearchAccounts", testAdminSearchAccounts},
	{"Admin/EventsByRefAndPage", testAdminEvents},
	{"Admin/StaffSession", testAdminStaffSession},
}

// testAdminRoles: grant is idempotent, per account, refuses an unknown
// account; revoke removes one role and says when there was none.
func testAdminRoles(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	createAccount(t, s, "acc1", "alice@example.com")
	createAccount(t, s, "acc2", "bob@example.com")
	grant := storage.StaffRole{AccountID: "acc1", Role: storage.RoleHelpdesk, GrantedAt: at(0), GrantedBy: "cli"}
	must(t, "GrantRole", s.GrantRole(ctx, grant))
	again := grant
	again.GrantedAt, again.GrantedBy = at(time.Hour), "someone@example.com"
	must(t, "GrantRole again", s.GrantRole(ctx, again))
	must(t, "GrantRole admin", s.GrantRole(ctx, storage.StaffRole{AccountID: "acc2", Role: storage.RoleAdmin, GrantedAt: at(time.Minute), GrantedBy: "alice@example.com"}))
	if err := s.GrantRole(ctx, storage.StaffRole{AccountID: "nobody", Role: storage.RoleAdmin, GrantedAt: at(0)}); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("GrantRole to an unknown account = %v, want ErrNotFound", err)
	}
	got, err := s.ListRoles(ctx, "acc1")
	must(t, "ListRoles", err)
	if len(got) != 1 {
		t.Fatalf("roles of acc1 = %+v, want one", got)
	}
	checkRecord(t, "role", got[0], grant) // the first grant is kept
	all, err := s.ListRoles(ctx, "")
	must(t, "ListRoles all", err)
	if len(all) != 2 || all[0].AccountID != "acc1" || all[1].Role != storage.RoleAdmin {
		t.Fatalf("all roles = %+v", all)
	}
	must(t, "RevokeRole", s.RevokeRole(ctx, "acc1", storage.RoleHelpdesk))
	if err := s.RevokeRole(ctx, "acc1", storage.RoleHelpdesk); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("RevokeRole twice = %v, want ErrNotFound", err)
	}
	if got, _ := s.ListRoles(ctx, "acc1"); len(got) != 0 {
		t.Fatalf("roles after revoke = %+v", got)
	}
}

// testAdminNotices: stored whole, listed by start, active only inside
// [start, end), deleted once.
func testAdminNotices(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	later := storage.Notice{ID: "n2", StartsAt: at(2 * time.Hour), EndsAt: at(3 * time.Hour), TextFI: "Huoltokatko", TextSV: "Underhåll", TextEN: "Maintenance", CreatedAt: at(0), CreatedBy: "cli"}
	now := storage.Notice{ID: "n1", StartsAt: at(0), EndsAt: at(time.Hour), TextEN: "Now", CreatedAt: at(0), CreatedBy: "admin@example.com"}
	must(t, "CreateNotice", s.CreateNotice(ctx, later))
	must(t, "CreateNotice", s.CreateNotice(ctx, now))
	if err := s.CreateNotice(ctx, now); !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("CreateNotice twice = %v, want ErrConflict", err)
	}
	list, err := s.ListNotices(ctx)
	must(t, "ListNotices", err)
	if len(list) != 2 {
		t.Fatalf("notices = %+v", list)
	}
	checkRecord(t, "first notice", list[0], now)
	checkRecord(t, "second notice", list[1], later)
	for _, c := range []struct {
		at   time.Time
		want []string
	}{
		{at(-time.Second), nil},
		{at(0), []string{"n1"}},
		{at(time.Hour), nil}, // the end is exclusive
		{at(2*time.Hour + time.Minute), []string{"n2"}},
	} {
		got, err := s.ActiveNotices(ctx, c.at)
		must(t, "ActiveNotices", err)
		var ids []string
		for _, n := range got {
			ids = append(ids, n.ID)
		}
		if len(ids) != len(c.want) || (len(ids) > 0 && ids[0] != c.want[0]) {
			t.Fatalf("active at %v = %v, want %v", c.at, ids, c.want)
		}
	}
	must(t, "DeleteNotice", s.DeleteNotice(ctx, "n1"))
	if err := s.DeleteNotice(ctx, "n1"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("DeleteNotice twice = %v, want ErrNotFound", err)
	}
}

// testAdminSearchAccounts: e-mail, names and the full name match in any
// ASCII case; LIKE's wildcards are literal.
func testAdminSearchAccounts(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	a := sampleAccount("s1", "maija.meikalainen@example.com")
	a.GivenName, a.FamilyName = "Maija", "Meikäläinen"
	must(t, "CreateAccount", s.CreateAccount(ctx, a))
	b := sampleAccount("s2", "bob_smith@example.org")
	b.GivenName, b.FamilyName = "Bob", "Smith"
	must(t, "CreateAccount", s.CreateAccount(ctx, b))
	for _, c := range []struct {
		q    string
		want []string
	}{
		{"maija.meik", []string{"s1"}},
		{"MAIJA", []string{"s1"}},
		{"maija meikäläinen", []string{"s1"}},
		{"smith", []string{"s2"}},
		{"example", []string{"s2", "s1"}}, // by e-mail
		{"_smith", []string{"s2"}},
		{"b%s", nil}, // % is not a wildcard
		{"nobody", nil},
	} {
		got, err := s.SearchAccounts(ctx, c.q, 10)
		must(t, "SearchAccounts", err)
		var ids []string
		for _, x := range got {
			ids = append(ids, x.ID)
		}
		if len(ids) != len(c.want) {
			t.Fatalf("search %q = %v, want %v", c.q, ids, c.want)
		}
		for i := range ids {
			if ids[i] != c.want[i] {
				t.Fatalf("search %q = %v, want %v", c.q, ids, c.want)
			}
		}
	}
	if got, _ := s.SearchAccounts(ctx, "example", 1); len(got) != 1 {
		t.Fatalf("limit 1 gave %d", len(got))
	}
}

// testAdminEvents: a reference code finds its newest event; an account's
// events page newest first.
func testAdminEvents(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	for i := range 5 {
		e := storage.Event{Time: at(time.Duration(i) * time.Minute), Kind: "login.failure", AccountID: "acc1", Reason: "wrong_password"}
		if i == 2 {
			e.Ref, e.ClientIP = "ABCD-EFGH", "192.0.2.7"
		}
		must(t, "AppendEvent", s.AppendEvent(ctx, e))
	}
	must(t, "AppendEvent", s.AppendEvent(ctx, storage.Event{Time: at(0), Kind: "other", AccountID: "acc2"}))
	e, err := s.EventByRef(ctx, "ABCD-EFGH")
	must(t, "EventByRef", err)
	if e.ClientIP != "192.0.2.7" || e.AccountID != "acc1" || !e.Time.Equal(at(2*time.Minute).Truncate(time.Microsecond)) {
		t.Fatalf("event by ref = %+v", e)
	}
	if _, err := s.EventByRef(ctx, "ZZZZ-ZZZZ"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("unknown ref = %v, want ErrNotFound", err)
	}
	page1, err := s.ListEventsBefore(ctx, "acc1", 0, 2)
	must(t, "ListEventsBefore", err)
	if len(page1) != 2 || !page1[0].Time.Equal(at(4*time.Minute).Truncate(time.Microsecond)) || page1[0].ID <= page1[1].ID {
		t.Fatalf("first page = %+v", page1)
	}
	page2, err := s.ListEventsBefore(ctx, "acc1", page1[1].ID, 10)
	must(t, "ListEventsBefore", err)
	if len(page2) != 3 || !page2[2].Time.Equal(at(0).Truncate(time.Microsecond)) {
		t.Fatalf("second page = %+v", page2)
	}
}

// testAdminStaffSession: never seen reads zero; a touch is read back and
// replaced by the next; a session that does not exist is refused.
func testAdminStaffSession(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	createAccount(t, s, "acc1", "alice@example.com")
	must(t, "CreateSession", s.CreateSession(ctx, sampleSession("sess1", "acc1", at(0))))
	seen, err := s.StaffSessionSeen(ctx, "sess1")
	must(t, "StaffSessionSeen", err)
	if !seen.IsZero() {
		t.Fatalf("never used, seen = %v", seen)
	}
	must(t, "TouchStaffSession", s.TouchStaffSession(ctx, "sess1", at(time.Minute)))
	must(t, "TouchStaffSession", s.TouchStaffSession(ctx, "sess1", at(5*time.Minute)))
	seen, err = s.StaffSessionSeen(ctx, "sess1")
	must(t, "StaffSessionSeen", err)
	if !seen.Equal(at(5 * time.Minute).Truncate(time.Microsecond)) {
		t.Fatalf("seen = %v, want %v", seen, at(5*time.Minute))
	}
	if err := s.TouchStaffSession(ctx, "nosuch", at(0)); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("touch of an unknown session = %v, want ErrNotFound", err)
	}
	must(t, "DeleteSession", s.DeleteSession(ctx, "sess1"))
	if seen, err := s.StaffSessionSeen(ctx, "sess1"); err != nil || !seen.IsZero() {
		t.Fatalf("after the session ended: %v, %v", seen, err)
	}
}
