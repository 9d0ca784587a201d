package storage

import (
	"context"
	"time"
)

// RefreshSuccessor is what a rotated refresh token was replaced with,
// kept for the reuse grace period only: a client whose parallel requests
// presented the same token gets the same successor from each (see the
// oidc package's refresh). The successor is sealed under a key derived
// from the rotated token itself, which the database does not hold (it
// has only the token's hash): a copy of the database opens none of them.
type RefreshSuccessor struct {
	Hash      string    // the rotated token's RefreshToken.Hash
	Sealed    []byte    // the successor token, encrypted and authenticated
	ExpiresAt time.Time // end of the grace period; DeleteExpired removes it after
}

// RefreshGraceStorage keeps the sealed successors of rotated refresh
// tokens for the reuse grace period.
type RefreshGraceStorage interface {
	// CreateRefreshSuccessor stores s. ErrConflict when the token already
	// has a successor. The token itself is not looked up (the record is
	// written at every rotation, next to the token's own update): a record
	// outliving its token is useless and goes with the expired ones.
	CreateRefreshSuccessor(ctx context.Context, s RefreshSuccessor) error
	// GetRefreshSuccessor returns the successor record of the rotated
	// token hash, or ErrNotFound. One past its ExpiresAt may still be
	// returned until DeleteExpired runs: the caller checks the time.
	GetRefreshSuccessor(ctx context.Context, hash string) (RefreshSuccessor, error)
}
