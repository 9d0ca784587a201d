package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/portti/portti/internal/storage"
)

// Strong identification's records (storage.ProofingStorage). Error
// messages name an identity binding by its account, never by its hash.

const (
	upsertIdentity = `INSERT INTO account_identities (account_id, identity, provider, bound_at)
	VALUES ($1, $2, $3, $4)
	ON CONFLICT (account_id) DO UPDATE SET identity = $2, provider = $3, bound_at = $4`
	selectIdentity        = `SELECT account_id, identity, provider, bound_at FROM account_identities WHERE account_id = $1`
	selectIdentityAccount = `SELECT account_id, identity, provider, bound_at FROM account_identities
	WHERE identity = $1 ORDER BY bound_at, account_id`
	deleteIdentity = `DELETE FROM account_identities WHERE account_id = $1`

	proofingKeyColumns = `id, use, alg, private, public, created_at, retired_at, expires_at`
	insertProofingKey  = `INSERT INTO proofing_keys (` + proofingKeyColumns + `)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`
	listProofingKeys  = `SELECT ` + proofingKeyColumns + ` FROM proofing_keys ORDER BY created_at, id`
	retireProofingKey = `UPDATE proofing_keys SET retired_at = $2, expires_at = $3
	WHERE id = $1 AND retired_at = 0`

	proofingFlowColumns = `id, purpose, provider, account_id, challenge, return_to, lang,
	state, nonce, verifier, identity, given_name, family_name, proven_at, created_at, expires_at`
	insertProofingFlow = `INSERT INTO proofing_flows (` + proofingFlowColumns + `)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`
	selectProofingFlow = `SELECT ` + proofingFlowColumns + ` FROM proofing_flows WHERE id = $1`
	updateProofingFlow = `UPDATE proofing_flows SET purpose = $2, provider = $3, account_id = $4,
	challenge = $5, return_to = $6, lang = $7, state = $8, nonce = $9, verifier = $10,
	identity = $11, given_name = $12, family_name = $13, proven_at = $14, created_at = $15,
	expires_at = $16 WHERE id = $1`
	deleteProofingFlow         = `DELETE FROM proofing_flows WHERE id = $1`
	deleteExpiredProofingFlows = `DELETE FROM proofing_flows WHERE expires_at <= $1`
)

func scanIdentity(r scanner) (storage.ProofedIdentity, error) {
	var (
		p     storage.ProofedIdentity
		bound int64
	)
	if err := r.Scan(&p.AccountID, &p.Identity, &p.Provider, &bound); err != nil {
		return storage.ProofedIdentity{}, classify(err)
	}
	p.BoundAt = goTime(bound)
	return p, nil
}

// BindIdentity implements storage.ProofingStorage.
func (s *Store) BindIdentity(ctx context.Context, p storage.ProofedIdentity) error {
	if p.AccountID == "" || p.Identity == "" {
		return errors.New("sqlstore: bind identity: account and identity are required")
	}
	if _, err := s.exec(ctx, upsertIdentity, p.AccountID, p.Identity, p.Provider, dbTime(p.BoundAt)); err != nil {
		return fmt.Errorf("sqlstore: bind identity to account %q: %w", p.AccountID, err)
	}
	return nil
}

// GetIdentity implements storage.ProofingStorage.
func (s *Store) GetIdentity(ctx context.Context, accountID string) (storage.ProofedIdentity, error) {
	p, err := scanIdentity(s.q.QueryRowContext(ctx, selectIdentity, accountID))
	if err != nil {
		return p, fmt.Errorf("sqlstore: identity of account %q: %w", accountID, err)
	}
	return p, nil
}

// AccountsWithIdentity implements storage.ProofingStorage.
func (s *Store) AccountsWithIdentity(ctx context.Context, identity string) ([]storage.ProofedIdentity, error) {
	out, err := queryAll(ctx, s.q, scanIdentity, selectIdentityAccount, identity)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: accounts with an identity: %w", err)
	}
	return out, nil
}

// UnbindIdentity implements storage.ProofingStorage.
func (s *Store) UnbindIdentity(ctx context.Context, accountID string) error {
	n, err := s.exec(ctx, deleteIdentity, accountID)
	if err != nil {
		return fmt.Errorf("sqlstore: unbind identity of account %q: %w", accountID, err)
	}
	if n == 0 {
		return fmt.Errorf("sqlstore: unbind identity of account %q: %w", accountID, storage.ErrNotFound)
	}
	return nil
}

func scanProofingKey(r scanner) (storage.ProofingKey, error) {
	var (
		k                         storage.ProofingKey
		created, retired, expires int64
	)
	if err := r.Scan(&k.ID, &k.Use, &k.Alg, &k.Private, &k.Public, &created, &retired, &expires); err != nil {
		return storage.ProofingKey{}, classify(err)
	}
	k.CreatedAt, k.RetiredAt, k.ExpiresAt = goTime(created), goTime(retired), goTime(expires)
	return k, nil
}

