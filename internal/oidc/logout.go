package oidc

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/portti/portti/internal/storage"
)

// loggedOutPath is where a sign-out without a post_logout_redirect_uri
// ends: portti's login page saying "you have logged out".
const loggedOutPath = "/login?notice=logged_out"

// serveEndSession is RP-initiated logout (OpenID Connect RP-Initiated
// Logout 1.0), in its first form: with a valid id_token_hint it ends the
// browser session the token was issued in (its "sid") and returns to the
// client's post_logout_redirect_uri, which must be registered exactly.
//
// TODO(issue 3): the logout page — confirm when there is no id_token_hint
// (now: the account page, where the person can sign out), send
// back-channel logout tokens to every client in ListSessionClients of the
// ended session (EnqueueLogout, retried), list which confirmed, and decide
// whether the session's refresh tokens go too (RevokeSessionTokens).
func (p *Provider) serveEndSession(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if err := r.ParseForm(); err != nil {
		p.fail(w, r, problemLogout)
		return
	}
	ctx := r.Context()
	var claims *oidc.IDTokenClaims
	if hint := r.Form.Get("id_token_hint"); hint != "" {
		c, err := op.VerifyIDTokenHint[*oidc.IDTokenClaims](ctx, hint, p.op.IDTokenHintVerifier(ctx))
		// An expired id_token is the usual hint: the person signed in
		// hours ago. It still proves which session the client means.
		if err != nil && !errors.As(err, &op.IDTokenHintExpiredError{}) {
			p.fail(w, r, problemLogout)
			return
		}
		claims = c
	}
	clientID := r.Form.Get("client_id")
	if claims != nil {
		azp := claims.AuthorizedParty
		if azp == "" && len(claims.Audience) == 1 {
			azp = claims.Audience[0]
		}
		if clientID != "" && clientID != azp {
			p.fail(w, r, problemLogout)
			return
		}
		clientID = azp
	}
	redirect := p.basePath + loggedOutPath
	if plr := r.Form.Get("post_logout_redirect_uri"); plr != "" {
		c, err := p.clients.get(ctx, clientID)
		if err != nil {
			p.fail(w, r, problemLogout)
			return
		}
		if !slices.Contains(c.rec.PostLogoutRedirectURIs, plr) {
			p.fail(w, r, problemRedirectURI) // shown, never followed
			return
		}
		redirect = plr
		if state := r.Form.Get("state"); state != "" {
			u, err := url.Parse(plr)
			if err != nil {
				p.fail(w, r, problemLogout)
				return
			}
			q := u.Query()
			q.Set("state", state)
			u.RawQuery = q.Encode()
			redirect = u.String()
		}
	}
	if claims == nil {
		http.Redirect(w, r, p.basePath+"/account", http.StatusFound)
		return
	}
	if err := p.endSession(ctx, w, r, claims.Subject, claims.SessionID); err != nil {
		p.failInternal(w, r, err)
		return
	}
	http.Redirect(w, r, redirect, http.StatusFound)
}

// endSession ends the session of account sub whose derived sid is sid.
// When this browser holds it, its cookie goes too; otherwise (a logout
// posted cross-site arrives without portti's SameSite=Lax cookies) only
// the stored session ends, which is what counts.
func (p *Provider) endSession(ctx context.Context, w http.ResponseWriter, r *http.Request, sub, sid string) error {
	if sub == "" || sid == "" {
		return nil
	}
	sessions, err := p.store.ListSessions(ctx, sub)
	if err != nil {
		return fmt.Errorf("end session: %w", err)
	}
	for _, se := range sessions {
		if SessionSID(se.ID) != sid {
			continue
		}
		inBrowser, err := p.cfg.Sessions.Sessions(ctx, r)
		if err != nil {
			return fmt.Errorf("end session: %w", err)
		}
		if slices.ContainsFunc(inBrowser, func(s storage.Session) bool { return s.ID == se.ID }) {
			return p.cfg.Sessions.End(ctx, w, r, se.ID)
		}
		if err := p.store.DeleteSession(ctx, se.ID); err != nil && !errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("end session: %w", err)
		}
		return nil
	}
	return nil
}
