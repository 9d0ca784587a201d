package storagetest

import (
	"errors"
	"testing"
	"time"

	"github.com/portti/portti/internal/storage"
)

// federationTests cover upstream identity links.
var federationTests = []conformanceTest{
	{"Federation/Links", testFederatedLinks},
}

// testFederatedLinks: one upstream identity opens one account (a second
// link of it conflicts, whichever account); an account holds several
// links, listed oldest first; an unknown
// account cannot be linked.
func testFederatedLinks(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	at := func(d time.Duration) time.Time { return at(d).Truncate(time.Microsecond).UTC() }
	createAccount(t, s, "anna", "anna@example.com")
	createAccount(t, s, "bert", "bert@example.com")
	if _, err := s.GetFederatedLink(ctx, "tuni", "s1"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("GetFederatedLink before linking: %v, want ErrNotFound", err)
	}
	must(t, "link", s.CreateFederatedLink(ctx, storage.FederatedLink{Provider: "tuni", Subject: "s1", AccountID: "anna", LinkedBy: "self", LinkedAt: at(2 * time.Hour)}))
	must(t, "link", s.CreateFederatedLink(ctx, storage.FederatedLink{Provider: "jamk", Subject: "s1", AccountID: "anna", LinkedBy: "operator", LinkedAt: at(time.Hour)}))
	if err := s.CreateFederatedLink(ctx, storage.FederatedLink{Provider: "tuni", Subject: "s1", AccountID: "bert", LinkedBy: "self", LinkedAt: at(3 * time.Hour)}); !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("linking a linked identity to another account: %v, want ErrConflict", err)
	}
	if err := s.CreateFederatedLink(ctx, storage.FederatedLink{Provider: "tuni", Subject: "s2", AccountID: "ghost", LinkedBy: "self", LinkedAt: at(0)}); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("linking an unknown account: %v, want ErrNotFound", err)
	}
	got, err := s.GetFederatedLink(ctx, "tuni", "s1")
	must(t, "GetFederatedLink", err)
	if got.AccountID != "anna" || got.LinkedBy != "self" || !got.LinkedAt.Equal(at(2*time.Hour)) {
		t.Fatalf("GetFederatedLink = %+v", got)
	}
	if _, err := s.GetFederatedLink(ctx, "tuni", "S1"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("subjects are compared exactly: %v, want ErrNotFound", err)
	}
	list, err := s.ListFederatedLinks(ctx, "anna")
	must(t, "ListFederatedLinks", err)
	if len(list) != 2 || list[0].Provider != "jamk" || list[1].Provider != "tuni" {
		t.Fatalf("ListFederatedLinks = %+v, want jamk then tuni", list)
	}
	if err := s.DeleteFederatedLink(ctx, "bert", "tuni", "s1"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("another account unlinking: %v, want ErrNotFound", err)
	}
	must(t, "DeleteFederatedLink", s.DeleteFederatedLink(ctx, "anna", "tuni", "s1"))
	if err := s.DeleteFederatedLink(ctx, "anna", "tuni", "s1"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("unlinking twice: %v, want ErrNotFound", err)
	}
	must(t, "relink to bert", s.CreateFederatedLink(ctx, storage.FederatedLink{Provider: "tuni", Subject: "s1", AccountID: "bert", LinkedBy: "self", LinkedAt: at(4 * time.Hour)}))
}
