package storage

import (
	"context"
	"time"
)

// AccountTask is work a form hands to the background worker: the form's
// request stores one task whatever the address typed, and the worker finds
// out whether the address has an account, so that the time the answer
// takes tells nothing about it. Payload is the task's data, as its kind
// defines (JSON); it may hold a password hash, never a password.
type AccountTask struct {
	ID            int64
	Kind          string
	Email         string // the address typed, normalised
	Payload       string
	CreatedAt     time.Time
	NextAttemptAt time.Time
	Attempts      int
	LastError     string
}

// AccountTaskStorage is the durable queue of AccountTasks.
type AccountTaskStorage interface {
	// EnqueueAccountTask stores a task and returns its ID; t.ID is ignored.
	EnqueueAccountTask(ctx context.Context, t AccountTask) (int64, error)
	// ClaimAccountTasks returns up to limit tasks due at now, oldest first,
	// and pushes their NextAttemptAt to now+lease in the same transaction,
	// so that two nodes never work on one task at once and a task whose
	// worker died is taken up again once the lease has passed.
	ClaimAccountTasks(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]AccountTask, error)
	// DeleteAccountTask removes a task, ErrNotFound if it is gone. The
	// worker calls it in the transaction that does the task's work, so the
	// work is done once even if two nodes got the task.
	DeleteAccountTask(ctx context.Context, id int64) error
	// RetryAccountTask records a failed attempt: one more Attempts,
	// lastError, and the next attempt at next.
	RetryAccountTask(ctx context.Context, id int64, next time.Time, lastError string) error
	// CountAccountTasks returns how many tasks wait, due or not.
	CountAccountTasks(ctx context.Context) (int, error)
}
