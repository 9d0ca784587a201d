package oidc

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/portti/portti/internal/storage"
)

// Grant types a client may be given.
const (
	GrantAuthorizationCode = "authorization_code"
	GrantRefreshToken      = "refresh_token"
	GrantClientCredentials = "client_credentials"
)

// client adapts a stored client to zitadel's op.Client.
type client struct {
	rec       storage.Client
	grants    []oidc.GrantType
	networks  []netip.Prefix
	idTTL     time.Duration
	loginPath string
}

var _ op.Client = (*client)(nil)

func newClient(rec storage.Client, idTTL time.Duration, loginPath string) *client {
	c := &client{rec: rec, idTTL: idTTL, loginPath: loginPath}
	for _, g := range rec.GrantTypes {
		c.grants = append(c.grants, oidc.GrantType(g))
	}
	for _, n := range rec.AllowedNetworks {
		if p, err := netip.ParsePrefix(n); err == nil {
			c.networks = append(c.networks, p)
		}
	}
	return c
}

func (c *client) GetID() string                    { return c.rec.ID }
func (c *client) RedirectURIs() []string           { return c.rec.RedirectURIs }
func (c *client) PostLogoutRedirectURIs() []string { return c.rec.PostLogoutRedirectURIs }

// ApplicationType: public clients are native apps (custom-scheme and
// loopback redirects allowed); confidential ones are web servers. Either
// way portti requires an exact redirect_uri match before zitadel's checks
// run (see server.VerifyAuthRequest), so zitadel's any-port loopback rule
// for native apps never applies.
func (c *client) ApplicationType() op.ApplicationType {
	if c.rec.Public {
		return op.ApplicationTypeNative
	}
	return op.ApplicationTypeWeb
}

func (c *client) AuthMethod() oidc.AuthMethod {
	if c.rec.Public {
		return oidc.AuthMethodNone
	}
	// client_secret_post is accepted as well: AuthMethodPost is enabled
	// provider-wide, and VerifyClient treats both the same.
	return oidc.AuthMethodBasic
}

// ResponseTypes: the authorization code flow only; implicit and hybrid
// flows put tokens in URLs.
func (c *client) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}
func (c *client) GrantTypes() []oidc.GrantType { return c.grants }

// LoginURL is where the authorize endpoint sends the browser once the
// request is stored: portti's own continuation, which finds or asks for
// the sign-in.
func (c *client) LoginURL(id string) string { return c.loginPath + "?id=" + url.QueryEscape(id) }

func (c *client) AccessTokenType() op.AccessTokenType { return op.AccessTokenTypeBearer }
func (c *client) IDTokenLifetime() time.Duration      { return c.idTTL }
func (c *client) DevMode() bool                       { return false }
func (c *client) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c *client) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}

// IsScopeAllowed: besides the standard OpenID Connect scopes, which
// zitadel admits by itself, a first-party client may ask on a person's
// behalf for the API scopes it holds (ClientSpec.Scopes), typically with a
// resource (resource.go). The consent page of third-party clients names
// only the OpenID Connect scopes, so they get no others; anything else is
// dropped from the request.
//
// The registries' scopes (ScopeGroups, ScopeUserType) are a person's
// data like the OpenID Connect scopes, and the consent page names them:
// any client may ask.
func (c *client) IsScopeAllowed(s string) bool {
	return s == ScopeGroups || s == ScopeUserType || (!c.rec.ThirdParty && slices.Contains(c.rec.Scopes, s))
}
func (c *client) IDTokenUserinfoClaimsAssertion() bool { return true }
func (c *client) ClockSkew() time.Duration             { return 0 }

func (c *client) hasGrant(g string) bool { return slices.Contains(c.rec.GrantTypes, g) }

// idTokenAlg is the algorithm of this client's id_tokens.
func (c *client) idTokenAlg() string {
	if c.rec.IDTokenAlg == algES256 {
		return algES256
	}
	return algRS256
}

// verifySecret compares a presented secret with the stored SHA-256 in
// constant time. Secrets are 256 random bits, so a fast hash is enough
// (DESIGN: a client_credentials grant costs one lookup and one signature).
func (c *client) verifySecret(presented string) bool {
	return verifySecretHash(c.rec.SecretHash, presented)
}

