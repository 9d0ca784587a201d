package sqlstore

import (
	"context"
	"fmt"
)

// The lifecycle of provisioned accounts (storage.LifecycleStorage).

const pseudonymiseEvents = `UPDATE events SET email = '', client_ip = '', user_agent = ''
	WHERE account_id = $1 AND (email <> '' OR client_ip <> '' OR user_agent <> '')`

// PseudonymiseEvents implements storage.LifecycleStorage.
func (s *Store) PseudonymiseEvents(ctx context.Context, accountID string) (int, error) {
	if accountID == "" {
		return 0, nil // events without an account are nobody's to strip
	}
	n, err := s.exec(ctx, pseudonymiseEvents, accountID)
	if err != nil {
		return 0, fmt.Errorf("sqlstore: pseudonymise events: %w", err)
	}
	return int(n), nil
}
