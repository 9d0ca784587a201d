package oidc

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/portti/portti/internal/account"
	"github.com/portti/portti/internal/authn"
	"github.com/portti/portti/internal/storage"
)

// The sign-in, as the browser sees it:
//
//	GET  /oauth2/authorize?client_id=…          checked, stored (zitadel + server.Authorize),
//	                                             then authenticate at once (continueCapture)
//	302  /login?return=/oauth2/authorize/continue%3Fid%3DID&email=…
//	                                             portti's login form, when nobody suitable is signed in
//	POST /login → 303 back to /oauth2/authorize/continue?id=ID
//	302  https://app.example.org/cb?code=…&state=…   authenticate issues the code (zitadel's AuthResponse)
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
	if !p.reachable(r, c) {
		// Before anything is stored or anyone asked for a password.
		p.restricted(w, r, c)
		return
	}
	// zitadel stores the request and sends the browser to the
	// continuation (the client's LoginURL). The continuation is run here
	// instead, for the same browser and cookies: a sign-in is one round
	// trip and one read of the request shorter (issue 8, benchmark h).
	cw := &continueCapture{ResponseWriter: w, prefix: p.basePath + PathContinue + "?id="}
	created := &createdRequest{}
	p.protocol().ServeHTTP(cw, r.WithContext(context.WithValue(r.Context(), createdKey{}, created)))
	if cw.id == "" {
		return
	}
	var (
		a  *authRequest
		ok bool
	)
	if created.a != nil && created.a.rec.ID == cw.id {
		a = created.a
	} else if a, ok = p.loadRequest(w, r, cw.id); !ok {
		return
	}
	if c, ok = p.requestClient(w, r, a); !ok {
		return
	}
	p.authenticate(w, r.WithContext(context.WithValue(r.Context(), atAuthorizeKey{}, true)), a, c)
}

// atAuthorizeKey marks the context of authenticate run at the
// authorization endpoint. A page it decides on (the account chooser,
// consent) is shown at the continuation's address instead, by a redirect:
// reloading it or switching its language must not make a new request.
type atAuthorizeKey struct{}

// pageElsewhere redirects the browser to request a's continuation and
// returns true when r is the authorization request itself (atAuthorizeKey).
func (p *Provider) pageElsewhere(w http.ResponseWriter, r *http.Request, a *authRequest) bool {
	if r.Context().Value(atAuthorizeKey{}) == nil {
		return false
	}
	http.Redirect(w, r, p.continueURL(a.rec.ID), http.StatusFound)
	return true
}

// continueCapture passes zitadel's authorize answer through, except a
// redirect to the continuation (prefix, then the request's ID), which it
// keeps back and remembers the ID of.
type continueCapture struct {
	http.ResponseWriter
	prefix string
	id     string // set when the redirect was kept back
}

func (c *continueCapture) WriteHeader(status int) {
	h := c.Header()
	if loc := h.Get("Location"); status == http.StatusFound && strings.HasPrefix(loc, c.prefix) {
		if id, err := url.QueryUnescape(loc[len(c.prefix):]); err == nil && id != "" && !strings.ContainsAny(loc[len(c.prefix):], "&#") {
			h.Del("Location")
			h.Del("Content-Type")
			c.id = id
			return
		}
	}
	c.ResponseWriter.WriteHeader(status)
}

func (c *continueCapture) Write(b []byte) (int, error) {
	if c.id != "" {
		return len(b), nil // the body of the redirect kept back
	}
	return c.ResponseWriter.Write(b)
}

func (c *continueCapture) Unwrap() http.ResponseWriter { return c.ResponseWriter }

// pendingRequest loads a sign-in in progress and its client for the
// continue, chooser and consent steps, answering the browser itself (and
// returning false) when the request is gone, finished or its client removed.
func (p *Provider) pendingRequest(w http.ResponseWriter, r *http.Request, id string) (*authRequest, *client, bool) {
	a, ok := p.loadRequest(w, r, id)
	if !ok {
		return nil, nil, false
	}
	c, ok := p.requestClient(w, r, a)
	if !ok {
		return nil, nil, false
	}
	return a, c, true
}

