package sqlstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/portti/portti/internal/storage"
)

const (
	// ON CONFLICT DO NOTHING: a second revocation of the same token keeps
	// the first time; the same text on both dialects.
	insertRevokedJTI = `INSERT INTO revoked_jtis (jti, client_id, revoked_at, expires_at)
	VALUES ($1, $2, $3, $4) ON CONFLICT (jti) DO NOTHING`
	// The primary key answers it: one index probe per introspection.
	selectRevokedJTI = `SELECT 1 FROM revoked_jtis WHERE jti = $1`
	// The token's columns (accessTokenColumns) and two of its account's.
	selectAccessTokenStatus = `SELECT t.id, t.chain_id, t.client_id,
	COALESCE(t.account_id, ''), t.scopes, t.audience, t.created_at,
	t.expires_at, t.revoked_at, COALESCE(a.id, ''), COALESCE(a.disabled, 0)
	FROM access_tokens t LEFT JOIN accounts a ON a.id = t.account_id
	WHERE t.id = $1`
)

// GetAccessTokenStatus returns the access token with the given ID,
// whatever its state, and whether its account exists and is disabled, in
// one read.
func (s *Store) GetAccessTokenStatus(ctx context.Context, id string) (storage.AccessToken, storage.AccountStatus, error) {
	var (
		ts        accessTokenScan
		accountID string
		disabled  int64
	)
	err := s.q.QueryRowContext(ctx, selectAccessTokenStatus, id).Scan(append(ts.dest(), &accountID, &disabled)...)
	if err != nil {
		return storage.AccessToken{}, storage.AccountStatus{}, fmt.Errorf("sqlstore: get access token: %w", classify(err))
	}
	t, err := ts.token()
	if err != nil {
		return storage.AccessToken{}, storage.AccountStatus{}, fmt.Errorf("sqlstore: get access token: %w", err)
	}
	return t, storage.AccountStatus{Exists: accountID != "", Disabled: disabled != 0}, nil
}

// GetClientByResource returns the client that is the resource server
// named resource (its identifier, matched exactly).
func (s *Store) GetClientByResource(ctx context.Context, resource string) (storage.Client, error) {
	if resource == "" {
		return storage.Client{}, fmt.Errorf("sqlstore: get client by resource: %w", storage.ErrNotFound)
	}
	c, err := scanClient(s.q.QueryRowContext(ctx, selectClientByResource, resource))
	if err != nil {
		return storage.Client{}, fmt.Errorf("sqlstore: get client by resource %q: %w", resource, err)
	}
	return c, nil
}

// DenyJTI puts a revoked JWT's jti on the deny list until r.ExpiresAt.
func (s *Store) DenyJTI(ctx context.Context, r storage.RevokedJTI) error {
	if r.JTI == "" {
		return errors.New("sqlstore: deny jti: no jti")
	}
	if _, err := s.exec(ctx, insertRevokedJTI, r.JTI, r.ClientID, dbTime(r.RevokedAt), dbTime(r.ExpiresAt)); err != nil {
		return fmt.Errorf("sqlstore: deny jti of client %q: %w", r.ClientID, err)
	}
	return nil
}

// JTIDenied reports whether jti is on the deny list.
func (s *Store) JTIDenied(ctx context.Context, jti string) (bool, error) {
	var one int
	err := s.q.QueryRowContext(ctx, selectRevokedJTI, jti).Scan(&one)
	switch err = classify(err); {
	case errors.Is(err, storage.ErrNotFound):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("sqlstore: jti denied: %w", err)
	}
	return true, nil
}
