package storagetest

import (
	"errors"
	"testing"
	"time"

	"github.com/portti/portti/internal/storage"
)

// guestTests cover guest invitations.
var guestTests = []conformanceTest{
	{"Guests/Invitations", testInvitations},
}

// testInvitations: an invitation is found by its token hash only; it is
// accepted once (a second acceptance conflicts); a duplicate token hash
// conflicts; the list is newest first and filters by inviter.
func testInvitations(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	at := func(d time.Duration) time.Time { return at(d).Truncate(time.Microsecond).UTC() }
	createAccount(t, s, "guest1", "guest@example.org")
	inv := storage.Invitation{ID: "inv1", TokenHash: "h1", Email: "guest@example.org", Locale: "sv", Note: "Projekt X",
		InvitedBy: "staff1", Inviter: "staff@example.fi", EndsAt: at(90 * 24 * time.Hour), ExpiresAt: at(14 * 24 * time.Hour), CreatedAt: at(0)}
	must(t, "CreateInvitation", s.CreateInvitation(ctx, inv))
	must(t, "CreateInvitation 2", s.CreateInvitation(ctx, storage.Invitation{ID: "inv2", TokenHash: "h2", Email: "other@example.org", Locale: "en",
		Inviter: "cli", EndsAt: at(time.Hour), ExpiresAt: at(time.Hour), CreatedAt: at(time.Minute)}))
	if err := s.CreateInvitation(ctx, storage.Invitation{ID: "inv3", TokenHash: "h1", Email: "x@example.org", EndsAt: at(time.Hour), ExpiresAt: at(time.Hour)}); !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("a taken token hash: %v, want ErrConflict", err)
	}
	if _, err := s.GetInvitationByToken(ctx, "H1"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("token hashes compare exactly: %v, want ErrNotFound", err)
	}
	got, err := s.GetInvitationByToken(ctx, "h1")
	must(t, "GetInvitationByToken", err)
	if got != inv {
		t.Fatalf("GetInvitationByToken = %+v, want %+v", got, inv)
	}
	if err := s.AcceptInvitation(ctx, "nope", "guest1", at(time.Hour)); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("accepting an unknown invitation: %v, want ErrNotFound", err)
	}
	must(t, "AcceptInvitation", s.AcceptInvitation(ctx, "inv1", "guest1", at(time.Hour)))
	if err := s.AcceptInvitation(ctx, "inv1", "guest1", at(2*time.Hour)); !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("accepting twice: %v, want ErrConflict", err)
	}
	got, err = s.GetInvitationByToken(ctx, "h1")
	must(t, "GetInvitationByToken after", err)
	if got.AccountID != "guest1" || !got.AcceptedAt.Equal(at(time.Hour)) {
		t.Fatalf("after acceptance: %+v", got)
	}
	all, err := s.ListInvitations(ctx, "", 10)
	must(t, "ListInvitations", err)
	if len(all) != 2 || all[0].ID != "inv2" || all[1].ID != "inv1" {
		t.Fatalf("ListInvitations = %+v, want inv2 then inv1", all)
	}
	mine, err := s.ListInvitations(ctx, "staff1", 10)
	must(t, "ListInvitations by", err)
	if len(mine) != 1 || mine[0].ID != "inv1" {
		t.Fatalf("ListInvitations(staff1) = %+v", mine)
	}
}
