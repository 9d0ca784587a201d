package oidc

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// ClientToken is what a client_credentials access token portti issued
// says: the client it was issued to and the scopes granted.
type ClientToken struct {
	ClientID string
	Scopes   []string
	JWTID    string
	// Audience is the token's aud: the client itself, or the API it was
	// asked for with a resource indicator (RFC 8707). An API of portti's
	// that is not registered as a resource server accepts only the
	// former (package provision's SCIM).
	Audience []string
}

// ErrTokenInvalid means a bearer token is not a live client_credentials
// access token of this provider: malformed, forged, expired, revoked, of
// a removed client, or issued for a person rather than a client.
var ErrTokenInvalid = errors.New("oidc: not a live client access token")

// VerifyClientToken checks a client_credentials access token for one of
// portti's own APIs (the admin API): the same checks as introspection
// (signature, type at+jwt, issuer, expiry, client still registered, jti
// not revoked), and that it was issued to a client for itself, not for a
// person. The caller decides what its scopes allow.
func (p *Provider) VerifyClientToken(ctx context.Context, token string) (ClientToken, error) {
	if !isJWT(token) {
		return ClientToken{}, ErrTokenInvalid
	}
	claims, ok := p.verifyAccessJWT(ctx, token)
	if !ok || claims.Subject != claims.ClientID {
		return ClientToken{}, ErrTokenInvalid
	}
	denied, err := p.store.JTIDenied(ctx, claims.JWTID)
	if err != nil {
		return ClientToken{}, fmt.Errorf("oidc: client token: %w", err)
	}
	if denied {
		return ClientToken{}, ErrTokenInvalid
	}
	return ClientToken{ClientID: claims.ClientID, Scopes: strings.Fields(claims.Scope), JWTID: claims.JWTID, Audience: claims.Audience}, nil
}
