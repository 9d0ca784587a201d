package oidc

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/portti/portti/internal/storage"
)

// loggedOutPath is where a sign-out without a post_logout_redirect_uri
// ends: portti's login page saying "you have logged out".
const loggedOutPath = "/login?notice=logged_out"

// serveEndSession is RP-initiated logout (OpenID Connect RP-Initiated
// Logout 1.0):
//
//   - With a valid id_token_hint (GET or POST, sent by the application)
//     the browser session the token was issued in (its "sid") ends at
//     once; an expired hint still names the session.
//   - Without one, the person is asked, "Sign out of portti?", on a page
//     whose button POSTs back here with confirm=1 and ends every session
//     of this browser. A GET never signs anyone out: any website could
//     link here.
//
// Ending a session revokes its refresh tokens and sends a back-channel
// logout token to every application used in it that has a back-channel
// logout URI (backchannel.go). With a post_logout_redirect_uri registered
// for the client (exactly: any other is an error page, never a redirect)
// the browser always goes back there with 303 See Other and the state
// unchanged, whoever else was told (see loggedOut). Without one, the
// logged-out page lists the applications told — which confirmed, which
// will be told when they can be reached — or, when there were none, the
// login page says "you have logged out".
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
	confirmed := r.Method == http.MethodPost && r.PostForm.Get("confirm") != ""
	if confirmed {
		if err := crossOrigin.Check(r); err != nil {
			p.fail(w, r, problemCrossOrigin)
			return
		}
	}
	var claims *oidc.IDTokenClaims
	if hint := r.Form.Get("id_token_hint"); hint != "" && !confirmed {
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
	var c *client
	if clientID != "" {
		var err error
		c, err = p.clients.get(ctx, clientID)
		switch {
		case errors.Is(err, errUnknownClient):
			c = nil
		case err != nil:
			p.failInternal(w, r, err)
			return
		}
	}
	plr := r.Form.Get("post_logout_redirect_uri")
	redirect := ""
	if plr != "" {
		if c == nil {
			p.fail(w, r, problemLogout)
			return
		}
		if !slices.Contains(c.rec.PostLogoutRedirectURIs, plr) {
			p.fail(w, r, problemRedirectURI) // shown, never followed
			return
		}
		redirect = withState(plr, r.Form.Get("state"))
	}

	switch {
	case claims != nil:
		apps, err := p.endSession(ctx, w, r, claims.Subject, claims.SessionID)
		if err != nil {
			p.failInternal(w, r, err)
			return
		}
		p.loggedOut(w, r, apps, redirect)
	case !confirmed:
		p.confirmLogout(w, r, c, redirect)
	default:
		apps, err := p.endBrowserSessions(ctx, w, r)
		if err != nil {
			p.failInternal(w, r, err)
			return
		}
		p.loggedOut(w, r, apps, redirect)
	}
}

// confirmLogout asks "Sign out of portti?" for the accounts signed in in
// this browser. With nobody signed in there is nothing to ask.
func (p *Provider) confirmLogout(w http.ResponseWriter, r *http.Request, c *client, redirect string) {
	ctx := r.Context()
	all, err := p.cfg.Sessions.Sessions(ctx, r)
	if err != nil {
		p.failInternal(w, r, err)
		return
	}
	var accounts []chooserAccount
	for _, se := range all {
		if acct, err := p.store.GetAccount(ctx, se.AccountID); err == nil {
			accounts = append(accounts, accountOf(acct))
		}
	}
	if len(accounts) == 0 {
		p.loggedOut(w, r, nil, redirect)
		return
	}
	app, clientID := "", ""
	if c != nil {
		app, clientID = c.displayName(), c.rec.ID
	}
	f := r.Form
	p.page(w, r, http.StatusOK, "logout", "logout.title", map[string]any{
		"App":                   app,
		"Accounts":              accounts,
		"Action":                p.basePath + PathEndSession,
		"ClientID":              clientID,
		"PostLogoutRedirectURI": f.Get("post_logout_redirect_uri"),
		"State":                 f.Get("state"),
	})
}

