package sqlstore

import (
	"context"
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
type writeLock struct{ ch chan struct{} }

// writeLockWait bounds the wait, like busy_timeout: past it the caller goes
// on to SQLite's own lock, so a caller that breaks InTx's rule (a write
// through the outer Store inside a transaction) fails after busy_timeout
// as before instead of waiting for ever.
const writeLockWait = 10 * time.Second

func newWriteLock() *writeLock { return &writeLock{ch: make(chan struct{}, 1)} }

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

func (l *writeLock) release() { <-l.ch }
