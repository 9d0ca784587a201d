package oidc

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/portti/portti/internal/account"
	"github.com/portti/portti/internal/storage"
)

// The sign-in, as the browser sees it:
//
//	GET  /oauth2/authorize?client_id=…          checked, stored (zitadel + server.Authorize)
//	302  /oauth2/authorize/continue?id=ID        serveContinue → authenticate
//	302  /login?return=/oauth2/authorize/continue%3Fid%3DID&email=…
//	                                             portti's login form, when nobody suitable is signed in
//	POST /login → 303 back to /oauth2/authorize/continue?id=ID
//	302  /oauth2/authorize/callback?id=ID        serveCallback: issues the code (zitadel)
//	302  https://app.example.org/cb?code=…&state=…
//
// The web package knows nothing of this: its login form only follows the
// "return" path it is given.

// serveAuthorize checks what decides where errors may be sent — the client
// and its redirect_uri — and shows a page when they are wrong: an error
// is redirected to the client only once the redirect_uri is known to be
// the client's own (RFC 6749 4.1.2.1). Then zitadel validates the rest.
func (p *Provider) serveAuthorize(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if err := r.ParseForm(); err != nil {
		p.fail(w, r, problemBadRequest)
		return
	}
	c, err := p.clients.get(r.Context(), r.Form.Get("client_id"))
	switch {
	case errors.Is(err, errUnknownClient):
		p.fail(w, r, problemUnknownClient)
		return
	case err != nil:
		p.failInternal(w, r, err)
		return
	}
	if !slices.Contains(c.rec.RedirectURIs, r.Form.Get("redirect_uri")) {
		p.fail(w, r, problemRedirectURI)
		return
	}
	p.protocol().ServeHTTP(w, r)
}

// serveContinue is where the authorize endpoint sends the browser, and
// where portti's login form returns to after a sign-in.
func (p *Provider) serveContinue(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	a, err := p.authRequest(ctx, r.URL.Query().Get("id"))
	switch {
	case errors.Is(err, errRequestGone):
		p.fail(w, r, problemExpired)
		return
	case err != nil:
		p.failInternal(w, r, err)
		return
	}
	if a.rec.CodeHash != "" {
		// Finished already (the back button): the code went to the
		// application once and is not issued again.
		p.fail(w, r, problemExpired)
		return
	}
	c, err := p.clients.get(ctx, a.rec.ClientID)
	switch {
	case errors.Is(err, errUnknownClient):
		p.fail(w, r, problemUnknownClient) // removed during the sign-in
		return
	case err != nil:
		p.failInternal(w, r, err)
		return
	}
	p.authenticate(w, r, a, c)
}

// authenticate decides who signs in to client c for request a in this
// browser: a browser session that fits the request, or the login form.
// Every decision about the person in front of the browser is made here.
func (p *Provider) authenticate(w http.ResponseWriter, r *http.Request, a *authRequest, c *client) {
	ctx := r.Context()

	// TODO(issue 3): network-restricted clients. When c.networks is not
	// empty and the client address (X-Forwarded-For only from a trusted
	// proxy) is in none of them, stop here with the 403 page that names
	// the application and explains campus network / VPN — before anything
	// about the person is looked at.

	choice, err := p.chooseSession(ctx, r, a)
	if err != nil {
		p.failInternal(w, r, err)
		return
	}
	if choice.session == nil {
		if a.data.prompts(oidc.PromptNone) {
			// The application asked not to show anything: tell it,
			// at its registered redirect_uri.
			p.errorToClient(w, r, a, oidc.ErrLoginRequired().WithDescription("nobody suitable is signed in"))
			return
		}
		p.toLogin(w, r, a, choice.email)
		return
	}

	// TODO(issue 3): account chooser. With prompt=select_account (now:
	// the login form), or when choice.signedIn > 1 and the request has no
	// hint, show "continue as … / use another account / sign out of …"
	// instead of taking the newest session; with prompt=none answer
	// account_selection_required instead.
	// TODO(issue 3): consent. For c.rec.ThirdParty, unless
	// GetConsent(account, client) covers a.data.Scopes — and always with
	// prompt=consent — show what the application asks for and remember
	// the answer (PutConsent); with prompt=none answer consent_required.

	if err := p.authenticated(ctx, a, *choice.session); err != nil {
		if errors.Is(err, errCodeIssued) {
			p.fail(w, r, problemExpired)
			return
		}
		p.failInternal(w, r, err)
		return
	}
	http.Redirect(w, r, p.server.AuthCallbackURL()(ctx, a.rec.ID), http.StatusFound)
}

// sessionChoice is what chooseSession found.
type sessionChoice struct {
	session  *storage.Session // nil: the person must sign in
	email    string           // to prefill on the login form
	signedIn int              // sessions in this browser, for the chooser
}

