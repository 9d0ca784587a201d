package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/portti/portti/internal/storage"
)

const (
	mailColumns = `id, to_addr, subject, text_body, html_body, created_at,
	next_attempt_at, attempts, last_error, sent_at, unreachable`

	insertMail = `INSERT INTO mail (to_addr, subject, text_body, html_body,
	created_at, next_attempt_at, attempts, last_error, sent_at, unreachable)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
	RETURNING id`
	updateMail = `UPDATE mail SET to_addr = $2, subject = $3, text_body = $4,
	html_body = $5, created_at = $6, next_attempt_at = $7, attempts = $8,
	last_error = $9, sent_at = $10, unreachable = $11
	WHERE id = $1`
	selectMail = `SELECT ` + mailColumns + ` FROM mail WHERE id = $1`
	// Oldest first, so a backlog drains in order.
	selectDueMail = `SELECT ` + mailColumns + ` FROM mail
	WHERE sent_at = 0 AND next_attempt_at <= $1
	ORDER BY id LIMIT $2`
	// A claim clears the unreachable mark: a message being sent must not
	// be made due again by another node's ResumeMail.
	leaseMail      = `UPDATE mail SET next_attempt_at = $2, unreachable = 0 WHERE id = $1`
	renewMailLease = `UPDATE mail SET next_attempt_at = $3
	WHERE id = $1 AND next_attempt_at = $2 AND sent_at = 0`
	resumeMail = `UPDATE mail SET next_attempt_at = $1, unreachable = 0
	WHERE unreachable = 1 AND sent_at = 0`
	listMail = `SELECT ` + mailColumns + ` FROM mail ORDER BY id DESC LIMIT $1`
)

func scanMail(r scanner) (storage.Mail, error) {
	var (
		m                     storage.Mail
		created, next, sentAt int64
		unreachable           int
	)
	err := r.Scan(&m.ID, &m.To, &m.Subject, &m.Text, &m.HTML, &created,
		&next, &m.Attempts, &m.LastError, &sentAt, &unreachable)
	if err != nil {
		return storage.Mail{}, classify(err)
	}
	m.CreatedAt = goTime(created)
	m.NextAttemptAt = goTime(next)
	m.SentAt = goTime(sentAt)
	m.Unreachable = unreachable != 0
	return m, nil
}

// EnqueueMail stores a message to send and returns its ID; m.ID is ignored.
func (s *Store) EnqueueMail(ctx context.Context, m storage.Mail) (int64, error) {
	var id int64
	err := s.write(ctx, func(q querier) error {
		return q.QueryRowContext(ctx, insertMail, m.To, m.Subject, m.Text, m.HTML,
			dbTime(m.CreatedAt), dbTime(m.NextAttemptAt), m.Attempts, m.LastError,
			dbTime(m.SentAt), boolInt(m.Unreachable)).Scan(&id)
	})
	if err != nil {
		return 0, fmt.Errorf("sqlstore: enqueue mail: %w", classify(err))
	}
	return id, nil
}

// ClaimMail returns up to limit (default 100) unsent messages due at now,
// oldest first, and in the same transaction moves their NextAttemptAt to
// now+lease: until then no other claimer gets them, and if the claimer dies
// they are retried after the lease. The returned messages carry the new
// NextAttemptAt.
func (s *Store) ClaimMail(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]storage.Mail, error) {
	mails, err := claimDue(ctx, s, "mail", selectDueMail, leaseMail, scanMail,
		func(m *storage.Mail) *int64 { return &m.ID }, func(m *storage.Mail) *time.Time { return &m.NextAttemptAt },
		now, lease, limit)
	for i := range mails {
		mails[i].Unreachable = false // leaseMail cleared it
	}
	return mails, err
}

// claimDue is the lease-taking claim shared by the mail outbox and the
// logout queue: select the due rows and push their next attempt to
// now+lease in one transaction.
func claimDue[T any](ctx context.Context, s *Store, what, selectDue, takeLease string, scan func(scanner) (T, error),
	id func(*T) *int64, next func(*T) *time.Time, now time.Time, lease time.Duration, limit int) ([]T, error) {
	var out []T
	err := s.withTx(ctx, func(tx *Store) error {
		// PostgreSQL: lock the rows, and pass over rows another node is
		// claiming right now rather than waiting for it and then sending
		// nothing. SQLite: the transaction holds the only write lock.
		query := selectDue
		if tx.dialect == dialectPostgres {
			query += " FOR UPDATE SKIP LOCKED"
		}
		due, err := queryAll(ctx, tx.q, scan, query, dbTime(now), limitOrDefault(limit))
		if err != nil {
			return fmt.Errorf("sqlstore: claim %s: %w", what, err)
		}
		until := dbTime(now.Add(lease))
		for i := range due {
			if _, err := tx.exec(ctx, takeLease, *id(&due[i]), until); err != nil {
				return fmt.Errorf("sqlstore: claim %s %d: %w", what, *id(&due[i]), err)
			}
			*next(&due[i]) = goTime(until)
		}
		out = due
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// UpdateMail reads, changes and writes a message in one transaction. fn must
// not change the ID.
func (s *Store) UpdateMail(ctx context.Context, id int64, fn func(storage.Mail) (storage.Mail, error)) (storage.Mail, error) {
	var out storage.Mail
	err := s.withTx(ctx, func(tx *Store) error {
		old, err := scanMail(tx.q.QueryRowContext(ctx, selectMail+tx.forUpdate(), id))
		if err != nil {
			return fmt.Errorf("sqlstore: update mail %d: %w", id, err)
		}
		m, err := fn(old)
		if err != nil {
			return err
		}
		if m.ID != old.ID {
			return errors.New("sqlstore: update mail: the update changed the ID")
		}
		_, err = tx.exec(ctx, updateMail, m.ID, m.To, m.Subject, m.Text, m.HTML,
			dbTime(m.CreatedAt), dbTime(m.NextAttemptAt), m.Attempts, m.LastError,
			dbTime(m.SentAt), boolInt(m.Unreachable))
		if err != nil {
			return fmt.Errorf("sqlstore: update mail %d: %w", id, err)
		}
		m.CreatedAt = roundTrip(m.CreatedAt)
		m.NextAttemptAt = roundTrip(m.NextAttemptAt)
		m.SentAt = roundTrip(m.SentAt)
		out = m
		return nil
	})
	if err != nil {
		return storage.Mail{}, err
	}
	return out, nil
}

// ListMail returns at most limit (default 100) messages, newest first.
func (s *Store) ListMail(ctx context.Context, limit int) ([]storage.Mail, error) {
	out, err := queryAll(ctx, s.q, scanMail, listMail, limitOrDefault(limit))
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list mail: %w", err)
	}
	return out, nil
}

// RenewMailLease moves a claimed, unsent message's lease from until to
// newUntil, if it still is until.
func (s *Store) RenewMailLease(ctx context.Context, id int64, until, newUntil time.Time) (bool, error) {
	n, err := s.exec(ctx, renewMailLease, id, dbTime(until), dbTime(newUntil))
	if err != nil {
		return false, fmt.Errorf("sqlstore: renew mail lease %d: %w", id, err)
	}
	return n == 1, nil
}

// ResumeMail makes the unsent messages marked unreachable due at now.
func (s *Store) ResumeMail(ctx context.Context, now time.Time) (int, error) {
	n, err := s.exec(ctx, resumeMail, dbTime(now))
	if err != nil {
		return 0, fmt.Errorf("sqlstore: resume mail: %w", err)
	}
	return int(n), nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
