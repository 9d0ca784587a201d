package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/portti/portti/internal/secret"
	"github.com/portti/portti/internal/storage"
)

// oidcError makes a protocol error with a code zitadel has no constructor
// for (invalid_token, insufficient_scope, unsupported_token_type,
// consent_required, account_selection_required, invalid_target,
// unmet_authentication_requirements).
func oidcError(code, desc string) *oidc.Error {
	e := oidc.ErrInvalidRequest().WithDescription("%s", desc)
	// ErrorType has an unexported type: only constants can be assigned.
	switch code {
	case "invalid_token":
		e.ErrorType = "invalid_token"
	case "insufficient_scope":
		e.ErrorType = "insufficient_scope"
	case "unsupported_token_type":
		e.ErrorType = "unsupported_token_type"
	case "consent_required":
		e.ErrorType = "consent_required"
	case "account_selection_required":
		e.ErrorType = "account_selection_required"
	case "invalid_target":
		e.ErrorType = "invalid_target"
	case "unmet_authentication_requirements":
		// OpenID Connect Extended Authentication Profile (EAP) ACR Values 1.0, 3.
		e.ErrorType = "unmet_authentication_requirements"
	}
	return e
}

// userinfo answers the UserInfo endpoint for an opaque access token.
func (p *Provider) userinfo(ctx context.Context, token string) (*userClaims, error) {
	invalid := op.NewStatusError(oidcError("invalid_token", "the access token is invalid or expired"), http.StatusUnauthorized)
	if !secret.Plausible(token) {
		return nil, invalid
	}
	// One read for the token and its account: this is the hot path of a
	// resource server.
	at, acct, err := p.store.GetAccessTokenWithAccount(ctx, secret.Hash(token))
	if errors.Is(err, storage.ErrNotFound) {
		return nil, invalid
	}
	if err != nil {
		return nil, serverError(err)
	}
	if !at.RevokedAt.IsZero() || !at.ExpiresAt.After(p.now()) || at.AccountID == "" {
		return nil, invalid
	}
	if !slices.Contains(at.Scopes, oidc.ScopeOpenID) {
		return nil, op.NewStatusError(oidcError("insufficient_scope", "the access token lacks the openid scope"), http.StatusForbidden)
	}
	if acct.ID == "" || checkActive(acct) != nil { // the account is gone or disabled
		return nil, invalid
	}
	claims, err := p.claims(ctx, acct, at.Scopes)
	if err != nil {
		return nil, serverError(err)
	}
	return &claims, nil
}

// introspection is an RFC 7662 response.
type introspection struct {
	Active    bool     `json:"active"`
	Scope     string   `json:"scope,omitempty"`
	ClientID  string   `json:"client_id,omitempty"`
	Subject   string   `json:"sub,omitempty"`
	TokenType string   `json:"token_type,omitempty"`
	Expiry    int64    `json:"exp,omitempty"`
	IssuedAt  int64    `json:"iat,omitempty"`
	Audience  []string `json:"aud,omitempty"`
	Issuer    string   `json:"iss,omitempty"`
	JWTID     string   `json:"jti,omitempty"`
}

// introspect reports whether token is active, to caller. Anything the
// caller may not know about (another client's token, a token for another
// API) reads as inactive, like a token that does not exist.
func (p *Provider) introspect(ctx context.Context, caller *client, token, hint string) (*introspection, error) {
	inactive := &introspection{}
	if isJWT(token) {
		claims, ok := p.verifyAccessJWT(ctx, token)
		if !ok || !visibleTo(caller, claims.ClientID, claims.Audience) {
			return inactive, nil
		}
		// Revoked (revoke): the deny list is in the database, so a
		// revocation on any node holds here at once.
		if denied, err := p.store.JTIDenied(ctx, claims.JWTID); err != nil {
			return nil, serverError(err)
		} else if denied {
			return inactive, nil
		}
		return &introspection{
			Active: true, Scope: claims.Scope, ClientID: claims.ClientID, Subject: claims.Subject,
			TokenType: oidc.BearerToken, Expiry: claims.Expiry, IssuedAt: claims.IssuedAt,
			Audience: claims.Audience, Issuer: claims.Issuer, JWTID: claims.JWTID,
		}, nil
	}
	if !secret.Plausible(token) {
		return inactive, nil
	}
	hash := secret.Hash(token)
	now := p.now()
	lookups := []string{"access_token", "refresh_token"}
	if hint == "refresh_token" {
		lookups = []string{"refresh_token", "access_token"}
	}
	for _, kind := range lookups {
		switch kind {
		case "access_token":
			at, acct, err := p.store.GetAccessTokenStatus(ctx, hash)
			if errors.Is(err, storage.ErrNotFound) {
				continue
			}
			if err != nil {
				return nil, serverError(err)
			}
			if !at.RevokedAt.IsZero() || !at.ExpiresAt.After(now) || !visibleTo(caller, at.ClientID, at.Audience) ||
				(at.AccountID != "" && (!acct.Exists || acct.Disabled)) {
				return inactive, nil
			}
			return &introspection{
				Active: true, Scope: strings.Join(at.Scopes, " "), ClientID: at.ClientID, Subject: at.AccountID,
				TokenType: oidc.BearerToken, Expiry: at.ExpiresAt.Unix(), IssuedAt: at.CreatedAt.Unix(),
				Audience: at.Audience, Issuer: p.issuer,
			}, nil
		case "refresh_token":
			rt, err := p.store.GetRefreshToken(ctx, hash)
			if errors.Is(err, storage.ErrNotFound) {
				continue
			}
			if err != nil {
				return nil, serverError(err)
			}
			if !rt.RevokedAt.IsZero() || !rt.UsedAt.IsZero() || !rt.ExpiresAt.After(now) ||
				rt.ClientID != caller.rec.ID || !p.accountActive(ctx, rt.AccountID) {
				return inactive, nil
			}
			return &introspection{
				Active: true, Scope: strings.Join(rt.Scopes, " "), ClientID: rt.ClientID, Subject: rt.AccountID,
				Expiry: rt.ExpiresAt.Unix(), IssuedAt: rt.CreatedAt.Unix(), Audience: rt.Audience, Issuer: p.issuer,
			}, nil
		}
	}
	return inactive, nil
}

