package storagetest

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"testing"

	"github.com/portti/portti/internal/storage"
)

// provisionTests cover provisioned accounts and groups.
var provisionTests = []conformanceTest{
	{"Provision/CreateGetUpdate", testProvisionCreateGetUpdate},
	{"Provision/Conflicts", testProvisionConflicts},
	{"Provision/ListAndDelete", testProvisionListAndDelete},
	{"Provision/Groups", testProvisionGroups},
	{"Provision/GroupsRollback", testProvisionGroupsRollback},
	{"Provision/Due", testProvisionDue},
	{"Provision/Waitlist", testProvisionWaitlist},
}

// testProvisionDue: ListProvisionedDue finds the records due by now,
// earliest first, never those without a due time; an update moves one.
func testProvisionDue(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	for i, due := range []time.Duration{3 * time.Hour, time.Hour, -1, 2 * time.Hour} {
		id := fmt.Sprintf("acc%d", i)
		createAccount(t, s, id, id+"@example.com")
		p := sampleProvisioned(id, "")
		p.DueAt = time.Time{}
		if due >= 0 {
			p.DueAt = at(due)
		}
		must(t, "CreateProvisioned", s.CreateProvisioned(ctx, p))
	}
	ids := func(now time.Time, limit int) []string {
		t.Helper()
		list, err := s.ListProvisionedDue(ctx, now, limit)
		must(t, "ListProvisionedDue", err)
		var out []string
		for _, pa := range list {
			out = append(out, pa.Account.ID)
		}
		return out
	}
	if got := ids(at(2*time.Hour), 10); !slices.Equal(got, []string{"acc1", "acc3"}) {
		t.Fatalf("due at +2h: %v", got)
	}
	if got := ids(at(5*time.Hour), 1); !slices.Equal(got, []string{"acc1"}) {
		t.Fatalf("due at +5h, limit 1: %v", got)
	}
	_, err := s.UpdateProvisioned(ctx, "acc1", func(p storage.Provisioned) (storage.Provisioned, error) {
		p.DueAt = at(4 * time.Hour)
		return p, nil
	})
	must(t, "UpdateProvisioned", err)
	if got := ids(at(5*time.Hour), 10); !slices.Equal(got, []string{"acc3", "acc0", "acc1"}) {
		t.Fatalf("due at +5h after moving acc1: %v", got)
	}
}

// testProvisionWaitlist: an entry is renewed by a second put, taken once,
// not taken after it expires, and removed by DeleteExpired.
func testProvisionWaitlist(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	e := storage.WaitlistEntry{Email: "new@student.example.fi", Locale: "fi", CreatedAt: at(0), ExpiresAt: at(time.Hour)}
	must(t, "PutWaitlist", s.PutWaitlist(ctx, e))
	e.Locale, e.CreatedAt, e.ExpiresAt = "sv", at(time.Minute), at(48*time.Hour)
	must(t, "PutWaitlist again", s.PutWaitlist(ctx, e))
	got, err := s.TakeWaitlist(ctx, e.Email, at(2*time.Hour))
	must(t, "TakeWaitlist", err)
	checkRecord(t, "waitlist entry", got, e)
	_, err = s.TakeWaitlist(ctx, e.Email, at(2*time.Hour))
	checkErrorIs(t, "TakeWaitlist twice", err, storage.ErrNotFound)

	must(t, "PutWaitlist old", s.PutWaitlist(ctx, storage.WaitlistEntry{Email: "old@example.fi", ExpiresAt: at(time.Hour)}))
	_, err = s.TakeWaitlist(ctx, "old@example.fi", at(2*time.Hour))
	checkErrorIs(t, "TakeWaitlist expired", err, storage.ErrNotFound)
	must(t, "PutWaitlist kept", s.PutWaitlist(ctx, storage.WaitlistEntry{Email: "kept@example.fi", ExpiresAt: at(3 * time.Hour)}))
	must(t, "DeleteExpired", s.DeleteExpired(ctx, at(2*time.Hour)))
	must(t, "InTx", s.InTx(ctx, func(tx storage.Storage) error {
		if _, err := tx.TakeWaitlist(ctx, "old@example.fi", at(0)); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("expired entry after DeleteExpired: %v", err)
		}
		_, err := tx.TakeWaitlist(ctx, "kept@example.fi", at(2*time.Hour))
		return err
	}))
}

