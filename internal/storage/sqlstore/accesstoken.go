package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/portti/portti/internal/storage"
)

// Error messages do not name an access token: its ID is the token's jti.

const (
	// account_id is NULL for client_credentials tokens; see list.go.
	accessTokenColumns = `id, chain_id, client_id, COALESCE(account_id, ''),
	scopes, audience, created_at, expires_at, revoked_at`

	insertAccessToken = `INSERT INTO access_tokens (id, chain_id, client_id,
	account_id, scopes, audience, created_at, expires_at, revoked_at)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`
	selectAccessToken = `SELECT ` + accessTokenColumns + ` FROM access_tokens
	WHERE id = $1`
	// One statement that finds the token whether or not it is revoked
	// already (so that 0 rows means there is none) and keeps the time of
	// the first revocation.
	revokeAccessToken = `UPDATE access_tokens
	SET revoked_at = CASE WHEN revoked_at = 0 THEN $2 ELSE revoked_at END
	WHERE id = $1`
)

func scanAccessToken(r scanner) (storage.AccessToken, error) {
	var (
		t                         storage.AccessToken
		scopes, audience          string
		created, expires, revoked int64
	)
	err := r.Scan(&t.ID, &t.ChainID, &t.ClientID, &t.AccountID,
		&scopes, &audience, &created, &expires, &revoked)
	if err != nil {
		return storage.AccessToken{}, classify(err)
	}
	var d listDecoder
	t.Scopes = d.list(scopes)
	t.Audience = d.list(audience)
	if d.err != nil {
		return storage.AccessToken{}, d.err
	}
	t.CreatedAt = goTime(created)
	t.ExpiresAt = goTime(expires)
	t.RevokedAt = goTime(revoked)
	return t, nil
}

// CreateAccessToken stores a new access token's record. ErrConflict when
// the ID is taken; ErrNotFound when the client or the account (if set)
// does not exist.
func (s *Store) CreateAccessToken(ctx context.Context, t storage.AccessToken) error {
	_, err := s.exec(ctx, insertAccessToken, t.ID, t.ChainID, t.ClientID,
		nullIfEmpty(t.AccountID), dbList(t.Scopes), dbList(t.Audience),
		dbTime(t.CreatedAt), dbTime(t.ExpiresAt), dbTime(t.RevokedAt))
	if err != nil {
		return fmt.Errorf("sqlstore: create access token for client %q: %w", t.ClientID, err)
	}
	return nil
}

// GetAccessToken returns the access token with the given ID, whatever its
// state (revoked, expired).
func (s *Store) GetAccessToken(ctx context.Context, id string) (storage.AccessToken, error) {
	t, err := scanAccessToken(s.q.QueryRowContext(ctx, selectAccessToken, id))
	if err != nil {
		return storage.AccessToken{}, fmt.Errorf("sqlstore: get access token: %w", err)
	}
	return t, nil
}

// RevokeAccessToken sets the token's RevokedAt to at, unless it is revoked
// already: then it keeps the first time. ErrNotFound if there is no such
// token.
func (s *Store) RevokeAccessToken(ctx context.Context, id string, at time.Time) error {
	n, err := s.exec(ctx, revokeAccessToken, id, dbTime(at))
	if err != nil {
		return fmt.Errorf("sqlstore: revoke access token: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("sqlstore: revoke access token: %w", storage.ErrNotFound)
	}
	return nil
}
