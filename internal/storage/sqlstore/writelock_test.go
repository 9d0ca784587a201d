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
	if s.writer == nil || len(s.writer.ch) != 0 {
		t.Errorf("write lock %v: want present and free", s.writer)
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
	// Held: a caller whose context ends gives up.
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	if _, err := l.acquire(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("acquire of a held lock: %v, want the context's error", err)
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
