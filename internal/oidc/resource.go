package oidc

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/portti/portti/internal/storage"
)

// Resource servers (RFC 8707 Resource Indicators).
//
// A client registered with --resource-server URI (resource_server: in the
// configuration file) is an API with that identifier. Other clients ask
// for a token for it with the resource parameter, in the authorization
// request and at the token endpoint (authorization_code, refresh_token,
// client_credentials); the token's "aud" is then the identifier instead
// of the client's own ID. The API authenticates at introspection with its
// own credentials and sees the tokens meant for it as active, and no
// others (introspect). When the API declares the scopes it accepts
// (--resource-scope; resource_scopes:), a token for it carries only
// those of the grant's scopes, and a client whose grant holds none of
// them may not ask for it (invalid_target). A request without resource
// gets what it got before: a token for the client itself.
//
// One resource per request: RFC 8707 lets a client name several, but a
// token with several audiences is one every one of them can replay
// against the others; portti answers invalid_target instead.

// errInvalidTarget is the RFC 8707 2 error.
func errInvalidTarget(format string, args ...any) *oidc.Error {
	return oidcError("invalid_target", fmt.Sprintf(format, args...))
}

// ctxResource carries the resource of an authorization request from
// server.Authorize, which has the form, to createAuthRequest, which zitadel
// calls without it.
type ctxResource struct{}

// CheckResourceIdentifier says what is wrong with an API's identifier, or
// returns nil: an absolute URI without a fragment (RFC 8707 2), and
// without a query (which the RFC advises against) or credentials.
func CheckResourceIdentifier(raw string) error {
	if raw == "" || len(raw) > 2000 {
		return errors.New("must be 1 to 2000 characters")
	}
	if strings.ContainsFunc(raw, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) {
		return errors.New("must not contain spaces or control characters")
	}
	if strings.Contains(raw, "#") {
		return errors.New("must not have a fragment (#) (RFC 8707)")
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return errors.New("is not a valid URI")
	case u.Scheme == "" || (u.Host == "" && u.Opaque == ""):
		return errors.New("must be an absolute URI, e.g. https://api.example.fi/grades")
	case u.User != nil:
		return errors.New("must not contain a user name or password")
	case u.RawQuery != "" || u.ForceQuery:
		return errors.New("must not have a query (?): RFC 8707 asks for none")
	}
	return nil
}

// requestedResource returns the one resource a request names (repeating
// the same value is allowed), or "" for none.
func requestedResource(values []string) (string, error) {
	var res string
	for _, v := range values {
		switch {
		case v == "":
			return "", errInvalidTarget("resource is empty")
		case res != "" && v != res:
			return "", errInvalidTarget("ask for one resource per request")
		}
		res = v
	}
	if res != "" {
		if err := CheckResourceIdentifier(res); err != nil {
			return "", errInvalidTarget("resource %s", err)
		}
	}
	return res, nil
}

// target is the API a token is for; nil is the client itself.
type target struct {
	api *client
}

// resolveTarget finds the API named by a request's resource values. An
// unknown identifier is invalid_target, as is one whose API declares
// scopes of which the client could get none (scopes: what the client may
// be granted).
func (p *Provider) resolveTarget(ctx context.Context, values []string, scopes []string) (*target, error) {
	res, err := requestedResource(values)
	if err != nil || res == "" {
		return nil, err
	}
	api, err := p.resources.get(ctx, res)
	if errors.Is(err, errUnknownClient) {
		return nil, errInvalidTarget("resource %q is not an API portti knows", res)
	}
	if err != nil {
		return nil, serverError(err)
	}
	t := &target{api: api}
	if _, ok := t.limit(scopes); !ok {
		return nil, errInvalidTarget("none of the scopes this client may have is one %s accepts", res)
	}
	return t, nil
}

// audience is the "aud" of a token for t issued to c.
func (t *target) audience(c *client) []string {
	if t == nil {
		return []string{c.rec.ID}
	}
	return []string{t.api.rec.ResourceServer}
}

// limit returns the scopes of a grant that a token for t carries: all of
// them, or those the API accepts when it declares any. ok is false when
// the API declares scopes and none of the grant's is among them.
func (t *target) limit(scopes []string) (_ []string, ok bool) {
	if t == nil || len(t.api.rec.ResourceScopes) == 0 {
		return scopes, true
	}
	out := slices.DeleteFunc(slices.Clone(scopes), func(s string) bool { return !slices.Contains(t.api.rec.ResourceScopes, s) })
	return out, len(out) > 0
}

// resourceCache finds APIs by identifier through the client cache's
// time-to-live: an identifier names a client ID for ttl, and the client
// itself comes from the client cache, so a change reaches every node
// within the same 2 s as any other change of a client.
type resourceCache struct {
	store   storage.ResourceStorage
	clients *clientCache
	ttl     time.Duration
	now     func() time.Time

	mu sync.RWMutex
	m  map[string]cachedResource // guarded by mu
}

type cachedResource struct {
	clientID string // "": no such API (cached too)
	at       time.Time
}

func (rc *resourceCache) get(ctx context.Context, resource string) (*client, error) {
	now := rc.now()
	rc.mu.RLock()
	e, ok := rc.m[resource]
	rc.mu.RUnlock()
	if !ok || now.Sub(e.at) >= rc.ttl || now.Before(e.at) {
		rec, err := rc.store.GetClientByResource(ctx, resource)
		switch {
		case errors.Is(err, storage.ErrNotFound):
			e = cachedResource{at: now}
		case err != nil:
			return nil, fmt.Errorf("load resource server: %w", err)
		default:
			e = cachedResource{clientID: rec.ID, at: now}
		}
		rc.mu.Lock()
		if len(rc.m) >= maxCachedClients {
			rc.m = map[string]cachedResource{}
		}
		rc.m[resource] = e
		rc.mu.Unlock()
	}
	if e.clientID == "" {
		return nil, errUnknownClient
	}
	c, err := rc.clients.get(ctx, e.clientID)
	if err != nil {
		return nil, err
	}
	// The client may have been changed since the identifier was cached.
	if c.rec.ResourceServer != resource {
		return nil, errUnknownClient
	}
	return c, nil
}
