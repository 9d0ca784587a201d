package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/portti/portti/internal/storage"
)

// Error messages name no token, chain or session: a token's hash finds
// the token, and chain and session IDs tie log lines to a person's
// browser.

const (
	refreshTokenColumns = `hash, chain_id, client_id, account_id, session_id,
	scopes, audience, amr, auth_time, created_at, expires_at, used_at,
	revoked_at`

	insertRefreshToken = `INSERT INTO refresh_tokens (` + refreshTokenColumns + `)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`
	updateRefreshToken = `UPDATE refresh_tokens SET chain_id = $2,
	client_id = $3, account_id = $4, session_id = $5, scopes = $6,
	audience = $7, amr = $8, auth_time = $9, created_at = $10,
	expires_at = $11, used_at = $12, revoked_at = $13
	WHERE hash = $1`
	// Rotation and revocation change only used_at and revoked_at, which
	// no index holds: writing just those leaves the row's five index
	// entries and its foreign keys alone, where the full UPDATE above
	// makes SQLite rewrite every index entry of the row.
	updateRefreshTokenState = `UPDATE refresh_tokens SET used_at = $2,
	revoked_at = $3 WHERE hash = $1`
	selectRefreshToken = `SELECT ` + refreshTokenColumns + ` FROM refresh_tokens
	WHERE hash = $1`

	// Revocation keeps the time of the first revocation. Refresh tokens
	// are revoked before access tokens everywhere, so that concurrent
	// revocations on PostgreSQL take their row locks in the same order.
	revokeChainRefreshTokens = `UPDATE refresh_tokens SET revoked_at = $2
	WHERE chain_id = $1 AND revoked_at = 0`
	revokeChainAccessTokens = `UPDATE access_tokens SET revoked_at = $2
	WHERE chain_id = $1 AND revoked_at = 0`

	// The chains of a session: every chain one of whose refresh tokens
	// has the session ID (and the client ID, $3). "chain_id <> ''" keeps
	// a token without a chain from matching the access tokens that have
	// none (client_credentials ones).
	sessionChains       = `SELECT chain_id FROM refresh_tokens WHERE session_id = $1 AND chain_id <> ''`
	sessionClientChains = sessionChains + ` AND client_id = $3`

	revokeSessionRefreshTokens = `UPDATE refresh_tokens SET revoked_at = $2
	WHERE revoked_at = 0 AND chain_id IN (` + sessionChains + `)`
	revokeSessionAccessTokens = `UPDATE access_tokens SET revoked_at = $2
	WHERE revoked_at = 0 AND chain_id IN (` + sessionChains + `)`
	revokeSessionClientRefreshTokens = `UPDATE refresh_tokens SET revoked_at = $2
	WHERE revoked_at = 0 AND chain_id IN (` + sessionClientChains + `)`
	revokeSessionClientAccessTokens = `UPDATE access_tokens SET revoked_at = $2
	WHERE revoked_at = 0 AND chain_id IN (` + sessionClientChains + `)`
)

func refreshTokenArgs(t storage.RefreshToken) []any {
	return []any{
		t.Hash, t.ChainID, t.ClientID, t.AccountID, t.SessionID,
		dbList(t.Scopes), dbList(t.Audience), dbList(t.AMR), dbTime(t.AuthTime),
		dbTime(t.CreatedAt), dbTime(t.ExpiresAt), dbTime(t.UsedAt), dbTime(t.RevokedAt),
	}
}

func scanRefreshToken(r scanner) (storage.RefreshToken, error) {
	var (
		t                                             storage.RefreshToken
		scopes, audience, amr                         string
		authTime, created, expires, used, revokedTime int64
	)
	err := r.Scan(&t.Hash, &t.ChainID, &t.ClientID, &t.AccountID, &t.SessionID,
		&scopes, &audience, &amr, &authTime, &created, &expires, &used, &revokedTime)
	if err != nil {
		return storage.RefreshToken{}, classify(err)
	}
	var d listDecoder
	t.Scopes = d.list(scopes)
	t.Audience = d.list(audience)
	t.AMR = d.list(amr)
	if d.err != nil {
		return storage.RefreshToken{}, d.err
	}
	t.AuthTime = goTime(authTime)
	t.CreatedAt = goTime(created)
	t.ExpiresAt = goTime(expires)
	t.UsedAt = goTime(used)
	t.RevokedAt = goTime(revokedTime)
	return t, nil
}

// CreateRefreshToken stores a new refresh token. ErrConflict when the hash
// is taken; ErrNotFound when the client or the account does not exist.
func (s *Store) CreateRefreshToken(ctx context.Context, t storage.RefreshToken) error {
	if _, err := s.exec(ctx, insertRefreshToken, refreshTokenArgs(t)...); err != nil {
		return fmt.Errorf("sqlstore: create refresh token for client %q: %w", t.ClientID, err)
	}
	return nil
}

