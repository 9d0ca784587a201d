package oidc

import (
	"context"
	"errors"
	"fmt"
	"net/url"

	"github.com/portti/portti/internal/storage"
)

// AccessRemoved tells application clientID, by back-channel logout, that
// the person accountID removed its access on the account page: one logout
// token for each browser session that had signed in to it (whose records
// the removal took). The tokens were revoked already; this ends the
// application's own sessions too. A client without a back-channel logout
// URI, or one removed since, is told nothing.
func (p *Provider) AccessRemoved(ctx context.Context, accountID, clientID string, sessionIDs []string) error {
	if len(sessionIDs) == 0 {
		return nil
	}
	c, err := p.clients.get(ctx, clientID)
	if errors.Is(err, errUnknownClient) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("access removed: %w", err)
	}
	if c.rec.BackchannelLogoutURI == "" {
		return nil
	}
	now := p.now()
	for _, sid := range sessionIDs {
		token, err := p.logoutToken(ctx, c, accountID, sid, now)
		if err != nil {
			return fmt.Errorf("access removed: logout token: %w", err)
		}
		_, err = p.store.EnqueueLogout(ctx, storage.LogoutDelivery{
			ClientID: clientID, URI: c.rec.BackchannelLogoutURI, Token: token, CreatedAt: now, NextAttemptAt: now,
		})
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("access removed: %w", err)
		}
	}
	p.WakeLogoutWorker()
	return nil
}

// ReturnApp names the application a login form will return to, for the
// login page's "Sign in to continue to …": path is the form's return
// address, the continuation of a pending authorization request. It reads
// the request by its ID, so only a real request names an application (a
// crafted link cannot make the page name anything). "" when path is not
// such a continuation or the request is gone.
func (p *Provider) ReturnApp(ctx context.Context, path string) string {
	u, err := url.Parse(path)
	if err != nil || u.Path != p.basePath+PathContinue {
		return ""
	}
	a, err := p.authRequest(ctx, u.Query().Get("id"))
	if err != nil {
		return ""
	}
	c, err := p.clients.get(ctx, a.rec.ClientID)
	if err != nil {
		return ""
	}
	return c.displayName()
}