// visibleTo reports whether caller may see an access token issued to
// clientID for audience at introspection: the client it was issued to,
// a client in its audience, or the API whose identifier is in it (RFC
// 8707; resource.go).
func visibleTo(caller *client, clientID string, audience []string) bool {
	return clientID == caller.rec.ID || slices.Contains(audience, caller.rec.ID) ||
		(caller.rec.ResourceServer != "" && slices.Contains(audience, caller.rec.ResourceServer))
}

// accountActive: a client's own token (no account) is active as such.
func (p *Provider) accountActive(ctx context.Context, accountID string) bool {
	if accountID == "" {
		return true
	}
	_, err := p.activeAccount(ctx, accountID)
	return err == nil
}

func isJWT(token string) bool { return strings.Count(token, ".") == 2 && len(token) < 8192 }

// verifyAccessJWT checks a client_credentials access token portti issued.
func (p *Provider) verifyAccessJWT(ctx context.Context, token string) (accessTokenClaims, bool) {
	var claims accessTokenClaims
	payload, jws, err := p.keys.verify(ctx, token)
	if err != nil {
		return claims, false
	}
	if typ, _ := jws.Signatures[0].Protected.ExtraHeaders[jose.HeaderType].(string); !strings.EqualFold(typ, "at+jwt") {
		return claims, false // an id_token is not an access token
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		return claims, false
	}
	if claims.Issuer != p.issuer || claims.Expiry <= p.now().Unix() || claims.JWTID == "" {
		return claims, false
	}
	// A removed client's tokens stop working with it (from the cache:
	// within Config.ClientCacheTTL on every node).
	if _, err := p.clients.get(ctx, claims.ClientID); err != nil {
		return claims, false
	}
	return claims, true
}

// revoke revokes a token of client c (RFC 7009). A refresh token takes
// its whole chain with it, access tokens included (RFC 7009 2.1). A
// client's own JWT (client_credentials) goes on the deny list by its jti
// until it expires. Unknown tokens are answered with success, as the RFC
// asks; another client's are refused (RFC 7009 2.1).
func (p *Provider) revoke(ctx context.Context, c *client, token, hint string) error {
	notYours := oidc.ErrUnauthorizedClient().WithDescription("the token was not issued to this client")
	if isJWT(token) {
		claims, ok := p.verifyAccessJWT(ctx, token)
		if !ok {
			return nil // expired, or not portti's: nothing to revoke
		}
		if claims.ClientID != c.rec.ID {
			return notYours
		}
		err := p.store.DenyJTI(ctx, storage.RevokedJTI{
			JTI: claims.JWTID, ClientID: claims.ClientID, RevokedAt: p.now(), ExpiresAt: time.Unix(claims.Expiry, 0),
		})
		if err != nil {
			return serverError(err)
		}
		p.log.InfoContext(ctx, "oidc: client access token revoked", "client_id", c.rec.ID, "jti", claims.JWTID)
		return nil
	}
	if !secret.Plausible(token) {
		return nil
	}
	hash := secret.Hash(token)
	now := p.now()
	lookups := []string{"refresh_token", "access_token"}
	if hint == "access_token" {
		lookups = []string{"access_token", "refresh_token"}
	}
	for _, kind := range lookups {
		switch kind {
		case "refresh_token":
			rt, err := p.store.GetRefreshToken(ctx, hash)
			if errors.Is(err, storage.ErrNotFound) {
				continue
			}
			if err != nil {
				return serverError(err)
			}
			if rt.ClientID != c.rec.ID {
				return notYours
			}
			if _, err := p.store.RevokeRefreshChain(ctx, rt.ChainID, now); err != nil {
				return serverError(err)
			}
			return nil
		case "access_token":
			at, err := p.store.GetAccessToken(ctx, hash)
			if errors.Is(err, storage.ErrNotFound) {
				continue
			}
			if err != nil {
				return serverError(err)
			}
			if at.ClientID != c.rec.ID {
				return notYours
			}
			if err := p.store.RevokeAccessToken(ctx, at.ID, now); err != nil && !errors.Is(err, storage.ErrNotFound) {
				return serverError(err)
			}
			return nil
		}
	}
	return nil
}