// GetRefreshToken returns the refresh token with the given hash, whatever
// its state (used, revoked, expired).
func (s *Store) GetRefreshToken(ctx context.Context, hash string) (storage.RefreshToken, error) {
	t, err := scanRefreshToken(s.q.QueryRowContext(ctx, selectRefreshToken, hash))
	if err != nil {
		return storage.RefreshToken{}, fmt.Errorf("sqlstore: get refresh token: %w", err)
	}
	return t, nil
}

// UpdateRefreshToken reads, changes and writes a refresh token in one
// transaction, so that of two requests rotating the same token only one
// sees it unused. fn must not change the hash.
func (s *Store) UpdateRefreshToken(ctx context.Context, hash string, fn func(storage.RefreshToken) (storage.RefreshToken, error)) (storage.RefreshToken, error) {
	var out storage.RefreshToken
	err := s.withTx(ctx, func(tx *Store) error {
		old, err := scanRefreshToken(tx.q.QueryRowContext(ctx, selectRefreshToken+tx.forUpdate(), hash))
		if err != nil {
			return fmt.Errorf("sqlstore: update refresh token: %w", err)
		}
		t, err := fn(old)
		if err != nil {
			return err
		}
		if t.Hash != old.Hash {
			return errors.New("sqlstore: update refresh token: the update changed the hash")
		}
		query, args := updateRefreshToken, refreshTokenArgs(t)
		if onlyStateChanged(refreshTokenArgs(old), args) {
			query, args = updateRefreshTokenState, []any{t.Hash, dbTime(t.UsedAt), dbTime(t.RevokedAt)}
		}
		if _, err := tx.exec(ctx, query, args...); err != nil {
			return fmt.Errorf("sqlstore: update refresh token: %w", err)
		}
		t.Scopes = roundTripList(t.Scopes)
		t.Audience = roundTripList(t.Audience)
		t.AMR = roundTripList(t.AMR)
		t.AuthTime = roundTrip(t.AuthTime)
		t.CreatedAt = roundTrip(t.CreatedAt)
		t.ExpiresAt = roundTrip(t.ExpiresAt)
		t.UsedAt = roundTrip(t.UsedAt)
		t.RevokedAt = roundTrip(t.RevokedAt)
		out = t
		return nil
	})
	if err != nil {
		return storage.RefreshToken{}, err
	}
	return out, nil
}

// onlyStateChanged reports whether two refreshTokenArgs differ at most in
// used_at and revoked_at, the last two.
func onlyStateChanged(old, updated []any) bool {
	n := len(old) - 2
	for i := range n {
		if old[i] != updated[i] {
			return false
		}
	}
	return true
}

// RevokeRefreshChain sets RevokedAt to at on every refresh token of the
// chain not revoked yet, used ones included, and on the access tokens
// issued from the chain, in one transaction. It returns how many refresh
// tokens it revoked. An empty chainID names no chain: nothing is revoked
// (access tokens without a chain, client_credentials ones, are not a
// chain).
func (s *Store) RevokeRefreshChain(ctx context.Context, chainID string, at time.Time) (int, error) {
	if chainID == "" {
		return 0, nil
	}
	var n int64
	err := s.withTx(ctx, func(tx *Store) error {
		var err error
		n, err = tx.exec(ctx, revokeChainRefreshTokens, chainID, dbTime(at))
		if err != nil {
			return fmt.Errorf("sqlstore: revoke refresh chain: %w", err)
		}
		if _, err := tx.exec(ctx, revokeChainAccessTokens, chainID, dbTime(at)); err != nil {
			return fmt.Errorf("sqlstore: revoke refresh chain: access tokens: %w", err)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return int(n), nil
}

// RevokeSessionTokens revokes, as RevokeRefreshChain does, every chain of
// which a refresh token has the session ID sessionID, and of the client
// clientID when that is not empty. It returns how many refresh tokens it
// revoked. An empty sessionID names no session: nothing is revoked.
func (s *Store) RevokeSessionTokens(ctx context.Context, sessionID, clientID string, at time.Time) (int, error) {
	if sessionID == "" {
		return 0, nil
	}
	refresh, access, args := revokeSessionRefreshTokens, revokeSessionAccessTokens, []any{sessionID, dbTime(at)}
	if clientID != "" {
		refresh, access = revokeSessionClientRefreshTokens, revokeSessionClientAccessTokens
		args = append(args, clientID)
	}
	var n int64
	err := s.withTx(ctx, func(tx *Store) error {
		var err error
		n, err = tx.exec(ctx, refresh, args...)
		if err != nil {
			return fmt.Errorf("sqlstore: revoke session tokens: %w", err)
		}
		if _, err := tx.exec(ctx, access, args...); err != nil {
			return fmt.Errorf("sqlstore: revoke session tokens: access tokens: %w", err)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return int(n), nil
}
