package sqlstore

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/portti/portti/internal/storage"
)

// appAccessRows: one row per thing that lets a client in for an account
// (a consent, a live refresh token, a live browser sign-in), folded
// together per client in Go. The same text runs on SQLite and PostgreSQL.
const appAccessRows = `SELECT 'c', client_id, granted_at, scopes FROM consents WHERE account_id = $1
	UNION ALL
	SELECT 'r', client_id, created_at, '' FROM refresh_tokens
		WHERE account_id = $1 AND revoked_at = 0 AND expires_at > $2
	UNION ALL
	SELECT 's', sc.client_id, sc.created_at, '' FROM session_clients sc
		JOIN sessions s ON s.id = sc.session_id
		WHERE sc.account_id = $1 AND s.expires_at > $2`

// ListAppAccess implements storage.AppStorage.
func (s *Store) ListAppAccess(ctx context.Context, accountID string, now time.Time) ([]storage.AppAccess, error) {
	type row struct {
		kind, clientID, scopes string
		at                     int64
	}
	rows, err := queryAll(ctx, s.q, func(r scanner) (row, error) {
		var x row
		return x, r.Scan(&x.kind, &x.clientID, &x.at, &x.scopes)
	}, appAccessRows, accountID, dbTime(now))
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list app access of %q: %w", accountID, classify(err))
	}
	byClient := map[string]*storage.AppAccess{}
	for _, x := range rows {
		a := byClient[x.clientID]
		if a == nil {
			a = &storage.AppAccess{ClientID: x.clientID}
			byClient[x.clientID] = a
		}
		at := goTime(x.at)
		switch x.kind {
		case "c":
			var d listDecoder
			a.Scopes, a.Consented = d.list(x.scopes), at
			if d.err != nil {
				return nil, d.err
			}
		case "r":
			a.Offline = true
			fallthrough
		default:
			if at.After(a.LastUsed) {
				a.LastUsed = at
			}
		}
	}
	out := make([]storage.AppAccess, 0, len(byClient))
	for _, a := range byClient {
		c, err := s.GetClient(ctx, a.ClientID)
		if err != nil {
			return nil, err
		}
		a.ClientName = c.Name
		out = append(out, *a)
	}
	slices.SortFunc(out, func(a, b storage.AppAccess) int {
		return cmp.Or(cmp.Compare(a.ClientName, b.ClientName), cmp.Compare(a.ClientID, b.ClientID))
	})
	return out, nil
}

const (
	removeAppConsent       = `DELETE FROM consents WHERE account_id = $1 AND client_id = $2`
	removeAppRefreshTokens = `UPDATE refresh_tokens SET revoked_at = $3
		WHERE account_id = $1 AND client_id = $2 AND revoked_at = 0`
	removeAppAccessTokens = `UPDATE access_tokens SET revoked_at = $3
		WHERE account_id = $1 AND client_id = $2 AND revoked_at = 0`
	removeAppSessionClients = `DELETE FROM session_clients WHERE account_id = $1 AND client_id = $2
		RETURNING session_id`
)

// RemoveAppAccess implements storage.AppStorage.
func (s *Store) RemoveAppAccess(ctx context.Context, accountID, clientID string, at time.Time) (storage.AppAccessRemoved, error) {
	var out storage.AppAccessRemoved
	err := s.withTx(ctx, func(tx *Store) error {
		out = storage.AppAccessRemoved{}
		n, err := tx.exec(ctx, removeAppConsent, accountID, clientID)
		if err != nil {
			return err
		}
		out.Consent = n > 0
		if n, err = tx.exec(ctx, removeAppRefreshTokens, accountID, clientID, dbTime(at)); err != nil {
			return err
		}
		out.RefreshTokens = int(n)
		if n, err = tx.exec(ctx, removeAppAccessTokens, accountID, clientID, dbTime(at)); err != nil {
			return err
		}
		out.AccessTokens = int(n)
		return tx.write(ctx, func(q querier) error {
			ids, err := queryAll(ctx, q, func(r scanner) (string, error) {
				var id string
				return id, r.Scan(&id)
			}, removeAppSessionClients, accountID, clientID)
			out.SessionIDs = ids
			return err
		})
	})
	if err != nil {
		return storage.AppAccessRemoved{}, fmt.Errorf("sqlstore: remove access of client %q for %q: %w", clientID, accountID, classify(err))
	}
	slices.Sort(out.SessionIDs)
	return out, nil
}
