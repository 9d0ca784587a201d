package oidc

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/portti/portti/internal/storage"
)

// Clients limited to groups. A client registered with --allow-group is
// signed in to only by members of one of those groups (the groups a
// registry keeps over SCIM, by name; Config.Affiliation). Unlike the
// network check, this needs the person: it is made once the session is
// chosen, before a second factor or consent is asked for, and again at
// every refresh, so that a person the registry takes out of the group
// loses the application at the next refresh.

// errNotInGroup: a refresh for a person no longer in the client's groups.
var errNotInGroup = errors.New("not in the client's groups")

// inAllowedGroup reports whether accountID may sign in to c; known are
// accounts already read in this request, by ID (may be nil).
func (p *Provider) inAllowedGroup(ctx context.Context, c *client, accountID string, known map[string]storage.Account) (bool, error) {
	if len(c.rec.AllowedGroups) == 0 {
		return true, nil
	}
	if p.cfg.Affiliation == nil {
		return false, nil // nobody can be a member: fail closed
	}
	acct, ok := known[accountID]
	if !ok {
		var err error
		if acct, err = p.store.GetAccount(ctx, accountID); err != nil {
			return false, err
		}
	}
	af, err := p.cfg.Affiliation(ctx, acct, true)
	if err != nil {
		return false, err
	}
	for _, g := range af.Groups {
		for _, allowed := range c.rec.AllowedGroups {
			if strings.EqualFold(g, allowed) {
				return true, nil
			}
		}
	}
	return false, nil
}

// groupGate answers the browser itself (returning true) when the signed-in
// person is not in any of c's groups: with prompt=none access_denied to
// the application, else the page that says the application is for some
// groups only, with the way to sign in with another account.
func (p *Provider) groupGate(w http.ResponseWriter, r *http.Request, a *authRequest, c *client, se storage.Session, known map[string]storage.Account) bool {
	ok, err := p.inAllowedGroup(r.Context(), c, se.AccountID, known)
	if err != nil {
		p.failInternal(w, r, err)
		return true
	}
	if ok {
		return false
	}
	if a.data.prompts(oidc.PromptNone) {
		p.errorToClient(w, r, a, oidc.ErrAccessDenied().WithDescription("the person is not in a group allowed to use this application"))
		return true
	}
	ref := newRef()
	p.log.InfoContext(r.Context(), "oidc: sign-in refused outside the client's groups",
		"client_id", c.rec.ID, "account_id", se.AccountID, "ref", ref)
	p.auditRef(r, ref, "oidc.group_refused", c.rec.ID, "not in the application's groups")
	p.page(w, r, http.StatusForbidden, "provision_group_restricted", "provision.groups.title", map[string]any{
		"App":     c.displayName(),
		"Email":   p.emailOfKnown(r.Context(), se.AccountID, known),
		"Another": p.continueURL(a.rec.ID) + "&another=1",
		"Ref":     ref,
	})
	return true
}

// emailOfKnown is emailOf from the accounts already read, when there.
func (p *Provider) emailOfKnown(ctx context.Context, accountID string, known map[string]storage.Account) string {
	if a, ok := known[accountID]; ok {
		return a.Email
	}
	return p.emailOf(ctx, accountID)
}