// loadRequest is pendingRequest's reading of the request.
func (p *Provider) loadRequest(w http.ResponseWriter, r *http.Request, id string) (*authRequest, bool) {
	a, err := p.authRequest(r.Context(), id)
	switch {
	case errors.Is(err, errRequestGone):
		p.fail(w, r, problemExpired)
		return nil, false
	case err != nil:
		p.failInternal(w, r, err)
		return nil, false
	}
	if a.rec.CodeHash != "" {
		// Finished already (the back button): the code went to the
		// application once and is not issued again.
		p.fail(w, r, problemExpired)
		return nil, false
	}
	return a, true
}

// requestClient is pendingRequest's finding of the request's client.
func (p *Provider) requestClient(w http.ResponseWriter, r *http.Request, a *authRequest) (*client, bool) {
	c, err := p.clients.get(r.Context(), a.rec.ClientID)
	switch {
	case errors.Is(err, errUnknownClient):
		p.fail(w, r, problemUnknownClient) // removed during the sign-in
		return nil, false
	case err != nil:
		p.failInternal(w, r, err)
		return nil, false
	}
	return c, true
}

// serveContinue is where the authorize endpoint sends the browser, and
// where portti's login form returns to after a sign-in.
func (p *Provider) serveContinue(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	a, c, ok := p.pendingRequest(w, r, r.URL.Query().Get("id"))
	if !ok {
		return
	}
	if r.URL.Query().Get("another") != "" {
		// "Use another account" on the chooser or the consent page:
		// forget the choice and show the login form.
		if !p.reachable(r, c) {
			p.restricted(w, r, c)
			return
		}
		if err := p.updateRequest(ctx, a.rec.ID, func(d *requestData) { d.Chosen, d.ConsentFor = "", "" }); err != nil {
			p.requestFailed(w, r, err)
			return
		}
		p.toLogin(w, r, a, "", p.demandsFreshMFA(a, c))
		return
	}
	p.authenticate(w, r, a, c)
}

// requestFailed shows the page for an error from updating a request.
func (p *Provider) requestFailed(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, errCodeIssued) || errors.Is(err, storage.ErrNotFound) {
		p.fail(w, r, problemExpired)
		return
	}
	p.failInternal(w, r, err)
}

// authenticate decides who signs in to client c for request a in this
// browser: a browser session that fits the request, the account chooser,
// or the login form; then, for a third-party client, the consent page.
// Every decision about the person in front of the browser is made here.
func (p *Provider) authenticate(w http.ResponseWriter, r *http.Request, a *authRequest, c *client) {
	ctx := r.Context()

	// Network-restricted clients: before anything about the person is
	// looked at (also checked at the authorize endpoint; see restrict.go).
	if !p.reachable(r, c) {
		p.restricted(w, r, c)
		return
	}

	choice, err := p.chooseSession(ctx, r, a)
	if err != nil {
		p.failInternal(w, r, err)
		return
	}
	if choice.session == nil {
		if len(choice.chooser) > 0 {
			if a.data.prompts(oidc.PromptNone) {
				p.errorToClient(w, r, a, oidcError("account_selection_required", "more than one account is signed in"))
				return
			}
			p.showChooser(w, r, a, c, choice.chooser)
			return
		}
		if a.data.prompts(oidc.PromptNone) {
			// The application asked not to show anything: tell it,
			// at its registered redirect_uri.
			p.errorToClient(w, r, a, oidc.ErrLoginRequired().WithDescription("nobody suitable is signed in"))
			return
		}
		p.toLogin(w, r, a, choice.email, p.demandsFreshMFA(a, c))
		return
	}
	se := *choice.session

	// Clients limited to groups (groups.go): the person is known now.
	if p.groupGate(w, r, a, c, se, choice.accounts) {
		return
	}

	if p.secondFactorMissing(w, r, a, c, se, choice.accounts) {
		return
	}

	if c.rec.ThirdParty {
		need, err := p.needsConsent(ctx, a, se.AccountID)
		if err != nil {
			p.failInternal(w, r, err)
			return
		}
		if need {
			if a.data.prompts(oidc.PromptNone) {
				p.errorToClient(w, r, a, oidcError("consent_required", "the person has not allowed this application their data"))
				return
			}
			p.showConsent(w, r, a, c, se)
			return
		}
	}

	done, code, err := p.authenticated(ctx, a, se)
	if err != nil {
		if errors.Is(err, errCodeIssued) {
			p.fail(w, r, problemExpired)
			return
		}
		p.failInternal(w, r, err)
		return
	}
	// The code goes to the application in this response, to the browser
	// that holds the session: no request ID travels through another
	// redirect where a leaked link could redeem it (zitadel's own flow
	// has a separate callback step for that), and the sign-in is one
	// round trip shorter.
	op.AuthResponse(done, issuedCode{p.op, code}, w, r)
}

