package sqlstore

import (
	"context"
	"fmt"

	"github.com/portti/portti/internal/storage"
)

const (
	eventColumns = `id, occurred_at, kind, account_id, email, client_ip,
	user_agent, reason, ref`

	// The ID is assigned by the database, in insertion order.
	insertEvent = `INSERT INTO events (occurred_at, kind, account_id, email,
	client_ip, user_agent, reason, ref)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`
	// Newest first by ID: event times from several nodes may disagree a
	// little; the insertion order is what happened.
	listEvents = `SELECT ` + eventColumns + ` FROM events
	ORDER BY id DESC LIMIT $1`
	listAccountEvents = `SELECT ` + eventColumns + ` FROM events
	WHERE account_id = $1 ORDER BY id DESC LIMIT $2`
)

func scanEvent(r scanner) (storage.Event, error) {
	var (
		e  storage.Event
		at int64
	)
	err := r.Scan(&e.ID, &at, &e.Kind, &e.AccountID, &e.Email, &e.ClientIP,
		&e.UserAgent, &e.Reason, &e.Ref)
	if err != nil {
		return storage.Event{}, classify(err)
	}
	e.Time = goTime(at)
	return e, nil
}

// AppendEvent stores an audit record; e.ID is ignored and assigned by the
// database.
func (s *Store) AppendEvent(ctx context.Context, e storage.Event) error {
	_, err := s.exec(ctx, insertEvent, dbTime(e.Time), e.Kind, e.AccountID,
		e.Email, e.ClientIP, e.UserAgent, e.Reason, e.Ref)
	if err != nil {
		return fmt.Errorf("sqlstore: append %q event: %w", e.Kind, err)
	}
	return nil
}

// ListEvents returns at most limit (default 100) events, newest first, of
// one account or, when accountID is empty, of all.
func (s *Store) ListEvents(ctx context.Context, accountID string, limit int) ([]storage.Event, error) {
	var (
		out []storage.Event
		err error
	)
	if accountID == "" {
		out, err = queryAll(ctx, s.q, scanEvent, listEvents, limitOrDefault(limit))
	} else {
		out, err = queryAll(ctx, s.q, scanEvent, listAccountEvents, accountID, limitOrDefault(limit))
	}
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list events: %w", err)
	}
	return out, nil
}
