package storagetest

import (
	"sync"
	"testing"
	"time"

	"github.com/portti/portti/internal/storage"
)

// The conformance tests of storage.RefreshGraceStorage, run by Run.
var refreshGraceTests = []conformanceTest{
	{"RefreshGrace/CreateGet", testRefreshSuccessorCreateGet},
	{"RefreshGrace/InTx", testRefreshSuccessorInTx},
	{"RefreshGrace/DeleteExpired", testRefreshSuccessorDeleteExpired},
}

// testRefreshSuccessorCreateGet: a successor is stored once per rotated
// token and comes back as stored.
func testRefreshSuccessorCreateGet(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	createAccount(t, s, "acc1", "alice@example.com")
	createClient(t, s, "app1")
	createRefreshToken(t, s, "rt1", "chain1", "app1", "acc1", "sess1")

	_, err := s.GetRefreshSuccessor(ctx, "rt1")
	checkErrorIs(t, "GetRefreshSuccessor before any", err, storage.ErrNotFound)
	want := storage.RefreshSuccessor{Hash: "rt1", Sealed: []byte{1, 0, 0xff, 7}, ExpiresAt: at(5 * time.Second)}
	must(t, "CreateRefreshSuccessor", s.CreateRefreshSuccessor(ctx, want))
	got, err := s.GetRefreshSuccessor(ctx, "rt1")
	must(t, "GetRefreshSuccessor", err)
	checkRecord(t, "GetRefreshSuccessor", got, want)

	err = s.CreateRefreshSuccessor(ctx, storage.RefreshSuccessor{Hash: "rt1", Sealed: []byte{2}, ExpiresAt: at(time.Second)})
	checkErrorIs(t, "second CreateRefreshSuccessor", err, storage.ErrConflict)
	_, err = s.GetRefreshSuccessor(ctx, "rt2")
	checkErrorIs(t, "GetRefreshSuccessor of another token", err, storage.ErrNotFound)
}

// testRefreshSuccessorInTx: a successor written in a transaction that
// rolls back is not there; of concurrent writers for one token exactly
// one succeeds.
func testRefreshSuccessorInTx(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	createAccount(t, s, "acc1", "alice@example.com")
	createClient(t, s, "app1")
	createRefreshToken(t, s, "rt1", "chain1", "app1", "acc1", "")
	err := s.InTx(ctx, func(tx storage.Storage) error {
		must(t, "CreateRefreshSuccessor in tx", tx.CreateRefreshSuccessor(ctx, storage.RefreshSuccessor{Hash: "rt1", Sealed: []byte{1}, ExpiresAt: at(time.Second)}))
		return errTest
	})
	checkErrorIs(t, "InTx", err, errTest)
	_, err = s.GetRefreshSuccessor(ctx, "rt1")
	checkErrorIs(t, "GetRefreshSuccessor after the rollback", err, storage.ErrNotFound)

	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() {
			errs[i] = s.CreateRefreshSuccessor(ctx, storage.RefreshSuccessor{Hash: "rt1", Sealed: []byte{byte(i)}, ExpiresAt: at(time.Second)})
		})
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		default:
			checkErrorIs(t, "concurrent CreateRefreshSuccessor", err, storage.ErrConflict)
		}
	}
	if ok != 1 {
		t.Errorf("%d concurrent CreateRefreshSuccessor succeeded, want 1", ok)
	}
}

// testRefreshSuccessorDeleteExpired: DeleteExpired removes the successors
// whose grace period is over and keeps the others.
func testRefreshSuccessorDeleteExpired(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	createAccount(t, s, "acc1", "alice@example.com")
	createClient(t, s, "app1")
	for _, h := range []string{"over", "running"} {
		createRefreshToken(t, s, h, "chain-"+h, "app1", "acc1", "")
	}
	must(t, "CreateRefreshSuccessor", s.CreateRefreshSuccessor(ctx, storage.RefreshSuccessor{Hash: "over", Sealed: []byte{1}, ExpiresAt: at(-time.Second)}))
	must(t, "CreateRefreshSuccessor", s.CreateRefreshSuccessor(ctx, storage.RefreshSuccessor{Hash: "running", Sealed: []byte{2}, ExpiresAt: at(time.Second)}))
	must(t, "DeleteExpired", s.DeleteExpired(ctx, t0))
	_, err := s.GetRefreshSuccessor(ctx, "over")
	checkErrorIs(t, "GetRefreshSuccessor of one past its grace", err, storage.ErrNotFound)
	if _, err := s.GetRefreshSuccessor(ctx, "running"); err != nil {
		t.Errorf("GetRefreshSuccessor of one in its grace: %v", err)
	}
	// The refresh tokens themselves stay (they are not expired).
	if _, err := s.GetRefreshToken(ctx, "over"); err != nil {
		t.Errorf("GetRefreshToken after DeleteExpired: %v", err)
	}
}
