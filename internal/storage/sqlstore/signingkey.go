package sqlstore

import (
	"context"
	"fmt"

	"github.com/portti/portti/internal/storage"
)

// A key's ID is its public "kid"; error messages name it.

const (
	signingKeyColumns = `id, alg, private_key, public_jwk, created_at,
	sign_from, retired_at, expires_at`

	insertSigningKey = `INSERT INTO signing_keys (` + signingKeyColumns + `)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`
	updateSigningKey = `UPDATE signing_keys SET alg = $2, private_key = $3,
	public_jwk = $4, created_at = $5, sign_from = $6, retired_at = $7,
	expires_at = $8
	WHERE id = $1`
	selectSigningKey = `SELECT ` + signingKeyColumns + ` FROM signing_keys WHERE id = $1`
	// Oldest first; the ID breaks ties so the order is stable.
	listSigningKeys = `SELECT ` + signingKeyColumns + ` FROM signing_keys
	ORDER BY created_at, id`
)

func signingKeyArgs(k storage.SigningKey) []any {
	return []any{
		k.ID, k.Alg, dbBytes(k.Private), dbBytes(k.Public), dbTime(k.CreatedAt),
		dbTime(k.SignFrom), dbTime(k.RetiredAt), dbTime(k.ExpiresAt),
	}
}

func scanSigningKey(r scanner) (storage.SigningKey, error) {
	var (
		k                                   storage.SigningKey
		created, signFrom, retired, expires int64
	)
	err := r.Scan(&k.ID, &k.Alg, &k.Private, &k.Public, &created,
		&signFrom, &retired, &expires)
	if err != nil {
		return storage.SigningKey{}, classify(err)
	}
	k.Private = goBytes(k.Private)
	k.Public = goBytes(k.Public)
	k.CreatedAt = goTime(created)
	k.SignFrom = goTime(signFrom)
	k.RetiredAt = goTime(retired)
	k.ExpiresAt = goTime(expires)
	return k, nil
}

// CreateSigningKey stores a new signing key. ErrConflict when the ID is
// taken.
func (s *Store) CreateSigningKey(ctx context.Context, k storage.SigningKey) error {
	if _, err := s.exec(ctx, insertSigningKey, signingKeyArgs(k)...); err != nil {
		return fmt.Errorf("sqlstore: create signing key %q: %w", k.ID, err)
	}
	return nil
}

// UpdateSigningKey reads, changes and writes a signing key in one
// transaction. fn must not change the ID.
func (s *Store) UpdateSigningKey(ctx context.Context, id string, fn func(storage.SigningKey) (storage.SigningKey, error)) (storage.SigningKey, error) {
	var out storage.SigningKey
	err := s.withTx(ctx, func(tx *Store) error {
		old, err := scanSigningKey(tx.q.QueryRowContext(ctx, selectSigningKey+tx.forUpdate(), id))
		if err != nil {
			return fmt.Errorf("sqlstore: update signing key %q: %w", id, err)
		}
		k, err := fn(old)
		if err != nil {
			return err
		}
		if k.ID != old.ID {
			return fmt.Errorf("sqlstore: update signing key %q: the update changed the ID", id)
		}
		if _, err := tx.exec(ctx, updateSigningKey, signingKeyArgs(k)...); err != nil {
			return fmt.Errorf("sqlstore: update signing key %q: %w", id, err)
		}
		k.Private = goBytes(k.Private)
		k.Public = goBytes(k.Public)
		k.CreatedAt = roundTrip(k.CreatedAt)
		k.SignFrom = roundTrip(k.SignFrom)
		k.RetiredAt = roundTrip(k.RetiredAt)
		k.ExpiresAt = roundTrip(k.ExpiresAt)
		out = k
		return nil
	})
	if err != nil {
		return storage.SigningKey{}, err
	}
	return out, nil
}

// ListSigningKeys returns every signing key, oldest first (by CreatedAt,
// then ID), retired and expired ones included.
func (s *Store) ListSigningKeys(ctx context.Context) ([]storage.SigningKey, error) {
	out, err := queryAll(ctx, s.q, scanSigningKey, listSigningKeys)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list signing keys: %w", err)
	}
	return out, nil
}
