package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/portti/portti/internal/storage"
)

// TestSQLiteConcurrentWriters: many goroutines writing at once, in
// transactions and outside them, all succeed; the write lock hands the
// database over between them without SQLite's busy polling.
func TestSQLiteConcurrentWriters(t *testing.T) {
	ctx := t.Context()
	s := openForTest(t, "sqlite:"+filepath.Join(t.TempDir(), "portti.db"))
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 16 {
		wg.Go(func() {
			for i := range 10 {
				id := fmt.Sprintf("g%d-%d", g, i)
				if err := s.CreateAccount(ctx, storage.Account{ID: id, Email: id + "@example.com"}); err != nil {
					errs <- err
					return
				}
				if _, err := s.UpdateAccount(ctx, id, func(a storage.Account) (storage.Account, error) {
					a.GivenName = "x"
					return a, nil
				}); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if s.writer == nil {
		t.Fatal("no write lock on SQLite")
	}
	s.writer.mu.Lock()
	held, queued := s.writer.held, len(s.writer.queue)
	s.writer.mu.Unlock()
	if held || queued != 0 || s.writer.open != nil {
		t.Errorf("write lock held %v, %d queued, group open %v: want free", held, queued, s.writer.open != nil)
	}
	// 320 writes: the WAL was checkpointed in the background, SQLite's own
	// automatic checkpoint being off.
	deadline := time.Now().Add(5 * time.Second)
	for s.writer.checkpoints.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := s.writer.checkpoints.Load(); n == 0 {
		t.Error("no background checkpoint after 320 writes")
	}
	var auto int
	if err := s.db.QueryRowContext(ctx, "PRAGMA wal_autocheckpoint").Scan(&auto); err != nil || auto != 0 {
		t.Errorf("wal_autocheckpoint = %d, %v; want 0", auto, err)
	}
	if s.stmts == nil || s.stmts.lookup(insertAccount) == nil {
		t.Error("the INSERT of an account was not prepared once for all")
	}
}

func TestWriteLock(t *testing.T) {
	l := newWriteLock(nil, nil)
	release, err := l.acquire(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	// Held: a caller whose context ends gives up, and so does one that
	// waited longer than the lock's wait.
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	if _, err := l.acquire(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("acquire of a held lock: %v, want the context's error", err)
	}
	l.wait = 20 * time.Millisecond
	if _, err := l.acquire(t.Context()); !errors.Is(err, errWaitedTooLong) {
		t.Errorf("acquire past the wait: %v, want errWaitedTooLong", err)
	}
	l.mu.Lock()
	queued := len(l.queue)
	l.mu.Unlock()
	if queued != 0 {
		t.Errorf("%d writers left in the queue after giving up", queued)
	}
	release()
	r2, err := l.acquire(t.Context())
	if err != nil {
		t.Fatalf("acquire after release: %v", err)
	}
	r2()
	// PostgreSQL has none.
	var none *writeLock
	if r, err := none.acquire(t.Context()); err != nil {
		t.Error(err)
	} else {
		r()
	}
}

// TestGroupCommit: writers that queue behind one another share
// transactions, and each gets exactly its own outcome: a failed or
// panicking member's writes are undone and the others' committed; a
// member returns success only once its writes are visible; AfterCommit
// runs for the committed ones only.
func TestGroupCommit(t *testing.T) {
	ctx := t.Context()
	s := openForTest(t, "sqlite:"+filepath.Join(t.TempDir(), "portti.db"))
	errFail := errors.New("this member fails")
	const writers, rounds = 12, 15
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		committed = map[string]bool{} // account IDs whose InTx returned nil
		after     = map[string]bool{} // account IDs whose AfterCommit ran
	)
	for w := range writers {
		wg.Go(func() {
			for i := range rounds {
				id := fmt.Sprintf("w%d-%d", w, i)
				var panicked any
				err := func() (err error) {
					defer func() { panicked = recover() }()
					return s.InTx(ctx, func(tx storage.Storage) error {
						if err := tx.CreateAccount(ctx, storage.Account{ID: id, Email: id + "@example.com"}); err != nil {
							return err
						}
						tx.AfterCommit(func() {
							mu.Lock()
							after[id] = true
							mu.Unlock()
						})
						switch i % 5 {
						case 3:
							return errFail
						case 4:
							if w%2 == 0 {
								panic("member panics")
							}
						}
						return nil
					})
				}()
				switch {
				case i%5 == 3:
					if !errors.Is(err, errFail) {
						t.Errorf("%s: InTx = %v, want the member's own error", id, err)
					}
				case i%5 == 4 && w%2 == 0:
					if panicked == nil {
						t.Errorf("%s: the member's panic did not reach its caller", id)
					}
				case err != nil:
					t.Errorf("%s: %v", id, err)
				default:
					// Visible to everyone once InTx returns.
					if _, err := s.GetAccount(ctx, id); err != nil {
						t.Errorf("%s: not visible after InTx returned: %v", id, err)
					}
					mu.Lock()
					committed[id] = true
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	for w := range writers {
		for i := range rounds {
			id := fmt.Sprintf("w%d-%d", w, i)
			_, err := s.GetAccount(ctx, id)
			switch {
			case committed[id] && err != nil:
				t.Errorf("%s: committed but not stored: %v", id, err)
			case !committed[id] && !errors.Is(err, storage.ErrNotFound):
				t.Errorf("%s: failed but stored (%v)", id, err)
			}
			if after[id] != committed[id] {
				t.Errorf("%s: AfterCommit ran %v, committed %v", id, after[id], committed[id])
			}
		}
	}
	if s.writer.joined.Load() == 0 {
		t.Error("no writer ever joined another's transaction: the test did not exercise group commit")
	}
	t.Logf("%d of %d writers joined an open group", s.writer.joined.Load(), writers*rounds)
}

// TestGroupNotJoinedAfterGivingUp: a writer that gave up waiting for the
// lock (errWaitedTooLong) does not join the open group, whose work is
// not done yet: it meets SQLite's own lock in a transaction of its own,
// and both commit, one after the other.
func TestGroupNotJoinedAfterGivingUp(t *testing.T) {
	ctx := t.Context()
	s := openForTest(t, "sqlite:"+filepath.Join(t.TempDir(), "portti.db"))
	s.writer.wait = 50 * time.Millisecond
	inside, finish := make(chan struct{}), make(chan struct{})
	first := make(chan error, 1)
	go func() {
		first <- s.InTx(ctx, func(tx storage.Storage) error {
			if err := tx.CreateAccount(ctx, storage.Account{ID: "first", Email: "first@example.com"}); err != nil {
				return err
			}
			close(inside)
			<-finish // holds the lock and the open group
			return tx.CreateAccount(ctx, storage.Account{ID: "first-2", Email: "first-2@example.com"})
		})
	}()
	<-inside
	go func() {
		time.Sleep(300 * time.Millisecond) // well past the wait
		close(finish)
	}()
	if err := s.CreateAccount(ctx, storage.Account{ID: "second", Email: "second@example.com"}); err != nil {
		t.Fatalf("the writer that gave up on the lock: %v", err)
	}
	if err := <-first; err != nil {
		t.Fatalf("the holder: %v", err)
	}
	for _, id := range []string{"first", "first-2", "second"} {
		if _, err := s.GetAccount(ctx, id); err != nil {
			t.Errorf("%s: %v", id, err)
		}
	}
	if n := s.writer.joined.Load(); n != 0 {
		t.Errorf("%d writers joined the holder's group", n)
	}
}
