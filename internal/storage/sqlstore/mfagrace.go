package sqlstore

import (
	"context"
	"fmt"
	"time"
)

// The start of an account's enrolment grace period
// (storage.MFAGraceStorage): one row per account, written once.

const (
	insertMFAGrace = `INSERT INTO mfa_grace (account_id, started_at) VALUES ($1, $2)
	ON CONFLICT (account_id) DO NOTHING`
	selectMFAGrace = `SELECT started_at FROM mfa_grace WHERE account_id = $1`
)

// StartMFAGrace implements storage.MFAGraceStorage.
func (s *Store) StartMFAGrace(ctx context.Context, accountID string, now time.Time) (time.Time, error) {
	if _, err := s.exec(ctx, insertMFAGrace, accountID, dbTime(now)); err != nil {
		return time.Time{}, fmt.Errorf("sqlstore: start enrolment grace of account %q: %w", accountID, err)
	}
	var started int64
	if err := s.q.QueryRowContext(ctx, selectMFAGrace, accountID).Scan(&started); err != nil {
		return time.Time{}, fmt.Errorf("sqlstore: enrolment grace of account %q: %w", accountID, classify(err))
	}
	return goTime(started), nil
}
