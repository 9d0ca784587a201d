package storagetest

import (
	"testing"
	"time"

	"github.com/portti/portti/internal/storage"
)

// mfaGraceTests cover the start of the enrolment grace period.
var mfaGraceTests = []conformanceTest{
	{"MFAGrace/StartOnce", testMFAGraceStartOnce},
}

// testMFAGraceStartOnce: the first start is kept; later ones return it;
// each account has its own; it works inside a transaction.
func testMFAGraceStartOnce(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	// Times come back in microseconds (PostgreSQL's precision).
	at := func(d time.Duration) time.Time { return at(d).Truncate(time.Microsecond) }
	createAccount(t, s, "acc1", "alice@example.com")
	createAccount(t, s, "acc2", "bob@example.com")
	got, err := s.StartMFAGrace(ctx, "acc1", at(time.Hour))
	must(t, "StartMFAGrace", err)
	if !got.Equal(at(time.Hour)) {
		t.Fatalf("first start = %v, want %v", got, at(time.Hour))
	}
	got, err = s.StartMFAGrace(ctx, "acc1", at(48*time.Hour))
	must(t, "StartMFAGrace again", err)
	if !got.Equal(at(time.Hour)) {
		t.Fatalf("second start moved the grace to %v", got)
	}
	must(t, "InTx", s.InTx(ctx, func(tx storage.Storage) error {
		got, err = tx.StartMFAGrace(ctx, "acc2", at(2*time.Hour))
		return err
	}))
	if !got.Equal(at(2 * time.Hour)) {
		t.Fatalf("another account's start = %v", got)
	}
}