// sampleProvisioned has every field set and distinct.
func sampleProvisioned(accountID, externalID string) storage.Provisioned {
	return storage.Provisioned{
		AccountID: accountID, ExternalID: externalID, UserType: "student",
		State: storage.ProvisionPending, StartsAt: at(24 * time.Hour), EndsAt: at(400 * 24 * time.Hour),
		DisplayName: "Display " + accountID, NickName: "nick", Title: "title",
		EmployeeNumber: "E-" + accountID, Organization: "org", Department: "dept", Manager: "mgr",
		Extra: []byte(`{"phoneNumbers":[]}`), Version: 1, CreatedAt: at(time.Second), UpdatedAt: at(2 * time.Second),
		Source: storage.ProvisionSourceCSV, DueAt: at(24 * time.Hour), EndNoticeAt: at(3 * time.Second), DeletedAt: at(4 * time.Second),
	}
}

func testProvisionCreateGetUpdate(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	a := createAccount(t, s, "acc1", "alice@example.com")
	p := sampleProvisioned("acc1", "ext-1")
	p.Version = 7 // the backend sets it: 1
	must(t, "CreateProvisioned", s.CreateProvisioned(ctx, p))
	p.Version = 1
	got, err := s.GetProvisioned(ctx, "acc1")
	must(t, "GetProvisioned", err)
	checkRecord(t, "account", got.Account, a)
	checkRecord(t, "record", got.Provisioned, p)
	got, err = s.GetProvisionedByExternalID(ctx, "ext-1")
	must(t, "GetProvisionedByExternalID", err)
	checkRecord(t, "record by external ID", got.Provisioned, p)

	upd, err := s.UpdateProvisioned(ctx, "acc1", func(q storage.Provisioned) (storage.Provisioned, error) {
		checkRecord(t, "fn's record", q, p)
		q.State, q.ExternalID, q.Department, q.UpdatedAt = storage.ProvisionActive, "ext-2", "physics", at(3*time.Second)
		return q, nil
	})
	must(t, "UpdateProvisioned", err)
	want := p
	want.State, want.ExternalID, want.Department, want.UpdatedAt, want.Version = storage.ProvisionActive, "ext-2", "physics", at(3*time.Second), 2
	checkRecord(t, "UpdateProvisioned result", upd, want)
	got, err = s.GetProvisioned(ctx, "acc1")
	must(t, "GetProvisioned after update", err)
	checkRecord(t, "record after update", got.Provisioned, want)
	_, err = s.GetProvisionedByExternalID(ctx, "ext-1")
	checkErrorIs(t, "old external ID", err, storage.ErrNotFound)

	_, err = s.UpdateProvisioned(ctx, "acc1", func(q storage.Provisioned) (storage.Provisioned, error) {
		q.Department = "lost"
		return q, errTest
	})
	checkErrorIs(t, "UpdateProvisioned with failing fn", err, errTest)
	got, _ = s.GetProvisioned(ctx, "acc1")
	if got.Provisioned.Department != "physics" || got.Provisioned.Version != 2 {
		t.Fatalf("a failed update wrote: %+v", got.Provisioned)
	}
	_, err = s.UpdateProvisioned(ctx, "nobody", func(q storage.Provisioned) (storage.Provisioned, error) { return q, nil })
	checkErrorIs(t, "UpdateProvisioned of nobody", err, storage.ErrNotFound)
	_, err = s.GetProvisioned(ctx, "nobody")
	checkErrorIs(t, "GetProvisioned of nobody", err, storage.ErrNotFound)
	_, err = s.GetProvisionedByExternalID(ctx, "")
	checkErrorIs(t, "empty external ID", err, storage.ErrNotFound)
}

