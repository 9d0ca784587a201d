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
	// The token and its account in one read, for userinfo and
	// introspection. The account's columns are those of accountColumns,
	// NULL (so '' or 0) when the token has no account: a client's own
	// token, or one whose account row is gone.
	selectAccessTokenWithAccount = `SELECT t.id, t.chain_id, t.client_id,
	COALESCE(t.account_id, ''), t.scopes, t.audience, t.created_at,
	t.expires_at, t.revoked_at,
	COALESCE(a.id, ''), COALESCE(a.email, ''), COALESCE(a.given_name, ''),
	COALESCE(a.family_name, ''), COALESCE(a.phone_number, ''),
	COALESCE(a.street_address, ''), COALESCE(a.postal_code, ''),
	COALESCE(a.locality, ''), COALESCE(a.locale, ''),
	COALESCE(a.password_hash, ''), COALESCE(a.password_changed_at, 0),
	COALESCE(a.activated_at, 0), COALESCE(a.disabled, 0),
	COALESCE(a.failed_logins, 0), COALESCE(a.locked_until, 0),
	COALESCE(a.terms_version, ''), COALESCE(a.terms_accepted_at, 0),
	COALESCE(a.pending_email, ''), COALESCE(a.created_at, 0),
	COALESCE(a.updated_at, 0)
	FROM access_tokens t LEFT JOIN accounts a ON a.id = t.account_id
	WHERE t.id = $1`
	// One statement that finds the token whether or not it is revoked
	// already (so that 0 rows means there is none) and keeps the time of
	// the first revocation.
	revokeAccessToken = `UPDATE access_tokens
	SET revoked_at = CASE WHEN revoked_at = 0 THEN $2 ELSE revoked_at END
	WHERE id = $1`
)

func scanAccessToken(r scanner) (storage.AccessToken, error) {
	var ts accessTokenScan
	if err := r.Scan(ts.dest()...); err != nil {
		return storage.AccessToken{}, classify(err)
	}
	return ts.token()
}

// accessTokenScan holds the destinations of one row's accessTokenColumns.
type accessTokenScan struct {
	t                         storage.AccessToken
	scopes, audience          string
	created, expires, revoked int64
}

func (ts *accessTokenScan) dest() []any {
	t := &ts.t
	return []any{&t.ID, &t.ChainID, &t.ClientID, &t.AccountID,
		&ts.scopes, &ts.audience, &ts.created, &ts.expires, &ts.revoked}
}

func (ts *accessTokenScan) token() (storage.AccessToken, error) {
	t := ts.t
	var d listDecoder
	t.Scopes = d.list(ts.scopes)
	t.Audience = d.list(ts.audience)
	if d.err != nil {
		return storage.AccessToken{}, d.err
	}
	t.CreatedAt = goTime(ts.created)
	t.ExpiresAt = goTime(ts.expires)
	t.RevokedAt = goTime(ts.revoked)
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

// GetAccessTokenWithAccount returns the access token with the given ID,
// whatever its state, and its account in the same read. The account is
// empty (no ID) when the token has none (client_credentials) or the
// account no longer exists.
func (s *Store) GetAccessTokenWithAccount(ctx context.Context, id string) (storage.AccessToken, storage.Account, error) {
	var (
		ts accessTokenScan
		as accountScan
	)
	err := s.q.QueryRowContext(ctx, selectAccessTokenWithAccount, id).Scan(append(ts.dest(), as.dest()...)...)
	if err != nil {
		return storage.AccessToken{}, storage.Account{}, fmt.Errorf("sqlstore: get access token: %w", classify(err))
	}
	t, err := ts.token()
	if err != nil {
		return storage.AccessToken{}, storage.Account{}, fmt.Errorf("sqlstore: get access token: %w", err)
	}
	if as.a.ID == "" {
		return t, storage.Account{}, nil
	}
	return t, as.account(), nil
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
