package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/portti/portti/internal/storage"
)

// accountColumns lists the columns in the order of accountArgs and
// scanAccount; $1 is always the ID.
const accountColumns = `id, email, given_name, family_name, phone_number,
	street_address, postal_code, locality, locale,
	password_hash, password_changed_at, activated_at, disabled,
	failed_logins, locked_until, terms_version, terms_accepted_at,
	pending_email, created_at, updated_at`

const (
	insertAccount = `INSERT INTO accounts (` + accountColumns + `)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10,
		$11, $12, $13, $14, $15, $16, $17, $18, $19, $20)`

	updateAccount = `UPDATE accounts SET email = $2, given_name = $3,
	family_name = $4, phone_number = $5, street_address = $6,
	postal_code = $7, locality = $8, locale = $9, password_hash = $10,
	password_changed_at = $11, activated_at = $12, disabled = $13,
	failed_logins = $14, locked_until = $15, terms_version = $16,
	terms_accepted_at = $17, pending_email = $18, created_at = $19,
	updated_at = $20
	WHERE id = $1`

	selectAccountByID    = `SELECT ` + accountColumns + ` FROM accounts WHERE id = $1`
	selectAccountByEmail = `SELECT ` + accountColumns + ` FROM accounts WHERE email = $1`

	// A prefix match as a range, email >= prefix AND email < the first
	// string after all strings with that prefix. Unlike LIKE, it is
	// case-sensitive on both backends (SQLite's LIKE ignores ASCII case,
	// PostgreSQL's does not), needs no escaping of % and _, and uses the
	// index on email. See prefixEnd.
	listAccountsRange = `SELECT ` + accountColumns + ` FROM accounts
	WHERE email >= $1 AND email < $2 ORDER BY email LIMIT $3`
	listAccountsFrom = `SELECT ` + accountColumns + ` FROM accounts
	WHERE email >= $1 ORDER BY email LIMIT $2`
)

func accountArgs(a storage.Account) []any {
	return []any{
		a.ID, a.Email, a.GivenName, a.FamilyName, a.PhoneNumber,
		a.StreetAddress, a.PostalCode, a.Locality, a.Locale,
		a.PasswordHash, dbTime(a.PasswordChangedAt), dbTime(a.ActivatedAt), dbBool(a.Disabled),
		a.FailedLogins, dbTime(a.LockedUntil), a.TermsVersion, dbTime(a.TermsAcceptedAt),
		a.PendingEmail, dbTime(a.CreatedAt), dbTime(a.UpdatedAt),
	}
}

func scanAccount(r scanner) (storage.Account, error) {
	var as accountScan
	if err := r.Scan(as.dest()...); err != nil {
		return storage.Account{}, classify(err)
	}
	return as.account(), nil
}

// accountScan holds the destinations of one row's accountColumns, so that
// a query joining accounts to another table can scan both at once.
type accountScan struct {
	a                                      storage.Account
	pwChanged, activated, disabled, locked int64
	termsAccepted, created, updated        int64
}

func (as *accountScan) dest() []any {
	a := &as.a
	return []any{
		&a.ID, &a.Email, &a.GivenName, &a.FamilyName, &a.PhoneNumber,
		&a.StreetAddress, &a.PostalCode, &a.Locality, &a.Locale,
		&a.PasswordHash, &as.pwChanged, &as.activated, &as.disabled,
		&a.FailedLogins, &as.locked, &a.TermsVersion, &as.termsAccepted,
		&a.PendingEmail, &as.created, &as.updated,
	}
}

func (as *accountScan) account() storage.Account {
	a := as.a
	a.PasswordChangedAt = goTime(as.pwChanged)
	a.ActivatedAt = goTime(as.activated)
	a.Disabled = as.disabled != 0
	a.LockedUntil = goTime(as.locked)
	a.TermsAcceptedAt = goTime(as.termsAccepted)
	a.CreatedAt = goTime(as.created)
	a.UpdatedAt = goTime(as.updated)
	return a
}

// roundTripAccount returns a as GetAccount would return it once stored.
func roundTripAccount(a storage.Account) storage.Account {
	a.PasswordChangedAt = roundTrip(a.PasswordChangedAt)
	a.ActivatedAt = roundTrip(a.ActivatedAt)
	a.LockedUntil = roundTrip(a.LockedUntil)
	a.TermsAcceptedAt = roundTrip(a.TermsAcceptedAt)
	a.CreatedAt = roundTrip(a.CreatedAt)
	a.UpdatedAt = roundTrip(a.UpdatedAt)
	return a
}

