package sqlstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/portti/portti/internal/storage"
)

// Error messages do not name a token: its hash is as good as the link for
// matching a log line to a mailbox.

const (
	tokenColumns = `hash, kind, account_id, email, created_at, expires_at, used_at`

	insertToken = `INSERT INTO tokens (` + tokenColumns + `)
	VALUES ($1, $2, $3, $4, $5, $6, $7)`
	updateToken = `UPDATE tokens SET kind = $2, account_id = $3, email = $4,
	created_at = $5, expires_at = $6, used_at = $7
	WHERE hash = $1`
	selectToken = `SELECT ` + tokenColumns + ` FROM tokens WHERE hash = $1`
	// Used tokens stay, so that following a used link says "already used".
	deleteUnusedTokens = `DELETE FROM tokens
	WHERE account_id = $1 AND kind = $2 AND used_at = 0`
)

func tokenArgs(t storage.Token) []any {
	return []any{
		t.Hash, string(t.Kind), t.AccountID, t.Email,
		dbTime(t.CreatedAt), dbTime(t.ExpiresAt), dbTime(t.UsedAt),
	}
}

func scanToken(r scanner) (storage.Token, error) {
	var (
		t                      storage.Token
		kind                   string
		created, expires, used int64
	)
	if err := r.Scan(&t.Hash, &kind, &t.AccountID, &t.Email, &created, &expires, &used); err != nil {
		return storage.Token{}, classify(err)
	}
	t.Kind = storage.TokenKind(kind)
	t.CreatedAt = goTime(created)
	t.ExpiresAt = goTime(expires)
	t.UsedAt = goTime(used)
	return t, nil
}

// CreateToken stores a new link token. ErrConflict when the hash is taken;
// ErrNotFound when the account does not exist.
func (s *Store) CreateToken(ctx context.Context, t storage.Token) error {
	if _, err := s.exec(ctx, insertToken, tokenArgs(t)...); err != nil {
		return fmt.Errorf("sqlstore: create %s token: %w", t.Kind, err)
	}
	return nil
}

// GetToken returns the token with the given hash.
func (s *Store) GetToken(ctx context.Context, hash string) (storage.Token, error) {
	t, err := scanToken(s.q.QueryRowContext(ctx, selectToken, hash))
	if err != nil {
		return storage.Token{}, fmt.Errorf("sqlstore: get token: %w", err)
	}
	return t, nil
}

// UpdateToken reads, changes and writes a token in one transaction, so that
// of two requests following the same link only one sees it unused. fn must
// not change the hash.
func (s *Store) UpdateToken(ctx context.Context, hash string, fn func(storage.Token) (storage.Token, error)) (storage.Token, error) {
	var out storage.Token
	err := s.withTx(ctx, func(tx *Store) error {
		old, err := scanToken(tx.q.QueryRowContext(ctx, selectToken+tx.forUpdate(), hash))
		if err != nil {
			return fmt.Errorf("sqlstore: update token: %w", err)
		}
		t, err := fn(old)
		if err != nil {
			return err
		}
		if t.Hash != old.Hash {
			return errors.New("sqlstore: update token: the update changed the hash")
		}
		if _, err := tx.exec(ctx, updateToken, tokenArgs(t)...); err != nil {
			return fmt.Errorf("sqlstore: update token: %w", err)
		}
		t.CreatedAt = roundTrip(t.CreatedAt)
		t.ExpiresAt = roundTrip(t.ExpiresAt)
		t.UsedAt = roundTrip(t.UsedAt)
		out = t
		return nil
	})
	if err != nil {
		return storage.Token{}, err
	}
	return out, nil
}

// DeleteTokens removes the account's unused tokens of one kind.
func (s *Store) DeleteTokens(ctx context.Context, accountID string, kind storage.TokenKind) (int, error) {
	n, err := s.exec(ctx, deleteUnusedTokens, accountID, string(kind))
	if err != nil {
		return 0, fmt.Errorf("sqlstore: delete %s tokens of account %q: %w", kind, accountID, err)
	}
	return int(n), nil
}