func verifySecretHash(storedHex, presented string) bool {
	sum := sha256.Sum256([]byte(presented))
	var got [64]byte
	hex.Encode(got[:], sum[:])
	ok := subtle.ConstantTimeCompare(got[:], []byte(strings.ToLower(storedHex))) == 1
	// A client without a stored hash has no secret that could match.
	return ok && storedHex != "" && presented != ""
}

// clientCache keeps clients in memory for a short time, so the token
// endpoint's steady state reads no client from the database. An
// operator's change (portti client add/remove) takes effect on every node
// within ttl: no restart, and no invalidation protocol between nodes.
type clientCache struct {
	store     storage.OIDCStorage
	ttl       time.Duration
	now       func() time.Time
	idTTL     time.Duration
	loginPath string

	mu sync.RWMutex
	m  map[string]cachedClient
}

type cachedClient struct {
	c  *client // nil: no such client (cached too, so junk IDs cost little)
	at time.Time
}

// maxCachedClients bounds the cache against a flood of made-up client
// IDs; past it the cache starts over.
const maxCachedClients = 10000

var errUnknownClient = errors.New("unknown client")

func (cc *clientCache) get(ctx context.Context, id string) (*client, error) {
	if !validClientID(id) {
		return nil, errUnknownClient
	}
	now := cc.now()
	cc.mu.RLock()
	e, ok := cc.m[id]
	cc.mu.RUnlock()
	if ok && now.Sub(e.at) < cc.ttl && !now.Before(e.at) {
		if e.c == nil {
			return nil, errUnknownClient
		}
		return e.c, nil
	}
	rec, err := cc.store.GetClient(ctx, id)
	var c *client
	switch {
	case errors.Is(err, storage.ErrNotFound):
	case err != nil:
		return nil, fmt.Errorf("load client %s: %w", id, err)
	default:
		c = newClient(rec, cc.idTTL, cc.loginPath)
	}
	cc.mu.Lock()
	if len(cc.m) >= maxCachedClients {
		cc.m = map[string]cachedClient{}
	}
	cc.m[id] = cachedClient{c: c, at: now}
	cc.mu.Unlock()
	if c == nil {
		return nil, errUnknownClient
	}
	return c, nil
}

// forget drops a client from this node's cache (after a change made
// through this process); other nodes see the change within ttl.
func (cc *clientCache) forget(id string) {
	cc.mu.Lock()
	delete(cc.m, id)
	cc.mu.Unlock()
}

// validClientID: IDs are URL-safe names, so they survive form encoding in
// HTTP Basic authentication and in URLs unchanged.
func validClientID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' || r == '~') {
			return false
		}
	}
	return true
}

// ValidateRedirectURI checks a redirect URI for registration: absolute, no
// fragment (RFC 6749 3.1.2), no wildcard, no credentials; https, or http
// only on a loopback host (RFC 8252 7.3); a private-use scheme (RFC 8252
// 7.1, e.g. com.example.app:/cb) only for public (native) clients.
// Matching at sign-in is exact: the URI the client sends must be one of
// these strings byte for byte.
func ValidateRedirectURI(raw string, public bool) error {
	if raw == "" || len(raw) > 2000 {
		return errors.New("must be 1 to 2000 characters")
	}
	if strings.ContainsFunc(raw, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) {
		return errors.New("must not contain spaces or control characters")
	}
	if strings.Contains(raw, "#") {
		return errors.New("must not have a fragment (#)")
	}
	if strings.Contains(raw, "*") {
		return errors.New("must not contain wildcards: redirect URIs are matched exactly")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return errors.New("is not a valid URL")
	}
	if u.Scheme == "" {
		return errors.New("must be absolute, e.g. https://app.example.org/callback")
	}
	if u.User != nil {
		return errors.New("must not contain a user name or password")
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
		if u.Hostname() == "" {
			return errors.New("needs a host")
		}
	case "http":
		if !loopbackHost(u.Hostname()) {
			return errors.New("must use https:// (http:// only for localhost, 127.0.0.1 or [::1])")
		}
	case "javascript", "data", "file", "vbscript", "blob", "about", "ftp", "ws", "wss":
		return fmt.Errorf("scheme %q is not allowed", u.Scheme)
	default:
		if !public {
			return errors.New("a private-use scheme is only for native apps, which are public clients (--public; public: true in the configuration file)")
		}
	}
	return nil
}

func loopbackHost(h string) bool {
	if strings.EqualFold(h, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(h)
	return err == nil && a.IsLoopback()
}
