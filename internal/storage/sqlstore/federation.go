package sqlstore

import (
	"context"
	"fmt"

	"github.com/portti/portti/internal/storage"
)

// Upstream identity links (storage.FederationStorage). Error messages name
// a link by its provider and account, never by the upstream subject.

const (
	federatedLinkColumns = `provider, subject, account_id, linked_by, linked_at`
	insertFederatedLink  = `INSERT INTO federated_links (` + federatedLinkColumns + `) VALUES ($1, $2, $3, $4, $5)`
	selectFederatedLink  = `SELECT ` + federatedLinkColumns + ` FROM federated_links WHERE provider = $1 AND subject = $2`
	listFederatedLinks   = `SELECT ` + federatedLinkColumns + ` FROM federated_links WHERE account_id = $1
	ORDER BY linked_at, provider, subject`
	deleteFederatedLink = `DELETE FROM federated_links WHERE account_id = $1 AND provider = $2 AND subject = $3`
)

func scanFederatedLink(r scanner) (storage.FederatedLink, error) {
	var (
		l  storage.FederatedLink
		at int64
	)
	if err := r.Scan(&l.Provider, &l.Subject, &l.AccountID, &l.LinkedBy, &at); err != nil {
		return storage.FederatedLink{}, classify(err)
	}
	l.LinkedAt = goTime(at)
	return l, nil
}

// CreateFederatedLink implements storage.FederationStorage.
func (s *Store) CreateFederatedLink(ctx context.Context, l storage.FederatedLink) error {
	if l.Provider == "" || l.Subject == "" || l.AccountID == "" {
		return fmt.Errorf("sqlstore: create federated link: provider, subject and account are required")
	}
	if _, err := s.exec(ctx, insertFederatedLink, l.Provider, l.Subject, l.AccountID, l.LinkedBy, dbTime(l.LinkedAt)); err != nil {
		return fmt.Errorf("sqlstore: link account %q to provider %q: %w", l.AccountID, l.Provider, err)
	}
	return nil
}

// GetFederatedLink implements storage.FederationStorage.
func (s *Store) GetFederatedLink(ctx context.Context, provider, subject string) (storage.FederatedLink, error) {
	l, err := scanFederatedLink(s.q.QueryRowContext(ctx, selectFederatedLink, provider, subject))
	if err != nil {
		return l, fmt.Errorf("sqlstore: federated link at provider %q: %w", provider, err)
	}
	return l, nil
}

// ListFederatedLinks implements storage.FederationStorage.
func (s *Store) ListFederatedLinks(ctx context.Context, accountID string) ([]storage.FederatedLink, error) {
	out, err := queryAll(ctx, s.q, scanFederatedLink, listFederatedLinks, accountID)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: federated links of account %q: %w", accountID, err)
	}
	return out, nil
}

// DeleteFederatedLink implements storage.FederationStorage.
func (s *Store) DeleteFederatedLink(ctx context.Context, accountID, provider, subject string) error {
	n, err := s.exec(ctx, deleteFederatedLink, accountID, provider, subject)
	if err != nil {
		return fmt.Errorf("sqlstore: unlink account %q from provider %q: %w", accountID, provider, err)
	}
	if n == 0 {
		return fmt.Errorf("sqlstore: unlink account %q from provider %q: %w", accountID, provider, storage.ErrNotFound)
	}
	return nil
}
