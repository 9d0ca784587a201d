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
)

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
