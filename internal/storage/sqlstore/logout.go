package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/portti/portti/internal/storage"
)

// Session clients (which clients a browser session signed in to) and the
// back-channel logout outbox. Error messages name no session (its ID is
// the hash of the cookie) and no logout token.

const (
	sessionClientColumns = `session_id, client_id, account_id, created_at`

	// A session signing in to a client again keeps the first record.
	addSessionClient = `INSERT INTO session_clients (` + sessionClientColumns + `)
	VALUES ($1, $2, $3, $4)
	ON CONFLICT (session_id, client_id) DO NOTHING`
	// In the order the session signed in to them.
	listSessionClients = `SELECT ` + sessionClientColumns + ` FROM session_clients
	WHERE session_id = $1 ORDER BY created_at, client_id`

	logoutColumns = `id, client_id, uri, token, created_at, next_attempt_at,
	attempts, last_error, delivered_at`

	insertLogout = `INSERT INTO logout_deliveries (client_id, uri, token,
	created_at, next_attempt_at, attempts, last_error, delivered_at)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
	RETURNING id`
	updateLogout = `UPDATE logout_deliveries SET client_id = $2, uri = $3,
	token = $4, created_at = $5, next_attempt_at = $6, attempts = $7,
	last_error = $8, delivered_at = $9
	WHERE id = $1`
	selectLogout = `SELECT ` + logoutColumns + ` FROM logout_deliveries WHERE id = $1`
	// Oldest first, so a backlog drains in order.
	selectDueLogouts = `SELECT ` + logoutColumns + ` FROM logout_deliveries
	WHERE delivered_at = 0 AND next_attempt_at <= $1
	ORDER BY id LIMIT $2`
	leaseLogout = `UPDATE logout_deliveries SET next_attempt_at = $2 WHERE id = $1`
)

func scanSessionClient(r scanner) (storage.SessionClient, error) {
	var (
		sc      storage.SessionClient
		created int64
	)
	if err := r.Scan(&sc.SessionID, &sc.ClientID, &sc.AccountID, &created); err != nil {
		return storage.SessionClient{}, classify(err)
	}
	sc.CreatedAt = goTime(created)
	return sc, nil
}

// AddSessionClient records that a session signed in to a client. Adding a
// pair that is recorded already does nothing. ErrNotFound when the client
// or the account does not exist.
func (s *Store) AddSessionClient(ctx context.Context, sc storage.SessionClient) error {
	_, err := s.exec(ctx, addSessionClient, sc.SessionID, sc.ClientID, sc.AccountID, dbTime(sc.CreatedAt))
	if err != nil {
		return fmt.Errorf("sqlstore: add session client %q: %w", sc.ClientID, err)
	}
	return nil
}

// ListSessionClients returns the clients the session signed in to, in the
// order it did (by CreatedAt, then client ID).
func (s *Store) ListSessionClients(ctx context.Context, sessionID string) ([]storage.SessionClient, error) {
	out, err := queryAll(ctx, s.q, scanSessionClient, listSessionClients, sessionID)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list session clients: %w", err)
	}
	return out, nil
}

func scanLogout(r scanner) (storage.LogoutDelivery, error) {
	var (
		d                          storage.LogoutDelivery
		created, next, deliveredAt int64
	)
	err := r.Scan(&d.ID, &d.ClientID, &d.URI, &d.Token, &created, &next,
		&d.Attempts, &d.LastError, &deliveredAt)
	if err != nil {
		return storage.LogoutDelivery{}, classify(err)
	}
	d.CreatedAt = goTime(created)
	d.NextAttemptAt = goTime(next)
	d.DeliveredAt = goTime(deliveredAt)
	return d, nil
}

// EnqueueLogout stores a logout token to deliver and returns its ID; d.ID
// is ignored. ErrNotFound when the client does not exist.
func (s *Store) EnqueueLogout(ctx context.Context, d storage.LogoutDelivery) (int64, error) {
	var id int64
	err := s.write(ctx, func(q querier) error {
		return q.QueryRowContext(ctx, insertLogout, d.ClientID, d.URI, d.Token,
			dbTime(d.CreatedAt), dbTime(d.NextAttemptAt), d.Attempts, d.LastError,
			dbTime(d.DeliveredAt)).Scan(&id)
	})
	if err != nil {
		return 0, fmt.Errorf("sqlstore: enqueue logout for client %q: %w", d.ClientID, classify(err))
	}
	return id, nil
}

// ClaimLogouts is ClaimMail for logout deliveries: it returns up to limit
// (default 100) undelivered ones due at now, oldest first, and in the same
// transaction moves their NextAttemptAt to now+lease, so that no other
// claimer gets them until the lease has passed. The returned deliveries
// carry the new NextAttemptAt.
func (s *Store) ClaimLogouts(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]storage.LogoutDelivery, error) {
	return claimDue(ctx, s, "logouts", selectDueLogouts, leaseLogout, scanLogout,
		func(d *storage.LogoutDelivery) *int64 { return &d.ID }, func(d *storage.LogoutDelivery) *time.Time { return &d.NextAttemptAt },
		now, lease, limit)
}

// UpdateLogout reads, changes and writes a logout delivery in one
// transaction. fn must not change the ID.
func (s *Store) UpdateLogout(ctx context.Context, id int64, fn func(storage.LogoutDelivery) (storage.LogoutDelivery, error)) (storage.LogoutDelivery, error) {
	var out storage.LogoutDelivery
	err := s.withTx(ctx, func(tx *Store) error {
		old, err := scanLogout(tx.q.QueryRowContext(ctx, selectLogout+tx.forUpdate(), id))
		if err != nil {
			return fmt.Errorf("sqlstore: update logout %d: %w", id, err)
		}
		d, err := fn(old)
		if err != nil {
			return err
		}
		if d.ID != old.ID {
			return errors.New("sqlstore: update logout: the update changed the ID")
		}
		_, err = tx.exec(ctx, updateLogout, d.ID, d.ClientID, d.URI, d.Token,
			dbTime(d.CreatedAt), dbTime(d.NextAttemptAt), d.Attempts, d.LastError,
			dbTime(d.DeliveredAt))
		if err != nil {
			return fmt.Errorf("sqlstore: update logout %d: %w", id, err)
		}
		d.CreatedAt = roundTrip(d.CreatedAt)
		d.NextAttemptAt = roundTrip(d.NextAttemptAt)
		d.DeliveredAt = roundTrip(d.DeliveredAt)
		out = d
		return nil
	})
	if err != nil {
		return storage.LogoutDelivery{}, err
	}
	return out, nil
}