// testProvisionConflicts: one record per account; external IDs unique
// when set, any number empty; a record needs its account.
func testProvisionConflicts(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	for _, id := range []string{"acc1", "acc2", "acc3", "acc4"} {
		createAccount(t, s, id, id+"@example.com")
	}
	must(t, "create acc1", s.CreateProvisioned(ctx, sampleProvisioned("acc1", "ext-1")))
	checkErrorIs(t, "second record of acc1", s.CreateProvisioned(ctx, sampleProvisioned("acc1", "ext-9")), storage.ErrConflict)
	checkErrorIs(t, "taken external ID", s.CreateProvisioned(ctx, sampleProvisioned("acc2", "ext-1")), storage.ErrConflict)
	checkErrorIs(t, "missing account", s.CreateProvisioned(ctx, sampleProvisioned("nobody", "ext-5")), storage.ErrNotFound)
	must(t, "empty external ID", s.CreateProvisioned(ctx, sampleProvisioned("acc2", "")))
	must(t, "another empty external ID", s.CreateProvisioned(ctx, sampleProvisioned("acc3", "")))
	must(t, "create acc4", s.CreateProvisioned(ctx, sampleProvisioned("acc4", "ext-4")))
	_, err := s.UpdateProvisioned(ctx, "acc4", func(q storage.Provisioned) (storage.Provisioned, error) {
		q.ExternalID = "ext-1"
		return q, nil
	})
	checkErrorIs(t, "update to a taken external ID", err, storage.ErrConflict)
	// Inside a transaction the conflict leaves the transaction usable
	// (PostgreSQL aborts it otherwise).
	must(t, "InTx", s.InTx(ctx, func(tx storage.Storage) error {
		if err := tx.CreateProvisioned(ctx, sampleProvisioned("acc1", "x")); err == nil {
			t.Error("conflict in a transaction: no error")
		}
		_, err := tx.GetProvisioned(ctx, "acc1")
		return err
	}))
}

func testProvisionListAndDelete(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	for _, id := range []string{"c", "a", "b"} {
		createAccount(t, s, id, id+"@example.com")
		must(t, "CreateProvisioned", s.CreateProvisioned(ctx, sampleProvisioned(id, "ext-"+id)))
	}
	createAccount(t, s, "self", "self@example.com") // registered itself
	page, err := s.ListProvisioned(ctx, "", 2)
	must(t, "ListProvisioned", err)
	if len(page) != 2 || page[0].Account.ID != "a" || page[1].Account.ID != "b" {
		t.Fatalf("first page = %+v", page)
	}
	page, err = s.ListProvisioned(ctx, "b", 2)
	must(t, "ListProvisioned page 2", err)
	if len(page) != 1 || page[0].Account.ID != "c" || page[0].Provisioned.ExternalID != "ext-c" {
		t.Fatalf("second page = %+v", page)
	}
	checkErrorIs(t, "delete a self-registered account", s.DeleteProvisionedAccount(ctx, "self"), storage.ErrNotFound)
	if _, err := s.GetAccount(ctx, "self"); err != nil {
		t.Fatalf("the self-registered account went: %v", err)
	}
	must(t, "CreateGroup", s.CreateGroup(ctx, storage.Group{ID: "g", DisplayName: "G", Members: []string{"a", "b"}}))
	must(t, "DeleteProvisionedAccount", s.DeleteProvisionedAccount(ctx, "a"))
	_, err = s.GetAccount(ctx, "a")
	checkErrorIs(t, "deleted account", err, storage.ErrNotFound)
	_, err = s.GetProvisioned(ctx, "a")
	checkErrorIs(t, "deleted record", err, storage.ErrNotFound)
	g, err := s.GetGroup(ctx, "g")
	must(t, "GetGroup", err)
	if len(g.Members) != 1 || g.Members[0] != "b" {
		t.Fatalf("members after deleting a = %v", g.Members)
	}
	checkErrorIs(t, "delete twice", s.DeleteProvisionedAccount(ctx, "a"), storage.ErrNotFound)
}