// CreateAccount stores a new account. ErrConflict when the ID or the e-mail
// address is taken.
func (s *Store) CreateAccount(ctx context.Context, a storage.Account) error {
	if _, err := s.exec(ctx, insertAccount, accountArgs(a)...); err != nil {
		return fmt.Errorf("sqlstore: create account %q: %w", a.ID, err)
	}
	return nil
}

// GetAccount returns the account with the given ID.
func (s *Store) GetAccount(ctx context.Context, id string) (storage.Account, error) {
	a, err := scanAccount(s.q.QueryRowContext(ctx, selectAccountByID, id))
	if err != nil {
		return storage.Account{}, fmt.Errorf("sqlstore: get account %q: %w", id, err)
	}
	return a, nil
}

// GetAccountByEmail returns the account whose login name is email, compared
// exactly: callers pass the normalised form.
func (s *Store) GetAccountByEmail(ctx context.Context, email string) (storage.Account, error) {
	a, err := scanAccount(s.q.QueryRowContext(ctx, selectAccountByEmail, email))
	if err != nil {
		// The address is personal data; keep it out of error messages.
		return storage.Account{}, fmt.Errorf("sqlstore: get account by e-mail: %w", err)
	}
	return a, nil
}

// UpdateAccount reads, changes and writes an account in one transaction.
// fn must not change the ID.
func (s *Store) UpdateAccount(ctx context.Context, id string, fn func(storage.Account) (storage.Account, error)) (storage.Account, error) {
	var out storage.Account
	err := s.withTx(ctx, func(tx *Store) error {
		old, err := scanAccount(tx.q.QueryRowContext(ctx, selectAccountByID+tx.forUpdate(), id))
		if err != nil {
			return fmt.Errorf("sqlstore: update account %q: %w", id, err)
		}
		a, err := fn(old)
		if err != nil {
			return err
		}
		if a.ID != old.ID {
			return fmt.Errorf("sqlstore: update account %q: the update changed the ID", id)
		}
		if _, err := tx.exec(ctx, updateAccount, accountArgs(a)...); err != nil {
			return fmt.Errorf("sqlstore: update account %q: %w", id, err)
		}
		out = roundTripAccount(a)
		return nil
	})
	if err != nil {
		return storage.Account{}, err
	}
	return out, nil
}

// ListAccounts returns accounts in e-mail order, those whose address starts
// with f.EmailPrefix (case-sensitively), at most f.Limit (default 100).
func (s *Store) ListAccounts(ctx context.Context, f storage.AccountFilter) ([]storage.Account, error) {
	if !utf8.ValidString(f.EmailPrefix) {
		return nil, errors.New("sqlstore: list accounts: the e-mail prefix is not valid UTF-8")
	}
	limit := limitOrDefault(f.Limit)
	var (
		out []storage.Account
		err error
	)
	if end, ok := prefixEnd(f.EmailPrefix); ok {
		out, err = queryAll(ctx, s.q, scanAccount, listAccountsRange, f.EmailPrefix, end, limit)
	} else {
		out, err = queryAll(ctx, s.q, scanAccount, listAccountsFrom, f.EmailPrefix, limit)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list accounts: %w", err)
	}
	return out, nil
}

// prefixEnd returns the least string that is greater than every string
// starting with prefix, in code point order (which is the byte order of
// UTF-8, the order of both SQLite's BINARY and PostgreSQL's "C" collation):
// prefix with its last code point incremented, after dropping trailing
// code points that cannot be. ok is false when there is no such string (an
// empty prefix, or one of U+10FFFF only): then every string >= prefix
// starts with prefix.
func prefixEnd(prefix string) (end string, ok bool) {
	runes := []rune(prefix)
	for i := len(runes) - 1; i >= 0; i-- {
		r := runes[i]
		if r >= utf8.MaxRune {
			continue
		}
		r++
		if r >= 0xD800 && r <= 0xDFFF { // surrogates are not valid in UTF-8
			r = 0xE000
		}
		runes[i] = r
		return string(runes[:i+1]), true
	}
	return "", false
}
