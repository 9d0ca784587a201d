package sqlstore

import (
	"context"
	"fmt"

	"github.com/portti/portti/internal/storage"
)

// Successors of rotated refresh tokens (storage.RefreshGraceStorage). A
// row is of use for the reuse grace period (seconds); DeleteExpired
// deletes it after its ExpiresAt. The table is lean on purpose (see its
// migration, 00009). Errors name no token: a hash finds one.

const (
	insertRefreshSuccessor = `INSERT INTO refresh_successors (hash, sealed, expires_at)
	VALUES ($1, $2, $3)`
	selectRefreshSuccessor = `SELECT hash, sealed, expires_at FROM refresh_successors
	WHERE hash = $1`
)

// CreateRefreshSuccessor implements storage.RefreshGraceStorage.
func (s *Store) CreateRefreshSuccessor(ctx context.Context, rs storage.RefreshSuccessor) error {
	if _, err := s.exec(ctx, insertRefreshSuccessor, rs.Hash, dbBytes(rs.Sealed), dbTime(rs.ExpiresAt)); err != nil {
		return fmt.Errorf("sqlstore: create refresh successor: %w", err)
	}
	return nil
}

// GetRefreshSuccessor implements storage.RefreshGraceStorage.
func (s *Store) GetRefreshSuccessor(ctx context.Context, hash string) (storage.RefreshSuccessor, error) {
	var (
		rs      storage.RefreshSuccessor
		expires int64
	)
	err := s.q.QueryRowContext(ctx, selectRefreshSuccessor, hash).Scan(&rs.Hash, &rs.Sealed, &expires)
	if err != nil {
		return storage.RefreshSuccessor{}, fmt.Errorf("sqlstore: get refresh successor: %w", classify(err))
	}
	rs.Sealed = goBytes(rs.Sealed)
	rs.ExpiresAt = goTime(expires)
	return rs, nil
}
