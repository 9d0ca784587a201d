package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/portti/portti/internal/storage"
)

const (
	accountTaskColumns = `id, kind, email, payload, created_at, next_attempt_at,
	attempts, last_error`

	insertAccountTask = `INSERT INTO account_tasks (kind, email, payload,
	created_at, next_attempt_at, attempts, last_error)
	VALUES ($1, $2, $3, $4, $5, $6, $7)
	RETURNING id`
	// Oldest first: tasks are done in the order the forms were sent.
	selectDueAccountTasks = `SELECT ` + accountTaskColumns + ` FROM account_tasks
	WHERE next_attempt_at <= $1
	ORDER BY id LIMIT $2`
	leaseAccountTask  = `UPDATE account_tasks SET next_attempt_at = $2 WHERE id = $1`
	deleteAccountTask = `DELETE FROM account_tasks WHERE id = $1`
	retryAccountTask  = `UPDATE account_tasks SET attempts = attempts + 1,
	next_attempt_at = $2, last_error = $3 WHERE id = $1`
	countAccountTasks = `SELECT count(*) FROM account_tasks`
)

func scanAccountTask(r scanner) (storage.AccountTask, error) {
	var (
		t             storage.AccountTask
		created, next int64
	)
	err := r.Scan(&t.ID, &t.Kind, &t.Email, &t.Payload, &created, &next, &t.Attempts, &t.LastError)
	if err != nil {
		return storage.AccountTask{}, classify(err)
	}
	t.CreatedAt = goTime(created)
	t.NextAttemptAt = goTime(next)
	return t, nil
}

// EnqueueAccountTask stores a task and returns its ID.
func (s *Store) EnqueueAccountTask(ctx context.Context, t storage.AccountTask) (int64, error) {
	var id int64
	err := s.write(ctx, func(q querier) error {
		return q.QueryRowContext(ctx, insertAccountTask, t.Kind, t.Email, t.Payload,
			dbTime(t.CreatedAt), dbTime(t.NextAttemptAt), t.Attempts, t.LastError).Scan(&id)
	})
	if err != nil {
		return 0, fmt.Errorf("sqlstore: enqueue account task: %w", classify(err))
	}
	return id, nil
}

// ClaimAccountTasks returns up to limit due tasks, oldest first, leased
// until now+lease.
func (s *Store) ClaimAccountTasks(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]storage.AccountTask, error) {
	return claimDue(ctx, s, "account tasks", selectDueAccountTasks, leaseAccountTask, scanAccountTask,
		func(t *storage.AccountTask) *int64 { return &t.ID }, func(t *storage.AccountTask) *time.Time { return &t.NextAttemptAt },
		now, lease, limit)
}

// DeleteAccountTask removes a task; ErrNotFound if it is gone.
func (s *Store) DeleteAccountTask(ctx context.Context, id int64) error {
	n, err := s.exec(ctx, deleteAccountTask, id)
	if err != nil {
		return fmt.Errorf("sqlstore: delete account task %d: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("sqlstore: delete account task %d: %w", id, storage.ErrNotFound)
	}
	return nil
}

// RetryAccountTask records a failed attempt.
func (s *Store) RetryAccountTask(ctx context.Context, id int64, next time.Time, lastError string) error {
	n, err := s.exec(ctx, retryAccountTask, id, dbTime(next), lastError)
	if err != nil {
		return fmt.Errorf("sqlstore: retry account task %d: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("sqlstore: retry account task %d: %w", id, storage.ErrNotFound)
	}
	return nil
}

// CountAccountTasks returns how many tasks wait.
func (s *Store) CountAccountTasks(ctx context.Context) (int, error) {
	var n int
	if err := s.q.QueryRowContext(ctx, countAccountTasks).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlstore: count account tasks: %w", classify(err))
	}
	return n, nil
}