// secondFactorMissing applies the second-factor rules to the session
// chosen for request a, and answers the browser itself (returning true)
// when the session is not enough:
//
//   - acr_values of which portti can meet none: the OpenID Connect
//     Extended Authentication Profile's unmet_authentication_requirements;
//   - a second factor needed (the client requires it, the policy requires
//     it for the person's address, or acr_values prefers the REFEDS MFA
//     profile) but the session's sign-in used none: with prompt=none,
//     interaction_required; a person who has a second factor signs in
//     again with it (step-up: password and code, the same person); a
//     person who has none is guided to set one up and comes back here,
//     and the application gets its code only after that.
//
// known are accounts already read in this request, by ID.
func (p *Provider) secondFactorMissing(w http.ResponseWriter, r *http.Request, a *authRequest, c *client, se storage.Session, known map[string]storage.Account) bool {
	if p.cfg.MFA == nil {
		return false
	}
	ctx := r.Context()
	// acr_values is in order of preference (OIDC Core 3.1.2.1).
	wantMFA, met := p.cfg.MFA.WantsMFA(a.data.ACRValues)
	if !met {
		p.errorToClient(w, r, a, oidcError("unmet_authentication_requirements", "none of the requested acr_values can be met"))
		return true
	}
	acct, ok := known[se.AccountID]
	if !ok {
		var err error
		if acct, err = p.store.GetAccount(ctx, se.AccountID); err != nil {
			p.failInternal(w, r, err)
			return true
		}
	}
	// The client's demand (require_mfa, acr_values) is met only by a
	// second factor used in this sign-in; the operator's policy also by a
	// browser remembered after one (authn, remember.go), which the acr
	// does not claim as a second factor.
	reg := p.cfg.MFA.Registry()
	demanded := wantMFA || c.rec.RequireMFA
	if reg.MultiFactor(se.Factors) || !demanded && (!p.cfg.MFA.RequiredFor(acct) || reg.PolicySatisfied(se.Factors)) {
		return false
	}
	entries, err := p.cfg.MFA.Entries(ctx, acct.ID)
	if err != nil {
		p.failInternal(w, r, err)
		return true
	}
	if !demanded && !authn.Enabled(entries) {
		// Only the policy asks, of a person with no method yet: the
		// enrolment grace may let them put it off.
		_, inGrace, err := p.cfg.MFA.EnrolmentGrace(ctx, acct)
		if err != nil {
			p.failInternal(w, r, err)
			return true
		}
		if inGrace {
			return false
		}
	}
	if a.data.prompts(oidc.PromptNone) {
		p.errorToClient(w, r, a, oidc.ErrInteractionRequired().WithDescription("a second factor is required"))
		return true
	}
	if authn.Enabled(entries) {
		p.toLogin(w, r, a, acct.Email, true)
		return true
	}
	q := url.Values{"account": {acct.ID}, "return": {p.basePath + PathContinue + "?id=" + a.rec.ID}, "notice": {"mfa_required"}}
	http.Redirect(w, r, p.basePath+"/account/mfa?"+q.Encode(), http.StatusFound)
	return true
}

// demandsFreshMFA: request a for client c wants a second factor of this
// sign-in (require_mfa, acr_values preferring the MFA profile) or a fresh
// sign-in (max_age), so a remembered browser must not skip the second
// step.
func (p *Provider) demandsFreshMFA(a *authRequest, c *client) bool {
	if c.rec.RequireMFA || a.data.MaxAge != nil {
		return true
	}
	if p.cfg.MFA == nil {
		return false
	}
	mfa, _ := p.cfg.MFA.WantsMFA(a.data.ACRValues)
	return mfa
}

// sessionChoice is what chooseSession found.
type sessionChoice struct {
	session *storage.Session  // nil: the person must sign in or choose
	chooser []storage.Session // when not empty: let the person choose among these
	email   string            // to prefill on the login form
	// accounts are the usable sessions' accounts read while choosing,
	// by ID: the chosen one is not read again.
	accounts map[string]storage.Account
}

