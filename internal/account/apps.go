package account

import (
	"context"
	"errors"
	"fmt"

	"github.com/portti/portti/internal/audit"
	"github.com/portti/portti/internal/storage"
)

// ErrNoAppAccess: the application holds nothing of the account's (never
// let in, or removed already).
var ErrNoAppAccess = errors.New("the application has no access to the account")

// Apps lists the applications the account has let in (consented to,
// holding its refresh tokens, or signed in to from a live browser).
func (s *Service) Apps(ctx context.Context, accountID string) ([]storage.AppAccess, error) {
	apps, err := s.cfg.Store.ListAppAccess(ctx, accountID, s.now())
	if err != nil {
		return nil, fmt.Errorf("apps: %w", err)
	}
	return apps, nil
}

// RemoveAppAccess withdraws what the application clientID holds for the
// account: its consent (it asks again next time), every refresh and access
// token (revoked at once, so introspection and userinfo refuse them), and
// the browsers' sign-ins to it (returned, so the caller can tell the
// application by back-channel logout). The removal is audited.
// ErrNoAppAccess when the application held nothing, which also keeps a
// person from learning anything about clients they never used.
func (s *Service) RemoveAppAccess(ctx context.Context, accountID, clientID string, m Meta) (storage.AppAccessRemoved, error) {
	r, err := s.cfg.Store.RemoveAppAccess(ctx, accountID, clientID, s.now())
	if err != nil {
		return r, fmt.Errorf("remove app access: %w", err)
	}
	if !r.Consent && r.RefreshTokens == 0 && r.AccessTokens == 0 && len(r.SessionIDs) == 0 {
		return r, ErrNoAppAccess
	}
	s.event(ctx, nil, m, storage.Event{Kind: audit.AppAccessRemoved, AccountID: accountID,
		Reason: fmt.Sprintf("client %s: consent %t, %d refresh tokens, %d access tokens, %d browser sign-ins",
			clientID, r.Consent, r.RefreshTokens, r.AccessTokens, len(r.SessionIDs))})
	return r, nil
}
