package oidc

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/portti/portti/internal/storage"
)

// The account chooser and the consent page. Both are shown at
// GET /oauth2/authorize/continue?id=ID (authenticate decides which) and
// both post to the same path; every answer is stored in the request and
// the browser is sent back to the GET, so that one place decides:
//
//	op=continue&account=ID   use this browser's session of that account
//	op=signout&account=ID    sign that account out of this browser
//	op=allow / op=deny       the consent page's answer
//
// "Use another account" is a link to the continuation with another=1,
// which forgets the choice and shows the login form.

// crossOrigin guards the provider's own forms, which the web front's
// middleware does not see.
var crossOrigin = http.NewCrossOriginProtection()

// chooserAccount is one account on the chooser or the consent page.
type chooserAccount struct {
	ID    string
	Name  string // given and family name; empty when the account has none
	Email string
}

// Label is how a page names the account: "name, e-mail", or the e-mail.
func (a chooserAccount) Label() string {
	if a.Name == "" {
		return a.Email
	}
	return a.Name + ", " + a.Email
}

func accountOf(a storage.Account) chooserAccount {
	return chooserAccount{ID: a.ID, Name: strings.TrimSpace(a.GivenName + " " + a.FamilyName), Email: a.Email}
}

// continueURL is the continuation of request id.
func (p *Provider) continueURL(id string) string {
	return p.basePath + PathContinue + "?id=" + url.QueryEscape(id)
}

// showChooser shows "continue as …", "sign out of …" for each account in
// sessions, and "use another account".
func (p *Provider) showChooser(w http.ResponseWriter, r *http.Request, a *authRequest, c *client, sessions []storage.Session) {
	if p.pageElsewhere(w, r, a) {
		return
	}
	ctx := r.Context()
	var accounts []chooserAccount
	for _, se := range sessions {
		acct, err := p.store.GetAccount(ctx, se.AccountID)
		if err != nil {
			if errors.Is(err, storage.ErrNotFound) {
				continue
			}
			p.failInternal(w, r, err)
			return
		}
		accounts = append(accounts, accountOf(acct))
	}
	p.page(w, r, http.StatusOK, "chooser", "chooser.title", map[string]any{
		"App":        c.displayName(),
		"RequestID":  a.rec.ID,
		"Action":     p.basePath + PathContinue,
		"Accounts":   accounts,
		"AnotherURL": p.continueURL(a.rec.ID) + "&another=1",
	})
}

// scopeKeys are the catalogue keys describing what each scope gives an
// application, in the order the consent page lists them.
var scopeKeys = []struct{ scope, key string }{
	{oidc.ScopeOpenID, "consent.scope.openid"},
	{oidc.ScopeProfile, "consent.scope.profile"},
	{oidc.ScopeEmail, "consent.scope.email"},
	{oidc.ScopePhone, "consent.scope.phone"},
	{oidc.ScopeAddress, "consent.scope.address"},
	{oidc.ScopeOfflineAccess, "consent.scope.offline_access"},
	{ScopeUserType, "provision.consent.scope.user_type"},
	{ScopeGroups, "provision.consent.scope.groups"},
}

// needsConsent: the person must be asked before third-party client gets
// the request's scopes for accountID. Asked once per request; remembered
// consent covers the same or fewer scopes; prompt=consent asks again.
func (p *Provider) needsConsent(ctx context.Context, a *authRequest, accountID string) (bool, error) {
	if a.data.ConsentFor == accountID {
		return false, nil
	}
	if a.data.prompts(oidc.PromptConsent) {
		return true, nil
	}
	given, err := p.store.GetConsent(ctx, accountID, a.rec.ClientID)
	if errors.Is(err, storage.ErrNotFound) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	for _, s := range a.data.Scopes {
		if !slices.Contains(given.Scopes, s) {
			return true, nil
		}
	}
	return false, nil
}

// showConsent shows which application asks for which data of the
// account of session se, with Allow and Deny.
func (p *Provider) showConsent(w http.ResponseWriter, r *http.Request, a *authRequest, c *client, se storage.Session) {
	if p.pageElsewhere(w, r, a) {
		return
	}
	ctx := r.Context()
	if a.data.Chosen != se.ID {
		// The answer is for this session; remember which it was.
		if err := p.updateRequest(ctx, a.rec.ID, func(d *requestData) { d.Chosen = se.ID }); err != nil {
			p.requestFailed(w, r, err)
			return
		}
	}
	acct, err := p.store.GetAccount(ctx, se.AccountID)
	if err != nil {
		p.failInternal(w, r, err)
		return
	}
	var keys []string
	for _, sk := range scopeKeys {
		if slices.Contains(a.data.Scopes, sk.scope) {
			keys = append(keys, sk.key)
		}
	}
	p.page(w, r, http.StatusOK, "consent", "consent.title", map[string]any{
		"App":        c.displayName(),
		"RequestID":  a.rec.ID,
		"Action":     p.basePath + PathContinue,
		"Account":    accountOf(acct),
		"Scopes":     keys,
		"AnotherURL": p.continueURL(a.rec.ID) + "&another=1",
	})
}

