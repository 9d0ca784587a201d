package storagetest

import (
	"errors"
	"testing"
	"time"

	"github.com/portti/portti/internal/storage"
)

var endedTests = []conformanceTest{
	{"EndedSession/NoteAndTake", testEndedSessions},
}

// testEndedSessions: a note is read once; an expired one is not read, and
// is dropped by the next NoteEndedSessions; a second note replaces the first.
func testEndedSessions(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	notes := []storage.EndedSession{
		{ID: "s1", Reason: "password_changed", EndedAt: at(0), ExpiresAt: at(time.Hour)},
		{ID: "s2", Reason: "signed_out_elsewhere", EndedAt: at(0), ExpiresAt: at(time.Minute)},
	}
	must(t, "NoteEndedSessions", s.NoteEndedSessions(ctx, notes, at(0)))
	must(t, "NoteEndedSessions again", s.NoteEndedSessions(ctx, []storage.EndedSession{{ID: "s1", Reason: "signed_out_elsewhere", EndedAt: at(time.Second), ExpiresAt: at(time.Hour)}}, at(0)))
	got, err := s.TakeEndedSession(ctx, "s1", at(time.Second))
	must(t, "TakeEndedSession", err)
	checkRecord(t, "TakeEndedSession(s1)", got, storage.EndedSession{ID: "s1", Reason: "signed_out_elsewhere", EndedAt: at(time.Second), ExpiresAt: at(time.Hour)})
	if _, err := s.TakeEndedSession(ctx, "s1", at(time.Second)); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("second TakeEndedSession(s1): %v, want ErrNotFound", err)
	}
	if _, err := s.TakeEndedSession(ctx, "s2", at(2*time.Minute)); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("expired TakeEndedSession(s2): %v, want ErrNotFound", err)
	}
	if _, err := s.TakeEndedSession(ctx, "nobody", at(0)); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("TakeEndedSession(nobody): %v, want ErrNotFound", err)
	}
}
