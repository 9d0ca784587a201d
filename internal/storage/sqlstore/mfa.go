package sqlstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/portti/portti/internal/storage"
)

// Credentials (storage.MFAStorage). Error messages name a credential by its
// ID and kind, never by its lookup value or secret.

const (
	credentialColumns = `id, account_id, kind, name, lookup, secret, data,
	counter, created_at, last_used_at`

	insertCredential = `INSERT INTO credentials (` + credentialColumns + `)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`
	updateCredential = `UPDATE credentials SET name = $4, lookup = $5,
	secret = $6, data = $7, counter = $8, created_at = $9, last_used_at = $10
	WHERE id = $1 AND account_id = $2 AND kind = $3`
	selectCredential         = `SELECT ` + credentialColumns + ` FROM credentials WHERE id = $1`
	selectCredentialByLookup = `SELECT ` + credentialColumns + ` FROM credentials
	WHERE kind = $1 AND lookup = $2 AND lookup <> ''`
	listCredentials = `SELECT ` + credentialColumns + ` FROM credentials
	WHERE account_id = $1 ORDER BY created_at, id`
	deleteCredential        = `DELETE FROM credentials WHERE id = $1`
	deleteCredentialsOfKind = `DELETE FROM credentials WHERE account_id = $1 AND kind = $2`
	deleteAllCredentials    = `DELETE FROM credentials WHERE account_id = $1`
)

func credentialArgs(c storage.Credential) []any {
	return []any{
		c.ID, c.AccountID, c.Kind, c.Name, c.Lookup, dbBytes(c.Secret), dbBytes(c.Data),
		c.Counter, dbTime(c.CreatedAt), dbTime(c.LastUsedAt),
	}
}

func scanCredential(r scanner) (storage.Credential, error) {
	var (
		c             storage.Credential
		created, used int64
	)
	err := r.Scan(&c.ID, &c.AccountID, &c.Kind, &c.Name, &c.Lookup, &c.Secret, &c.Data,
		&c.Counter, &created, &used)
	if err != nil {
		return storage.Credential{}, classify(err)
	}
	c.CreatedAt, c.LastUsedAt = goTime(created), goTime(used)
	return c, nil
}

// CreateCredential stores a new credential.
func (s *Store) CreateCredential(ctx context.Context, c storage.Credential) error {
	if _, err := s.exec(ctx, insertCredential, credentialArgs(c)...); err != nil {
		return fmt.Errorf("sqlstore: create %s credential %q: %w", c.Kind, c.ID, err)
	}
	return nil
}

// GetCredential returns the credential with the given ID.
func (s *Store) GetCredential(ctx context.Context, id string) (storage.Credential, error) {
	c, err := scanCredential(s.q.QueryRowContext(ctx, selectCredential, id))
	if err != nil {
		return c, fmt.Errorf("sqlstore: get credential %q: %w", id, err)
	}
	return c, nil
}

// GetCredentialByLookup returns the credential of a kind with a lookup value.
func (s *Store) GetCredentialByLookup(ctx context.Context, kind, lookup string) (storage.Credential, error) {
	c, err := scanCredential(s.q.QueryRowContext(ctx, selectCredentialByLookup, kind, lookup))
	if err != nil {
		return c, fmt.Errorf("sqlstore: get %s credential by lookup: %w", kind, err)
	}
	return c, nil
}

// ListCredentials returns the account's credentials, oldest first.
func (s *Store) ListCredentials(ctx context.Context, accountID string) ([]storage.Credential, error) {
	out, err := queryAll(ctx, s.q, scanCredential, listCredentials, accountID)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list credentials of account %q: %w", accountID, err)
	}
	return out, nil
}

// UpdateCredential reads, changes and writes a credential in one
// transaction, so that of two sign-ins using the same code only one
// sees it unused.
func (s *Store) UpdateCredential(ctx context.Context, id string, fn func(storage.Credential) (storage.Credential, error)) (storage.Credential, error) {
	var out storage.Credential
	err := s.withTx(ctx, func(tx *Store) error {
		old, err := scanCredential(tx.q.QueryRowContext(ctx, selectCredential+tx.forUpdate(), id))
		if err != nil {
			return fmt.Errorf("sqlstore: update credential %q: %w", id, err)
		}
		c, err := fn(old)
		if err != nil {
			return err
		}
		if c.ID != old.ID || c.AccountID != old.AccountID || c.Kind != old.Kind {
			return errors.New("sqlstore: update credential: the update changed its ID, account or kind")
		}
		if _, err := tx.exec(ctx, updateCredential, credentialArgs(c)...); err != nil {
			return fmt.Errorf("sqlstore: update credential %q: %w", id, err)
		}
		c.CreatedAt, c.LastUsedAt = roundTrip(c.CreatedAt), roundTrip(c.LastUsedAt)
		c.Secret, c.Data = nonNil(c.Secret), nonNil(c.Data)
		out = c
		return nil
	})
	if err != nil {
		return storage.Credential{}, err
	}
	return out, nil
}

func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// DeleteCredential removes one credential.
func (s *Store) DeleteCredential(ctx context.Context, id string) error {
	n, err := s.exec(ctx, deleteCredential, id)
	if err != nil {
		return fmt.Errorf("sqlstore: delete credential %q: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("sqlstore: delete credential %q: %w", id, storage.ErrNotFound)
	}
	return nil
}

// DeleteCredentials removes an account's credentials of one kind, or all.
func (s *Store) DeleteCredentials(ctx context.Context, accountID, kind string) (int, error) {
	var (
		n   int64
		err error
	)
	if kind == "" {
		n, err = s.exec(ctx, deleteAllCredentials, accountID)
	} else {
		n, err = s.exec(ctx, deleteCredentialsOfKind, accountID, kind)
	}
	if err != nil {
		return 0, fmt.Errorf("sqlstore: delete credentials of account %q: %w", accountID, err)
	}
	return int(n), nil
}

// dbFactors and goFactors store a session's factors as a JSON list.
func dbFactors(f []storage.AuthFactor) string {
	if len(f) == 0 {
		return "[]"
	}
	out := make([]storage.AuthFactor, len(f))
	for i, x := range f {
		out[i] = storage.AuthFactor{Method: x.Method, At: roundTrip(x.At), AMR: x.AMR}
	}
	b, _ := json.Marshal(out)
	return string(b)
}

func goFactors(s string) ([]storage.AuthFactor, error) {
	var f []storage.AuthFactor
	if err := json.Unmarshal([]byte(s), &f); err != nil {
		return nil, fmt.Errorf("session factors: %w", err)
	}
	if len(f) == 0 {
		return nil, nil
	}
	for i := range f {
		f[i].At = roundTrip(f[i].At)
	}
	return f, nil
}
