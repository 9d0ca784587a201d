package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// writeLock serialises this process's SQLite writers in Go. SQLite lets
// one writer in at a time and makes the others poll: its busy handler
// sleeps 1, 2, 5, 10, … ms between tries, so with a few concurrent
// writers the lock often sits free while every waiter sleeps, and a write
// that takes a third of a millisecond waits milliseconds (portti-bench,
// issue 3: refresh grants). Waiting here instead hands the lock over at
// once, in arrival order. Other processes (the portti command line) still
// meet SQLite's own lock and busy_timeout.
//
// Every SQLite write goes through a transaction (BEGIN IMMEDIATE) that
// holds this lock, and writers that queue behind one another share it:
// see group. Reads never take the lock.
//
// The lock also checkpoints the WAL, in the background, every
// checkpointEvery writes. SQLite's automatic checkpoint (turned off in
// sqliteParams) runs inside the commit that crosses its threshold, with an
// fsync of the WAL and of the database, and so inside this lock: every
// queued writer waited for the disk (a third of the refresh grant's wall
// time was idle CPU). A passive checkpoint blocks neither readers nor
// writers.
type writeLock struct {
	mu    sync.Mutex
	held  bool      // guarded by mu
	queue []*waiter // guarded by mu; first come, first served
	// open is the transaction the writers holding the lock in turn are
	// filling; read and written only by the holder.
	open *group

	wait time.Duration // writeLockWait; shorter in tests

	db            *sql.DB // for the checkpoints; nil in tests
	bg            *background
	writes        int // guarded by mu
	checkpointing atomic.Bool
	checkpoints   atomic.Int64 // run so far, for tests
	joined        atomic.Int64 // writers that joined an open group, for tests
}

// waiter is a writer queued for the lock; ready is closed when the lock
// is handed to it.
type waiter struct{ ready chan struct{} }

// checkpointEvery is how many writes go by between checkpoints: a few
// hundred pages of WAL, as with SQLite's default of 1,000 pages.
const checkpointEvery = 100

// writeLockWait bounds the wait, like busy_timeout: past it acquire gives
// up with errWaitedTooLong and the caller goes on to SQLite's own lock,
// so a caller that breaks InTx's rule (a write through the outer Store
// inside a transaction) fails after busy_timeout as before instead of
// waiting for ever.
const writeLockWait = 10 * time.Second

var errWaitedTooLong = errors.New("sqlstore: waited too long for the write lock")

func newWriteLock(db *sql.DB, bg *background) *writeLock {
	return &writeLock{db: db, bg: bg, wait: writeLockWait}
}

func noRelease() {}

// acquire waits for the lock, up to writeLockWait (errWaitedTooLong). A
// nil writeLock (PostgreSQL) is no lock.
func (l *writeLock) acquire(ctx context.Context) (release func(), err error) {
	if l == nil {
		return noRelease, nil
	}
	l.mu.Lock()
	if !l.held {
		l.held = true
		l.mu.Unlock()
		return l.release, nil
	}
	w := &waiter{ready: make(chan struct{})}
	l.queue = append(l.queue, w)
	l.mu.Unlock()

	t := time.NewTimer(l.wait)
	defer t.Stop()
	var gaveUp error
	select {
	case <-w.ready:
		return l.release, nil
	case <-ctx.Done():
		gaveUp = ctx.Err()
	case <-t.C:
	}
	l.mu.Lock()
	for i, q := range l.queue {
		if q == w {
			l.queue = append(l.queue[:i], l.queue[i+1:]...)
			l.mu.Unlock()
			if gaveUp != nil {
				return nil, gaveUp
			}
			return nil, errWaitedTooLong
		}
	}
	l.mu.Unlock()
	// Handed over meanwhile: the lock is this caller's, and an open
	// group may be waiting for it to go on; take it.
	<-w.ready
	return l.release, nil
}

// waiting reports whether a writer is queued. Only the holder asks.
func (l *writeLock) waiting() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.queue) > 0
}

// release hands the lock to the first queued writer, or frees it.
func (l *writeLock) release() {
	l.mu.Lock()
	l.writes++
	due := l.writes%checkpointEvery == 0
	if len(l.queue) > 0 {
		w := l.queue[0]
		l.queue = l.queue[1:]
		close(w.ready) // still held: now by w
	} else {
		l.held = false
	}
	l.mu.Unlock()
	if due && l.db != nil && l.checkpointing.CompareAndSwap(false, true) {
		// If the Store is closing, goRun runs nothing; no checkpoint is
		// due after that.
		l.bg.goRun(func() {
			defer l.checkpointing.Store(false)
			// An error only means the next checkpoint, or the last
			// connection's close, does the work.
			if _, err := l.db.ExecContext(context.Background(), "PRAGMA wal_checkpoint(PASSIVE)"); err == nil {
				l.checkpoints.Add(1)
			}
		})
	}
}
