package sqlstore

import (
	"context"
	"database/sql"
	"sync/atomic"
	"time"
)

// writeLock serialises this process's SQLite writers in Go. SQLite lets
// one writer in at a time and makes the others poll: its busy handler
// sleeps 1, 2, 5, 10, … ms between tries, so with a few concurrent
// writers the lock often sits free while every waiter sleeps, and a write
// that takes a third of a millisecond waits milliseconds (portti-bench,
// issue 3: refresh grants). Waiting here instead hands the lock over at
// once. Other processes (the portti command line) still meet SQLite's own
// lock and busy_timeout.
//
// Every SQLite transaction here is a write (BEGIN IMMEDIATE), so begin
// takes the lock, and so does exec outside a transaction. Reads never do.
//
// The lock also checkpoints the WAL, in the background, every
// checkpointEvery writes. SQLite's automatic checkpoint (turned off in
// sqliteParams) runs inside the commit that crosses its threshold, with an
// fsync of the WAL and of the database, and so inside this lock: every
// queued writer waited for the disk (a third of the refresh grant's wall
// time was idle CPU). A passive checkpoint blocks neither readers nor
// writers.
type writeLock struct {
	ch            chan struct{}
	db            *sql.DB // for the checkpoints; nil in tests
	bg            *background
	writes        int // under the lock
	checkpointing atomic.Bool
	checkpoints   atomic.Int64 // run so far, for tests
}

// checkpointEvery is how many writes go by between checkpoints: a few
// hundred pages of WAL, as with SQLite's default of 1,000 pages.
const checkpointEvery = 100

// writeLockWait bounds the wait, like busy_timeout: past it the caller goes
// on to SQLite's own lock, so a caller that breaks InTx's rule (a write
// through the outer Store inside a transaction) fails after busy_timeout
// as before instead of waiting for ever.
const writeLockWait = 10 * time.Second

func newWriteLock(db *sql.DB, bg *background) *writeLock {
	return &writeLock{ch: make(chan struct{}, 1), db: db, bg: bg}
}

func noRelease() {}

// acquire waits for the lock. A nil writeLock (PostgreSQL) is no lock.
func (l *writeLock) acquire(ctx context.Context) (release func(), err error) {
	if l == nil {
		return noRelease, nil
	}
	select {
	case l.ch <- struct{}{}:
		return l.release, nil
	default:
	}
	t := time.NewTimer(writeLockWait)
	defer t.Stop()
	select {
	case l.ch <- struct{}{}:
		return l.release, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-t.C:
		return noRelease, nil
	}
}

func (l *writeLock) release() {
	l.writes++
	due := l.writes%checkpointEvery == 0
	<-l.ch
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
