package sqlstore

import (
	"context"
	"fmt"

	"github.com/portti/portti/internal/storage"
)

const (
	consentColumns = `account_id, client_id, scopes, granted_at`

	// One statement: concurrent puts for one pair never conflict; the
	// last one wins.
	putConsent = `INSERT INTO consents (` + consentColumns + `)
	VALUES ($1, $2, $3, $4)
	ON CONFLICT (account_id, client_id) DO UPDATE SET
		scopes = excluded.scopes, granted_at = excluded.granted_at`
	selectConsent = `SELECT ` + consentColumns + ` FROM consents
	WHERE account_id = $1 AND client_id = $2`
)

func scanConsent(r scanner) (storage.Consent, error) {
	var (
		c       storage.Consent
		scopes  string
		granted int64
	)
	if err := r.Scan(&c.AccountID, &c.ClientID, &scopes, &granted); err != nil {
		return storage.Consent{}, classify(err)
	}
	var d listDecoder
	c.Scopes = d.list(scopes)
	if d.err != nil {
		return storage.Consent{}, d.err
	}
	c.GrantedAt = goTime(granted)
	return c, nil
}

// PutConsent stores the account's consent to the client, replacing any
// earlier one (its scopes are not merged: c is the whole consent).
// ErrNotFound when the account or the client does not exist.
func (s *Store) PutConsent(ctx context.Context, c storage.Consent) error {
	_, err := s.exec(ctx, putConsent, c.AccountID, c.ClientID, dbList(c.Scopes), dbTime(c.GrantedAt))
	if err != nil {
		return fmt.Errorf("sqlstore: put consent of account %q to client %q: %w", c.AccountID, c.ClientID, err)
	}
	return nil
}

// GetConsent returns the account's consent to the client.
func (s *Store) GetConsent(ctx context.Context, accountID, clientID string) (storage.Consent, error) {
	c, err := scanConsent(s.q.QueryRowContext(ctx, selectConsent, accountID, clientID))
	if err != nil {
		return storage.Consent{}, fmt.Errorf("sqlstore: get consent of account %q to client %q: %w", accountID, clientID, err)
	}
	return c, nil
}