// CreateProofingKey implements storage.ProofingStorage.
func (s *Store) CreateProofingKey(ctx context.Context, k storage.ProofingKey) error {
	if _, err := s.exec(ctx, insertProofingKey, k.ID, k.Use, k.Alg, dbBytes(k.Private), dbBytes(k.Public),
		dbTime(k.CreatedAt), dbTime(k.RetiredAt), dbTime(k.ExpiresAt)); err != nil {
		return fmt.Errorf("sqlstore: create proofing key %q: %w", k.ID, err)
	}
	return nil
}

// ListProofingKeys implements storage.ProofingStorage.
func (s *Store) ListProofingKeys(ctx context.Context) ([]storage.ProofingKey, error) {
	out, err := queryAll(ctx, s.q, scanProofingKey, listProofingKeys)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list proofing keys: %w", err)
	}
	return out, nil
}

// RetireProofingKey implements storage.ProofingStorage.
func (s *Store) RetireProofingKey(ctx context.Context, id string, retiredAt, expiresAt time.Time) error {
	n, err := s.exec(ctx, retireProofingKey, id, dbTime(retiredAt), dbTime(expiresAt))
	if err != nil {
		return fmt.Errorf("sqlstore: retire proofing key %q: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("sqlstore: retire proofing key %q: %w", id, storage.ErrNotFound)
	}
	return nil
}

func proofingFlowArgs(f storage.ProofingFlow) []any {
	return []any{f.ID, f.Purpose, f.Provider, f.AccountID, f.Challenge, f.Return, f.Lang,
		f.State, f.Nonce, f.Verifier, f.Identity, f.GivenName, f.FamilyName,
		dbTime(f.ProvenAt), dbTime(f.CreatedAt), dbTime(f.ExpiresAt)}
}

func scanProofingFlow(r scanner) (storage.ProofingFlow, error) {
	var (
		f                        storage.ProofingFlow
		proven, created, expires int64
	)
	err := r.Scan(&f.ID, &f.Purpose, &f.Provider, &f.AccountID, &f.Challenge, &f.Return, &f.Lang,
		&f.State, &f.Nonce, &f.Verifier, &f.Identity, &f.GivenName, &f.FamilyName,
		&proven, &created, &expires)
	if err != nil {
		return storage.ProofingFlow{}, classify(err)
	}
	f.ProvenAt, f.CreatedAt, f.ExpiresAt = goTime(proven), goTime(created), goTime(expires)
	return f, nil
}

// CreateProofingFlow implements storage.ProofingStorage.
func (s *Store) CreateProofingFlow(ctx context.Context, f storage.ProofingFlow) error {
	if _, err := s.exec(ctx, insertProofingFlow, proofingFlowArgs(f)...); err != nil {
		return fmt.Errorf("sqlstore: create proofing flow: %w", err)
	}
	return nil
}

// GetProofingFlow implements storage.ProofingStorage.
func (s *Store) GetProofingFlow(ctx context.Context, id string, now time.Time) (storage.ProofingFlow, error) {
	f, err := scanProofingFlow(s.q.QueryRowContext(ctx, selectProofingFlow, id))
	if err == nil && !f.ExpiresAt.After(now) {
		err = storage.ErrNotFound
	}
	if err != nil {
		return storage.ProofingFlow{}, fmt.Errorf("sqlstore: get proofing flow: %w", err)
	}
	return f, nil
}

// UpdateProofingFlow implements storage.ProofingStorage.
func (s *Store) UpdateProofingFlow(ctx context.Context, id string, fn func(storage.ProofingFlow) (storage.ProofingFlow, error)) (storage.ProofingFlow, error) {
	var out storage.ProofingFlow
	err := s.withTx(ctx, func(tx *Store) error {
		old, err := scanProofingFlow(tx.q.QueryRowContext(ctx, selectProofingFlow+tx.forUpdate(), id))
		if err != nil {
			return fmt.Errorf("sqlstore: update proofing flow: %w", err)
		}
		f, err := fn(old)
		if err != nil {
			return err
		}
		if f.ID != old.ID {
			return errors.New("sqlstore: update proofing flow: the update changed its ID")
		}
		if _, err := tx.exec(ctx, updateProofingFlow, proofingFlowArgs(f)...); err != nil {
			return fmt.Errorf("sqlstore: update proofing flow: %w", err)
		}
		f.ProvenAt, f.CreatedAt, f.ExpiresAt = roundTrip(f.ProvenAt), roundTrip(f.CreatedAt), roundTrip(f.ExpiresAt)
		out = f
		return nil
	})
	if err != nil {
		return storage.ProofingFlow{}, err
	}
	return out, nil
}

// DeleteProofingFlow implements storage.ProofingStorage.
func (s *Store) DeleteProofingFlow(ctx context.Context, id string) error {
	n, err := s.exec(ctx, deleteProofingFlow, id)
	if err != nil {
		return fmt.Errorf("sqlstore: delete proofing flow: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("sqlstore: delete proofing flow: %w", storage.ErrNotFound)
	}
	return nil
}

// DeleteExpiredProofingFlows implements storage.ProofingStorage.
func (s *Store) DeleteExpiredProofingFlows(ctx context.Context, now time.Time) (int, error) {
	n, err := s.exec(ctx, deleteExpiredProofingFlows, dbTime(now))
	if err != nil {
		return 0, fmt.Errorf("sqlstore: delete expired proofing flows: %w", err)
	}
	return int(n), nil
}
