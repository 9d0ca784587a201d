package sqlstore

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/portti/portti/internal/storage"
)

// deleteSessionClients removes a session's records and returns them. Both
// SQLite (3.35+) and PostgreSQL support RETURNING; a concurrent second
// DELETE of the same rows returns none.
const deleteSessionClients = `DELETE FROM session_clients WHERE session_id = $1
	RETURNING ` + sessionClientColumns

// DeleteSessionClients removes the records of a session (once it has been
// logged out and its clients told) and returns the removed ones in the
// order ListSessionClients gives.
func (s *Store) DeleteSessionClients(ctx context.Context, sessionID string) ([]storage.SessionClient, error) {
	var out []storage.SessionClient
	err := s.write(ctx, func(q querier) error {
		var err error
		out, err = queryAll(ctx, q, scanSessionClient, deleteSessionClients, sessionID)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlstore: delete session clients: %w", classify(err))
	}
	slices.SortFunc(out, func(a, b storage.SessionClient) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return cmp.Compare(a.ClientID, b.ClientID)
	})
	return out, nil
}

// endedSessionsWithClients: session_clients rows whose session expired or
// is gone (deleted by DeleteExpired, or by a logout whose clients were not
// told because the process stopped in between).
const endedSessionsWithClients = `SELECT DISTINCT sc.session_id FROM session_clients sc
	LEFT JOIN sessions s ON s.id = sc.session_id
	WHERE s.id IS NULL OR s.expires_at < $1
	ORDER BY sc.session_id LIMIT $2`

// EndedSessionsWithClients implements storage.Storage.
func (s *Store) EndedSessionsWithClients(ctx context.Context, now time.Time, limit int) ([]string, error) {
	out, err := queryAll(ctx, s.q, func(r scanner) (string, error) {
		var id string
		return id, r.Scan(&id)
	}, endedSessionsWithClients, dbTime(now), limitOrDefault(limit))
	if err != nil {
		return nil, fmt.Errorf("sqlstore: ended sessions with clients: %w", err)
	}
	return out, nil
}