// chooseSession picks the browser session request a may use, if any:
//
//  1. The session the person picked on the account chooser for this
//     request, while it lasts.
//  2. A session begun after the request was made is the person's own
//     answer to it (they just typed a password), so it is used whatever
//     the hints said.
//  3. prompt=login always asks for a sign-in.
//  4. An id_token_hint or login_hint restricts the choice to that
//     account: a hint for someone who is not signed in here never gets
//     the account that is (the seed's "previous login causes a conflict").
//  5. prompt=select_account shows the chooser (with every account signed
//     in here, hint or not: the person picks), and so does a request
//     without a hint when more than one account is signed in, or after
//     the person signed an account out on the chooser.
//  6. Otherwise the one session. A session older than max_age asks for
//     the password again, for the same account.
//
// Sessions of disabled accounts are passed over.
func (p *Provider) chooseSession(ctx context.Context, r *http.Request, a *authRequest) (sessionChoice, error) {
	all, err := p.cfg.Sessions.Sessions(ctx, r)
	if err != nil {
		return sessionChoice{}, err
	}
	ch := sessionChoice{accounts: map[string]storage.Account{}}
	d := &a.data

	if d.Chosen != "" {
		for i := range all {
			se := all[i]
			if se.ID != d.Chosen {
				continue
			}
			ok, err := p.usable(ctx, se, ch.accounts)
			if err != nil {
				return ch, err
			}
			if !ok {
				break
			}
			if p.tooOld(d, se) {
				ch.email = p.emailOf(ctx, se.AccountID)
				return ch, nil
			}
			ch.session = &se
			return ch, nil
		}
	}

	for i := range all { // newest first
		se := all[i]
		if se.CreatedAt.Before(a.rec.CreatedAt) {
			continue
		}
		ok, err := p.usable(ctx, se, ch.accounts)
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
		ch.email = p.emailOf(ctx, wanted)
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

	if d.prompts(oidc.PromptLogin) {
		return ch, nil
	}
	var usable, matching []storage.Session
	for i := range all {
		se := all[i]
		ok, err := p.usable(ctx, se, ch.accounts)
		if err != nil {
			return ch, err
		}
		if !ok {
			continue
		}
		usable = append(usable, se)
		if !restricted || (wanted != "" && se.AccountID == wanted) {
			matching = append(matching, se)
		}
	}
	if d.prompts(oidc.PromptSelectAccount) || (!restricted && (len(usable) > 1 || d.Choose)) {
		ch.chooser = usable // empty: nobody to choose, the login form
		return ch, nil
	}
	if len(matching) == 0 {
		return ch, nil
	}
	se := matching[0]
	if p.tooOld(d, se) {
		// Signed in too long ago for this application: the same
		// person types their password again.
		if ch.email == "" {
			ch.email = p.emailOf(ctx, se.AccountID)
		}
		return ch, nil
	}
	ch.session = &se
	return ch, nil
}

// tooOld: session se began longer ago than the request's max_age allows.
func (p *Provider) tooOld(d *requestData, se storage.Session) bool {
	return d.MaxAge != nil && *d.MaxAge < 1<<31 && p.now().Sub(se.CreatedAt) > time.Duration(*d.MaxAge)*time.Second
}

// emailOf is the account's login address, or "" when it cannot be read.
func (p *Provider) emailOf(ctx context.Context, accountID string) string {
	if acct, err := p.store.GetAccount(ctx, accountID); err == nil {
		return acct.Email
	}
	return ""
}

// usable: the session's account may still sign in.
//
// The accounts read are kept in seen, by ID.
func (p *Provider) usable(ctx context.Context, se storage.Session, seen map[string]storage.Account) (bool, error) {
	if _, ok := seen[se.AccountID]; ok {
		return true, nil
	}
	acct, err := p.activeAccount(ctx, se.AccountID)
	switch {
	case err == nil:
		seen[acct.ID] = acct
		return true, nil
	case errors.Is(err, errDisabled), errors.Is(err, storage.ErrNotFound):
		return false, nil
	}
	return false, err
}

// toLogin sends the browser to portti's login form, which returns to the
// continuation after a successful sign-in.
//
// fresh asks the login form for a second step even in a browser
// remembered for it (mfa=fresh): the application demands a second factor
// or a fresh sign-in.
func (p *Provider) toLogin(w http.ResponseWriter, r *http.Request, a *authRequest, email string, fresh bool) {
	q := url.Values{"return": {p.basePath + PathContinue + "?id=" + a.rec.ID}}
	if fresh {
		q.Set("mfa", "fresh")
	}
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