// chooseSession picks the browser session request a may use, if any:
//
//  1. A session begun after the request was made is the person's own
//     answer to it (they just typed a password), so it is used whatever
//     the hints said.
//  2. prompt=login (and, until the chooser exists, prompt=select_account)
//     always asks for a sign-in.
//  3. An id_token_hint or login_hint restricts the choice to that
//     account: a hint for someone who is not signed in here never gets
//     the account that is (the seed's "previous login causes a conflict").
//  4. Otherwise the newest session. A session older than max_age asks for
//     the password again.
//
// Sessions of disabled accounts are passed over.
func (p *Provider) chooseSession(ctx context.Context, r *http.Request, a *authRequest) (sessionChoice, error) {
	all, err := p.cfg.Sessions.Sessions(ctx, r)
	if err != nil {
		return sessionChoice{}, err
	}
	ch := sessionChoice{signedIn: len(all)}
	d := &a.data

	for i := range all { // newest first
		se := all[i]
		if se.CreatedAt.Before(a.rec.CreatedAt) {
			continue
		}
		ok, err := p.usable(ctx, se)
		if err != nil {
			return ch, err
		}
		if ok {
			ch.session = &se
			return ch, nil
		}
	}

	restricted, wanted := false, ""
	switch {
	case d.HintSubject != "":
		restricted, wanted = true, d.HintSubject
		if acct, err := p.store.GetAccount(ctx, wanted); err == nil {
			ch.email = acct.Email
		}
	case d.LoginHint != "":
		// Not an e-mail address: portti cannot tell whose it is, so it
		// matches no session and the person signs in.
		restricted = true
		if email, err := account.NormalizeEmail(d.LoginHint); err == nil {
			ch.email = email
			if len(all) > 0 {
				acct, err := p.store.GetAccountByEmail(ctx, email)
				switch {
				case err == nil:
					wanted = acct.ID
				case !errors.Is(err, storage.ErrNotFound):
					return ch, err
				}
			}
		}
	}

	if d.prompts(oidc.PromptLogin) || d.prompts(oidc.PromptSelectAccount) {
		return ch, nil
	}
	now := p.now()
	for i := range all {
		se := all[i]
		if restricted && (wanted == "" || se.AccountID != wanted) {
			continue
		}
		ok, err := p.usable(ctx, se)
		if err != nil {
			return ch, err
		}
		if !ok {
			continue
		}
		if d.MaxAge != nil && *d.MaxAge < 1<<31 && now.Sub(se.CreatedAt) > time.Duration(*d.MaxAge)*time.Second {
			// Signed in too long ago for this application: the same
			// person types their password again.
			if ch.email == "" {
				if acct, err := p.store.GetAccount(ctx, se.AccountID); err == nil {
					ch.email = acct.Email
				}
			}
			return ch, nil
		}
		ch.session = &se
		return ch, nil
	}
	return ch, nil
}

// usable: the session's account may still sign in.
func (p *Provider) usable(ctx context.Context, se storage.Session) (bool, error) {
	_, err := p.activeAccount(ctx, se.AccountID)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, errDisabled), errors.Is(err, storage.ErrNotFound):
		return false, nil
	}
	return false, err
}

// toLogin sends the browser to portti's login form, which returns to the
// continuation after a successful sign-in.
func (p *Provider) toLogin(w http.ResponseWriter, r *http.Request, a *authRequest, email string) {
	q := url.Values{"return": {p.basePath + PathContinue + "?id=" + a.rec.ID}}
	if email != "" {
		q.Set("email", email)
	}
	http.Redirect(w, r, p.basePath+"/login?"+q.Encode(), http.StatusFound)
}

// errorToClient ends request a with an error sent to the client's
// registered redirect_uri (with its state).
func (p *Provider) errorToClient(w http.ResponseWriter, r *http.Request, a *authRequest, e *oidc.Error) {
	if err := p.store.DeleteAuthRequest(r.Context(), a.rec.ID); err != nil && !errors.Is(err, storage.ErrNotFound) {
		p.log.WarnContext(r.Context(), "oidc: delete auth request", "error", err)
	}
	op.AuthRequestError(w, r, a, e, p.op)
}

// serveCallback issues the code. Only the browser that signed in for the
// request gets it: a request ID that leaked (a shared link, a log) is
// worth nothing elsewhere.
func (p *Provider) serveCallback(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	a, err := p.authRequest(ctx, r.URL.Query().Get("id"))
	switch {
	case errors.Is(err, errRequestGone):
		p.fail(w, r, problemExpired)
		return
	case err != nil:
		p.failInternal(w, r, err)
		return
	}
	if !a.Done() {
		p.fail(w, r, problemExpired)
		return
	}
	all, err := p.cfg.Sessions.Sessions(ctx, r)
	if err != nil {
		p.failInternal(w, r, err)
		return
	}
	if !slices.ContainsFunc(all, func(s storage.Session) bool { return s.ID == a.rec.SessionID }) {
		p.fail(w, r, problemOtherBrowser)
		return
	}
	op.AuthorizeCallback(w, r, p.op)
}