// loggedOut ends an RP-initiated logout. With a validated return address
// the browser goes there, 303 See Other, always: RP-Initiated Logout 1.0
// (section 3, and the working group's 2022 reading that a validated
// post_logout_redirect_uri is always honoured) leaves the application in
// charge of what the person sees next. The applications of the session
// are told first, as the logged-out page would have told them: the
// redirect waits for their answers up to Config.LogoutWait, so that in
// the usual case every application has ended its session before the
// browser arrives anywhere; those that did not answer are the worker's,
// durably, as before. Without a return address, the page listing the
// applications told, or the login page saying "you have logged out" when
// there were none.
func (p *Provider) loggedOut(w http.ResponseWriter, r *http.Request, apps []loggedOutApp, redirect string) {
	p.deliverNow(r.Context(), apps)
	if redirect != "" {
		http.Redirect(w, r, redirect, http.StatusSeeOther)
		return
	}
	if len(apps) == 0 {
		code := http.StatusFound
		if r.Method == http.MethodPost {
			code = http.StatusSeeOther
		}
		http.Redirect(w, r, p.basePath+loggedOutPath, code)
		return
	}
	p.page(w, r, http.StatusOK, "logged_out", "logged_out.title", map[string]any{
		"Apps":     apps,
		"LoginURL": p.basePath + "/login",
		// The language switcher must not replay the logout (its URL
		// holds the id_token).
		"Path": p.basePath + loggedOutPath,
	})
}

// withState returns the registered post_logout_redirect_uri with the
// application's state added as a query parameter, its value unchanged
// (RP-Initiated Logout 1.0, section 3). The registered URI is kept as it
// is, its own query included: only "state" is appended.
func withState(uri, state string) string {
	if state == "" {
		return uri
	}
	sep := "?"
	if strings.Contains(uri, "?") {
		sep = "&"
	}
	return uri + sep + "state=" + url.QueryEscape(state)
}

// endSession ends the session of account sub whose derived sid is sid,
// and the applications' sessions with it. When this browser holds it,
// its cookie goes too; otherwise (a logout posted cross-site arrives
// without portti's SameSite=Lax cookies) only the stored session ends,
// which is what counts.
func (p *Provider) endSession(ctx context.Context, w http.ResponseWriter, r *http.Request, sub, sid string) ([]loggedOutApp, error) {
	if sub == "" || sid == "" {
		return nil, nil
	}
	sessions, err := p.store.ListSessions(ctx, sub)
	if err != nil {
		return nil, fmt.Errorf("end session: %w", err)
	}
	for _, se := range sessions {
		if SessionSID(se.ID) != sid {
			continue
		}
		inBrowser, err := p.cfg.Sessions.Sessions(ctx, r)
		if err != nil {
			return nil, fmt.Errorf("end session: %w", err)
		}
		if slices.ContainsFunc(inBrowser, func(s storage.Session) bool { return s.ID == se.ID }) {
			if err := p.cfg.Sessions.End(ctx, w, r, se.ID); err != nil {
				return nil, err
			}
		} else if err := p.store.DeleteSession(ctx, se.ID); err != nil && !errors.Is(err, storage.ErrNotFound) {
			return nil, fmt.Errorf("end session: %w", err)
		}
		p.log.InfoContext(ctx, "oidc: session ended by the application", "account_id", sub)
		return p.endSessionClients(ctx, se.ID, true, true)
	}
	return nil, nil
}

// endBrowserSessions ends every session of this browser (the confirmed
// logout without a hint).
func (p *Provider) endBrowserSessions(ctx context.Context, w http.ResponseWriter, r *http.Request) ([]loggedOutApp, error) {
	all, err := p.cfg.Sessions.Sessions(ctx, r)
	if err != nil {
		return nil, err
	}
	if err := p.cfg.Sessions.EndAll(ctx, w, r); err != nil {
		return nil, err
	}
	var apps []loggedOutApp
	for _, se := range all {
		p.log.InfoContext(ctx, "oidc: signed out on the logout page", "account_id", se.AccountID)
		more, err := p.endSessionClients(ctx, se.ID, true, true)
		if err != nil {
			// The session has ended; its applications are not told.
			p.log.ErrorContext(ctx, "oidc: back-channel logout not queued", "account_id", se.AccountID, "error", err)
			continue
		}
		apps = append(apps, more...)
	}
	return apps, nil
}
