package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/portti/portti/internal/storage"
)

const (
	putEndedSession = `INSERT INTO ended_sessions (id, reason, ended_at, expires_at) VALUES ($1, $2, $3, $4)
	ON CONFLICT (id) DO UPDATE SET reason = excluded.reason, ended_at = excluded.ended_at, expires_at = excluded.expires_at`
	dropExpiredEndedSessions = `DELETE FROM ended_sessions WHERE expires_at < $1`
	takeEndedSession         = `DELETE FROM ended_sessions WHERE id = $1 RETURNING id, reason, ended_at, expires_at`
)

// NoteEndedSessions implements storage.EndedSessionStorage.
func (s *Store) NoteEndedSessions(ctx context.Context, notes []storage.EndedSession, now time.Time) error {
	if len(notes) == 0 {
		return nil
	}
	err := s.withTx(ctx, func(tx *Store) error {
		if _, err := tx.exec(ctx, dropExpiredEndedSessions, dbTime(now)); err != nil {
			return err
		}
		for _, n := range notes {
			if _, err := tx.exec(ctx, putEndedSession, n.ID, n.Reason, dbTime(n.EndedAt), dbTime(n.ExpiresAt)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlstore: note ended sessions: %w", classify(err))
	}
	return nil
}

// TakeEndedSession implements storage.EndedSessionStorage.
func (s *Store) TakeEndedSession(ctx context.Context, id string, now time.Time) (storage.EndedSession, error) {
	var out []storage.EndedSession
	err := s.write(ctx, func(q querier) error {
		var err error
		out, err = queryAll(ctx, q, func(r scanner) (storage.EndedSession, error) {
			var (
				e          storage.EndedSession
				at, expire int64
			)
			err := r.Scan(&e.ID, &e.Reason, &at, &expire)
			e.EndedAt, e.ExpiresAt = goTime(at), goTime(expire)
			return e, err
		}, takeEndedSession, id)
		return err
	})
	if err != nil {
		return storage.EndedSession{}, fmt.Errorf("sqlstore: take ended session: %w", classify(err))
	}
	if len(out) == 0 || out[0].ExpiresAt.Before(now) {
		return storage.EndedSession{}, storage.ErrNotFound
	}
	return out[0], nil
}