func testProvisionGroups(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	for _, id := range []string{"a", "b", "c"} {
		createAccount(t, s, id, id+"@example.com")
	}
	g := storage.Group{ID: "g1", DisplayName: "Staff", ExternalID: "x1", Members: []string{"b", "a", "a"},
		CreatedAt: at(time.Second), UpdatedAt: at(2 * time.Second)}
	must(t, "CreateGroup", s.CreateGroup(ctx, g))
	want := g
	want.Members, want.Version = []string{"a", "b"}, 1
	got, err := s.GetGroup(ctx, "g1")
	must(t, "GetGroup", err)
	checkRecord(t, "group", got, want)
	checkErrorIs(t, "taken ID", s.CreateGroup(ctx, storage.Group{ID: "g1"}), storage.ErrConflict)
	checkErrorIs(t, "taken external ID", s.CreateGroup(ctx, storage.Group{ID: "g9", ExternalID: "x1"}), storage.ErrConflict)
	checkErrorIs(t, "missing member", s.CreateGroup(ctx, storage.Group{ID: "g8", Members: []string{"nobody"}}), storage.ErrNotFound)
	_, err = s.GetGroup(ctx, "g8")
	checkErrorIs(t, "a group whose member was missing", err, storage.ErrNotFound)
	must(t, "CreateGroup g2", s.CreateGroup(ctx, storage.Group{ID: "g2", DisplayName: "Students", Members: []string{"a"}}))
	must(t, "CreateGroup g3", s.CreateGroup(ctx, storage.Group{ID: "g3", DisplayName: "Alumni"}))

	upd, err := s.UpdateGroup(ctx, "g1", func(g storage.Group) (storage.Group, error) {
		g.Members = []string{"c", "b"}
		g.DisplayName = "All staff"
		return g, nil
	})
	must(t, "UpdateGroup", err)
	if upd.Version != 2 || len(upd.Members) != 2 || upd.Members[0] != "b" || upd.Members[1] != "c" || upd.DisplayName != "All staff" {
		t.Fatalf("UpdateGroup = %+v", upd)
	}
	got, _ = s.GetGroup(ctx, "g1")
	checkRecord(t, "group after update", got, upd)
	_, err = s.UpdateGroup(ctx, "g1", func(g storage.Group) (storage.Group, error) {
		g.Members = append(g.Members, "nobody")
		return g, nil
	})
	checkErrorIs(t, "adding a missing member", err, storage.ErrNotFound)
	got, _ = s.GetGroup(ctx, "g1")
	checkRecord(t, "group after a failed update", got, upd)

	groups, err := s.ListAccountGroups(ctx, "b")
	must(t, "ListAccountGroups", err)
	if len(groups) != 1 || groups[0].ID != "g1" || len(groups[0].Members) != 0 {
		t.Fatalf("groups of b = %+v", groups)
	}
	list, err := s.ListGroups(ctx, "", 2)
	must(t, "ListGroups", err)
	if len(list) != 2 || list[0].ID != "g1" || list[1].ID != "g2" || len(list[1].Members) != 1 {
		t.Fatalf("ListGroups = %+v", list)
	}
	list, err = s.ListGroups(ctx, "g2", 2)
	must(t, "ListGroups page 2", err)
	if len(list) != 1 || list[0].ID != "g3" {
		t.Fatalf("ListGroups page 2 = %+v", list)
	}
	must(t, "DeleteGroup", s.DeleteGroup(ctx, "g1"))
	checkErrorIs(t, "DeleteGroup twice", s.DeleteGroup(ctx, "g1"), storage.ErrNotFound)
	groups, err = s.ListAccountGroups(ctx, "b")
	must(t, "ListAccountGroups after delete", err)
	if len(groups) != 0 {
		t.Fatalf("groups of b after delete = %+v", groups)
	}
	if _, err := s.GetAccount(ctx, "b"); err != nil {
		t.Fatalf("deleting a group took its member: %v", err)
	}
}

// testProvisionGroupsRollback: a failed transaction leaves no group and
// no record behind.
func testProvisionGroupsRollback(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	err := s.InTx(ctx, func(tx storage.Storage) error {
		if err := tx.CreateAccount(ctx, sampleAccount("a", "a@example.com")); err != nil {
			return err
		}
		if err := tx.CreateProvisioned(ctx, sampleProvisioned("a", "ext-a")); err != nil {
			return err
		}
		if err := tx.CreateGroup(ctx, storage.Group{ID: "g", Members: []string{"a"}}); err != nil {
			return err
		}
		return errTest
	})
	checkErrorIs(t, "InTx", err, errTest)
	_, err = s.GetProvisioned(ctx, "a")
	checkErrorIs(t, "rolled-back record", err, storage.ErrNotFound)
	_, err = s.GetGroup(ctx, "g")
	checkErrorIs(t, "rolled-back group", err, storage.ErrNotFound)
}