// serveChoice takes the answers of the chooser and the consent page.
func (p *Provider) serveChoice(w http.ResponseWriter, r *http.Request) {
	if err := crossOrigin.Check(r); err != nil {
		p.fail(w, r, problemCrossOrigin)
		return
	}
	if err := r.ParseForm(); err != nil {
		p.fail(w, r, problemBadRequest)
		return
	}
	ctx := r.Context()
	f := r.PostForm
	a, c, ok := p.pendingRequest(w, r, f.Get("id"))
	if !ok {
		return
	}
	if !p.reachable(r, c) {
		p.restricted(w, r, c)
		return
	}

	switch f.Get("op") {
	case "continue":
		se, err := p.cfg.Sessions.Current(ctx, r, f.Get("account"))
		if errors.Is(err, storage.ErrNotFound) {
			break // signed out meanwhile: decide again
		}
		if err != nil {
			p.failInternal(w, r, err)
			return
		}
		if err := p.updateRequest(ctx, a.rec.ID, func(d *requestData) { d.Chosen = se.ID }); err != nil {
			p.requestFailed(w, r, err)
			return
		}
	case "signout":
		se, err := p.cfg.Sessions.Current(ctx, r, f.Get("account"))
		if errors.Is(err, storage.ErrNotFound) {
			break
		}
		if err != nil {
			p.failInternal(w, r, err)
			return
		}
		if err := p.cfg.Sessions.End(ctx, w, r, se.ID); err != nil {
			p.failInternal(w, r, err)
			return
		}
		p.log.InfoContext(ctx, "oidc: account signed out on the account chooser", "account_id", se.AccountID)
		if err := p.SessionEnded(ctx, se.ID); err != nil {
			p.log.ErrorContext(ctx, "oidc: back-channel logout after a sign-out on the chooser", "error", err)
		}
		// Keep the chooser up: the person is sorting out accounts, and
		// the one left is not necessarily the one they want.
		err = p.updateRequest(ctx, a.rec.ID, func(d *requestData) {
			d.Choose = true
			if d.Chosen == se.ID {
				d.Chosen = ""
			}
		})
		if err != nil {
			p.requestFailed(w, r, err)
			return
		}
	case "allow", "deny":
		if done := p.consentAnswer(w, r, a, f.Get("op") == "allow"); done {
			return
		}
	default:
		p.fail(w, r, problemBadRequest)
		return
	}
	http.Redirect(w, r, p.continueURL(a.rec.ID), http.StatusSeeOther)
}

// consentAnswer records the consent page's answer for the session it was
// shown for. It reports whether it answered the request itself (a denial
// goes to the client); otherwise the caller sends the browser back to the
// continuation.
func (p *Provider) consentAnswer(w http.ResponseWriter, r *http.Request, a *authRequest, allow bool) bool {
	ctx := r.Context()
	all, err := p.cfg.Sessions.Sessions(ctx, r)
	if err != nil {
		p.failInternal(w, r, err)
		return true
	}
	i := slices.IndexFunc(all, func(s storage.Session) bool { return s.ID == a.data.Chosen })
	if i < 0 {
		return false // the session is gone: decide again
	}
	se := all[i]
	if !allow {
		p.log.InfoContext(ctx, "oidc: consent denied", "client_id", a.rec.ClientID, "account_id", se.AccountID)
		p.errorToClient(w, r, a, oidc.ErrAccessDenied().WithDescription("the person did not allow the application their data"))
		return true
	}
	scopes := slices.Clone(a.data.Scopes)
	old, err := p.store.GetConsent(ctx, se.AccountID, a.rec.ClientID)
	switch {
	case err == nil:
		for _, s := range old.Scopes {
			if !slices.Contains(scopes, s) {
				scopes = append(scopes, s)
			}
		}
	case !errors.Is(err, storage.ErrNotFound):
		p.failInternal(w, r, err)
		return true
	}
	err = p.store.PutConsent(ctx, storage.Consent{AccountID: se.AccountID, ClientID: a.rec.ClientID, Scopes: scopes, GrantedAt: p.now()})
	if err != nil {
		p.failInternal(w, r, err)
		return true
	}
	p.log.InfoContext(ctx, "oidc: consent given", "client_id", a.rec.ClientID, "account_id", se.AccountID, "scopes", strings.Join(scopes, " "))
	if err := p.updateRequest(ctx, a.rec.ID, func(d *requestData) { d.ConsentFor = se.AccountID }); err != nil {
		p.requestFailed(w, r, err)
		return true
	}
	return false
}
