package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Attempt counters use fixed windows: a counter's window starts at its first
// attempt and lasts the given length; the first attempt after that starts a
// new window at 1.
//
// Error messages leave out the counter's key: it may hold an address.

const (
	// One statement, so that concurrent attempts on one key never lose a
	// count: INSERT … ON CONFLICT DO UPDATE is atomic on PostgreSQL and
	// runs under SQLite's single write lock. $3 is the start of the
	// current window (now - window): a window that started at or before it
	// has ended. In SET, both sides refer to the row as it was, so the
	// two CASEs agree.
	countAttempt = `INSERT INTO attempts (key, window_start, count)
	VALUES ($1, $2, 1)
	ON CONFLICT (key) DO UPDATE SET
		count = CASE WHEN attempts.window_start <= $3 THEN 1
			ELSE attempts.count + 1 END,
		window_start = CASE WHEN attempts.window_start <= $3 THEN $2
			ELSE attempts.window_start END
	RETURNING count`

	selectAttempts = `SELECT count FROM attempts
	WHERE key = $1 AND window_start > $2`
)

// CountAttempt adds one to the counter named key and returns the count in
// the current window, this attempt included.
func (s *Store) CountAttempt(ctx context.Context, key string, now time.Time, window time.Duration) (int, error) {
	var n int
	err := s.write(ctx, func(q querier) error {
		return q.QueryRowContext(ctx, countAttempt, key, dbTime(now), dbTime(now.Add(-window))).Scan(&n)
	})
	if err != nil {
		return 0, fmt.Errorf("sqlstore: count attempt: %w", classify(err))
	}
	return n, nil
}

// Attempts returns the count in the current window, 0 when the window has
// passed or there has been no attempt.
func (s *Store) Attempts(ctx context.Context, key string, now time.Time, window time.Duration) (int, error) {
	var n int
	err := s.q.QueryRowContext(ctx, selectAttempts, key, dbTime(now.Add(-window))).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("sqlstore: attempts: %w", err)
	}
	return n, nil
}
