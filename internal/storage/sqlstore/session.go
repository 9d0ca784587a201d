package sqlstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/portti/portti/internal/storage"
)

// Error messages do not name a session: its ID is the hash of the cookie.

const (
	sessionColumns = `id, account_id, device_id, persistent, created_at,
	last_seen_at, expires_at, client_ip, user_agent, factors`

	insertSession = `INSERT INTO sessions (` + sessionColumns + `)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`
	updateSession = `UPDATE sessions SET account_id = $2, device_id = $3,
	persistent = $4, created_at = $5, last_seen_at = $6, expires_at = $7,
	client_ip = $8, user_agent = $9, factors = $10
	WHERE id = $1`
	selectSession = `SELECT ` + sessionColumns + ` FROM sessions WHERE id = $1`
	// Newest first; the ID breaks ties so the order is stable.
	listSessions = `SELECT ` + sessionColumns + ` FROM sessions
	WHERE account_id = $1 ORDER BY created_at DESC, id DESC`
	deleteSession  = `DELETE FROM sessions WHERE id = $1`
	deleteSessions = `DELETE FROM sessions WHERE account_id = $1 AND id <> $2`
)

func sessionArgs(s storage.Session) []any {
	return []any{
		s.ID, s.AccountID, s.DeviceID, dbBool(s.Persistent), dbTime(s.CreatedAt),
		dbTime(s.LastSeenAt), dbTime(s.ExpiresAt), s.ClientIP, s.UserAgent,
		dbFactors(s.Factors),
	}
}

func scanSession(r scanner) (storage.Session, error) {
	var (
		s                                      storage.Session
		persistent, created, lastSeen, expires int64
		factors                                string
	)
	err := r.Scan(&s.ID, &s.AccountID, &s.DeviceID, &persistent, &created,
		&lastSeen, &expires, &s.ClientIP, &s.UserAgent, &factors)
	if err != nil {
		return storage.Session{}, classify(err)
	}
	if s.Factors, err = goFactors(factors); err != nil {
		return storage.Session{}, err
	}
	s.Persistent = persistent != 0
	s.CreatedAt = goTime(created)
	s.LastSeenAt = goTime(lastSeen)
	s.ExpiresAt = goTime(expires)
	return s, nil
}

// CreateSession stores a new session. ErrConflict when the ID is taken;
// ErrNotFound when the account does not exist.
func (s *Store) CreateSession(ctx context.Context, sess storage.Session) error {
	if _, err := s.exec(ctx, insertSession, sessionArgs(sess)...); err != nil {
		return fmt.Errorf("sqlstore: create session for account %q: %w", sess.AccountID, err)
	}
	return nil
}

// GetSession returns the session with the given ID, expired or not.
func (s *Store) GetSession(ctx context.Context, id string) (storage.Session, error) {
	sess, err := scanSession(s.q.QueryRowContext(ctx, selectSession, id))
	if err != nil {
		return storage.Session{}, fmt.Errorf("sqlstore: get session: %w", err)
	}
	return sess, nil
}

// UpdateSession reads, changes and writes a session in one transaction. fn
// must not change the ID.
func (s *Store) UpdateSession(ctx context.Context, id string, fn func(storage.Session) (storage.Session, error)) (storage.Session, error) {
	var out storage.Session
	err := s.withTx(ctx, func(tx *Store) error {
		old, err := scanSession(tx.q.QueryRowContext(ctx, selectSession+tx.forUpdate(), id))
		if err != nil {
			return fmt.Errorf("sqlstore: update session: %w", err)
		}
		sess, err := fn(old)
		if err != nil {
			return err
		}
		if sess.ID != old.ID {
			return errors.New("sqlstore: update session: the update changed the ID")
		}
		if _, err := tx.exec(ctx, updateSession, sessionArgs(sess)...); err != nil {
			return fmt.Errorf("sqlstore: update session: %w", err)
		}
		sess.CreatedAt = roundTrip(sess.CreatedAt)
		sess.LastSeenAt = roundTrip(sess.LastSeenAt)
		sess.ExpiresAt = roundTrip(sess.ExpiresAt)
		sess.Factors, _ = goFactors(dbFactors(sess.Factors))
		out = sess
		return nil
	})
	if err != nil {
		return storage.Session{}, err
	}
	return out, nil
}

// ListSessions returns every stored session of the account, expired ones
// included (DeleteExpired removes those), newest first.
func (s *Store) ListSessions(ctx context.Context, accountID string) ([]storage.Session, error) {
	out, err := queryAll(ctx, s.q, scanSession, listSessions, accountID)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list sessions of account %q: %w", accountID, err)
	}
	return out, nil
}

// DeleteSession ends one session; ErrNotFound if there is none.
func (s *Store) DeleteSession(ctx context.Context, id string) error {
	n, err := s.exec(ctx, deleteSession, id)
	if err != nil {
		return fmt.Errorf("sqlstore: delete session: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("sqlstore: delete session: %w", storage.ErrNotFound)
	}
	return nil
}

// DeleteSessions ends every session of the account except keep.
func (s *Store) DeleteSessions(ctx context.Context, accountID, keep string) (int, error) {
	n, err := s.exec(ctx, deleteSessions, accountID, keep)
	if err != nil {
		return 0, fmt.Errorf("sqlstore: delete sessions of account %q: %w", accountID, err)
	}
	return int(n), nil
}
