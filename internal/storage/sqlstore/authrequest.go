package sqlstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/portti/portti/internal/storage"
)

// Error messages name neither a request (its ID is the login flow's
// handle) nor a code hash.

const (
	// account_id is NULL until someone has signed in; see list.go.
	authRequestColumns = `id, client_id, COALESCE(account_id, ''), session_id,
	auth_time, code_hash, data, created_at, expires_at`

	insertAuthRequest = `INSERT INTO auth_requests (id, client_id, account_id,
	session_id, auth_time, code_hash, data, created_at, expires_at)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`
	updateAuthRequest = `UPDATE auth_requests SET client_id = $2,
	account_id = $3, session_id = $4, auth_time = $5, code_hash = $6,
	data = $7, created_at = $8, expires_at = $9
	WHERE id = $1`
	selectAuthRequest = `SELECT ` + authRequestColumns + ` FROM auth_requests
	WHERE id = $1`
	// "code_hash <> ''" lets SQLite use the partial unique index, and
	// keeps the requests that have no code yet from matching an empty hash.
	selectAuthRequestByCode = `SELECT ` + authRequestColumns + ` FROM auth_requests
	WHERE code_hash = $1 AND code_hash <> ''`
	deleteAuthRequest = `DELETE FROM auth_requests WHERE id = $1`
)

func authRequestArgs(r storage.AuthRequest) []any {
	return []any{
		r.ID, r.ClientID, nullIfEmpty(r.AccountID), r.SessionID,
		dbTime(r.AuthTime), r.CodeHash, dbBytes(r.Data),
		dbTime(r.CreatedAt), dbTime(r.ExpiresAt),
	}
}

func scanAuthRequest(r scanner) (storage.AuthRequest, error) {
	var (
		a                          storage.AuthRequest
		authTime, created, expires int64
	)
	err := r.Scan(&a.ID, &a.ClientID, &a.AccountID, &a.SessionID,
		&authTime, &a.CodeHash, &a.Data, &created, &expires)
	if err != nil {
		return storage.AuthRequest{}, classify(err)
	}
	a.Data = goBytes(a.Data)
	a.AuthTime = goTime(authTime)
	a.CreatedAt = goTime(created)
	a.ExpiresAt = goTime(expires)
	return a, nil
}

// CreateAuthRequest stores a new authorization request. ErrConflict when
// the ID or the code hash is taken; ErrNotFound when the client or the
// account does not exist.
func (s *Store) CreateAuthRequest(ctx context.Context, r storage.AuthRequest) error {
	if _, err := s.exec(ctx, insertAuthRequest, authRequestArgs(r)...); err != nil {
		return fmt.Errorf("sqlstore: create auth request for client %q: %w", r.ClientID, err)
	}
	return nil
}

// GetAuthRequest returns the authorization request with the given ID,
// expired or not.
func (s *Store) GetAuthRequest(ctx context.Context, id string) (storage.AuthRequest, error) {
	r, err := scanAuthRequest(s.q.QueryRowContext(ctx, selectAuthRequest, id))
	if err != nil {
		return storage.AuthRequest{}, fmt.Errorf("sqlstore: get auth request: %w", err)
	}
	return r, nil
}

// GetAuthRequestByCode returns the authorization request whose code has
// the given hash. An empty hash matches nothing.
func (s *Store) GetAuthRequestByCode(ctx context.Context, codeHash string) (storage.AuthRequest, error) {
	r, err := scanAuthRequest(s.q.QueryRowContext(ctx, selectAuthRequestByCode, codeHash))
	if err != nil {
		return storage.AuthRequest{}, fmt.Errorf("sqlstore: get auth request by code: %w", err)
	}
	return r, nil
}

// UpdateAuthRequest reads, changes and writes an authorization request in
// one transaction. fn must not change the ID. ErrConflict if fn sets a
// code hash that another request has.
func (s *Store) UpdateAuthRequest(ctx context.Context, id string, fn func(storage.AuthRequest) (storage.AuthRequest, error)) (storage.AuthRequest, error) {
	var out storage.AuthRequest
	err := s.withTx(ctx, func(tx *Store) error {
		old, err := scanAuthRequest(tx.q.QueryRowContext(ctx, selectAuthRequest+tx.forUpdate(), id))
		if err != nil {
			return fmt.Errorf("sqlstore: update auth request: %w", err)
		}
		r, err := fn(old)
		if err != nil {
			return err
		}
		if r.ID != old.ID {
			return errors.New("sqlstore: update auth request: the update changed the ID")
		}
		if _, err := tx.exec(ctx, updateAuthRequest, authRequestArgs(r)...); err != nil {
			return fmt.Errorf("sqlstore: update auth request: %w", err)
		}
		r.Data = goBytes(r.Data)
		r.AuthTime = roundTrip(r.AuthTime)
		r.CreatedAt = roundTrip(r.CreatedAt)
		r.ExpiresAt = roundTrip(r.ExpiresAt)
		out = r
		return nil
	})
	if err != nil {
		return storage.AuthRequest{}, err
	}
	return out, nil
}

// DeleteAuthRequest removes an authorization request; ErrNotFound if there
// is none. Of two calls racing to delete one request, exactly one
// succeeds, so deleting a request when its code is exchanged makes the
// code single-use.
func (s *Store) DeleteAuthRequest(ctx context.Context, id string) error {
	n, err := s.exec(ctx, deleteAuthRequest, id)
	if err != nil {
		return fmt.Errorf("sqlstore: delete auth request: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("sqlstore: delete auth request: %w", storage.ErrNotFound)
	}
	return nil
}
