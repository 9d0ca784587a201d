package storagetest

import (
	"testing"

	"github.com/portti/portti/internal/storage"
)

// lifecycleTests cover storage.LifecycleStorage.
var lifecycleTests = []conformanceTest{
	{"Lifecycle/PseudonymiseEvents", testPseudonymiseEvents},
}

func testPseudonymiseEvents(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	for _, e := range []storage.Event{
		{Time: t0, Kind: "login.success", AccountID: "acc1", Email: "a@example.com", ClientIP: "192.0.2.1", UserAgent: "UA", Reason: "r1", Ref: "X1"},
		{Time: t0, Kind: "login.failure", AccountID: "acc1", Email: "a@example.com", Reason: "r2"},
		{Time: t0, Kind: "login.failure", AccountID: "acc2", Email: "b@example.com", ClientIP: "192.0.2.2"},
		{Time: t0, Kind: "login.failure", Email: "c@example.com", ClientIP: "192.0.2.3"},
	} {
		must(t, "AppendEvent", s.AppendEvent(ctx, e))
	}
	n, err := s.PseudonymiseEvents(ctx, "acc1")
	must(t, "PseudonymiseEvents", err)
	if n != 2 {
		t.Errorf("changed %d events, want 2", n)
	}
	got, err := s.ListEvents(ctx, "acc1", 10)
	must(t, "ListEvents", err)
	if len(got) != 2 {
		t.Fatalf("%d events of acc1, want 2 (kept)", len(got))
	}
	for _, e := range got {
		if e.Email != "" || e.ClientIP != "" || e.UserAgent != "" || e.Kind == "" || e.Reason == "" || e.Time.IsZero() {
			t.Errorf("pseudonymised event: %+v", e)
		}
	}
	other, _ := s.ListEvents(ctx, "acc2", 10)
	if len(other) != 1 || other[0].Email != "b@example.com" || other[0].ClientIP != "192.0.2.2" {
		t.Errorf("another account's event changed: %+v", other)
	}
	if n, _ := s.PseudonymiseEvents(ctx, "acc1"); n != 0 {
		t.Errorf("again: changed %d", n)
	}
	if n, _ := s.PseudonymiseEvents(ctx, ""); n != 0 {
		t.Errorf("no account: changed %d", n)
	}
	all, _ := s.ListEvents(ctx, "", 10)
	for _, e := range all {
		if e.AccountID == "" && e.Email != "c@example.com" {
			t.Errorf("an event without an account changed: %+v", e)
		}
	}
}
