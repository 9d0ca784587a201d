package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// server is zitadel's LegacyServer (request parsing, validation, protocol
// errors) with portti's own token handling: zitadel's
// storage interface has no room for per-client id_token algorithms,
// hashed opaque tokens, refresh rotation with reuse detection or a
// client_credentials grant that touches no database.
type server struct {
	*op.LegacyServer
	p *Provider
}

var _ op.ExtendedLegacyServer = (*server)(nil)

// Discovery and Keys are served from memory by Provider.Handler; these
// answer the same if zitadel's routes are ever reached.
func (s *server) Discovery(ctx context.Context, r *op.Request[struct{}]) (*op.Response, error) {
	return op.NewResponse(json.RawMessage(s.p.discovery.body)), nil
}

func (s *server) Keys(ctx context.Context, r *op.Request[struct{}]) (*op.Response, error) {
	doc, err := s.p.keys.jwksDocument(ctx)
	if err != nil {
		return nil, op.AsStatusError(err, http.StatusInternalServerError)
	}
	return op.NewResponse(json.RawMessage(doc.body)), nil
}

// VerifyAuthRequest finds the client and requires the redirect_uri to be
// one of its registered URIs exactly, before anything is sent to it: a
// mismatch is shown to the person, never redirected. (zitadel alone would
// accept any port on a loopback redirect of a native client.)
func (s *server) VerifyAuthRequest(ctx context.Context, r *op.Request[oidc.AuthRequest]) (*op.ClientRequest[oidc.AuthRequest], error) {
	cr, err := s.LegacyServer.VerifyAuthRequest(ctx, r)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(cr.Client.RedirectURIs(), r.Data.RedirectURI) {
		return nil, oidc.ErrInvalidRequestRedirectURI().WithDescription("redirect_uri is not registered for this client")
	}
	return cr, nil
}

// Authorize applies portti's rules to a request whose redirect_uri is
// known good (errors from here go back to the client), then lets zitadel
// store it and send the browser to the sign-in (Client.LoginURL).
func (s *server) Authorize(ctx context.Context, r *op.ClientRequest[oidc.AuthRequest]) (*op.Redirect, error) {
	c, ok := r.Client.(*client)
	if !ok {
		return nil, oidc.ErrServerError()
	}
	if !c.hasGrant(GrantAuthorizationCode) {
		return nil, oidc.ErrUnauthorizedClient().WithDescription("this client may not use the authorization code flow")
	}
	if err := checkPKCE(c, r.Data.CodeChallenge, r.Data.CodeChallengeMethod); err != nil {
		return nil, err
	}
	// RFC 8707: the API the tokens are to be for, checked now so that the
	// client hears of a wrong one before the person signs in.
	tgt, err := s.p.resolveTarget(ctx, r.Form["resource"], r.Data.Scopes)
	if err != nil {
		return nil, err
	}
	if tgt != nil {
		ctx = context.WithValue(ctx, ctxResource{}, tgt.api.rec.ResourceServer)
	}
	return s.LegacyServer.Authorize(ctx, r)
}

// checkPKCE: S256 only ("plain" protects nothing against an attacker who
// reads the authorization request), and required for public clients,
// which have no secret to prove they are the ones redeeming the code.
func checkPKCE(c *client, challenge string, method oidc.CodeChallengeMethod) error {
	switch {
	case challenge == "" && method != "":
		return oidc.ErrInvalidRequest().WithDescription("code_challenge_method without code_challenge")
	case challenge == "" && c.rec.Public:
		return oidc.ErrInvalidRequest().WithDescription("PKCE is required: send code_challenge with code_challenge_method=S256")
	case challenge == "":
		return nil
	case method != oidc.CodeChallengeMethodS256:
		return oidc.ErrInvalidRequest().WithDescription("code_challenge_method must be S256")
	case !validChallenge(challenge):
		return oidc.ErrInvalidRequest().WithDescription("code_challenge must be the base64url SHA-256 of the code_verifier (43 characters)")
	}
	return nil
}

// validChallenge: an S256 challenge is an unpadded base64url SHA-256.
func validChallenge(s string) bool {
	if len(s) != 43 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// VerifyClient authenticates the client at the token and revocation
// endpoints: client_secret_basic or client_secret_post for confidential
// clients, just the client_id for public ones.
func (s *server) VerifyClient(ctx context.Context, r *op.Request[op.ClientCredentials]) (op.Client, error) {
	if r.Data.ClientAssertion != "" {
		return nil, unauthorized(oidc.ErrInvalidClient().WithDescription("client assertions (private_key_jwt) are not supported"))
	}
	c, err := s.p.authenticateClient(ctx, r.Data.ClientID, r.Data.ClientSecret)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// authenticateClient returns the client if the secret is right; a public
// client must present none.
func (p *Provider) authenticateClient(ctx context.Context, id, clientSecret string) (*client, error) {
	c, err := p.clients.get(ctx, id)
	if errors.Is(err, errUnknownClient) {
		// Same work as a known client, so timing does not tell which
		// client IDs exist (they are not secret, but need not be probed).
		verifySecretHash("0000000000000000000000000000000000000000000000000000000000000000", clientSecret)
		return nil, unauthorized(oidc.ErrInvalidClient().WithDescription("client authentication failed"))
	}
	if err != nil {
		return nil, oidc.ErrServerError().WithParent(err)
	}
	if c.rec.Public {
		if clientSecret != "" {
			return nil, unauthorized(oidc.ErrInvalidClient().WithDescription("client authentication failed"))
		}
		return c, nil
	}
	if !c.verifySecret(clientSecret) {
		return nil, unauthorized(oidc.ErrInvalidClient().WithDescription("client authentication failed"))
	}
	return c, nil
}

// unauthorized answers invalid_client with 401 (RFC 6749 5.2).
func unauthorized(e *oidc.Error) error { return op.NewStatusError(e, http.StatusUnauthorized) }

func (s *server) CodeExchange(ctx context.Context, r *op.ClientRequest[oidc.AccessTokenRequest]) (*op.Response, error) {
	resp, err := s.p.exchangeCode(ctx, r.Client.(*client), r.Data, r.Form["resource"])
	if err != nil {
		return nil, err
	}
	return op.NewResponse(resp), nil
}

func (s *server) RefreshToken(ctx context.Context, r *op.ClientRequest[oidc.RefreshTokenRequest]) (*op.Response, error) {
	resp, err := s.p.refresh(ctx, r.Client.(*client), r.Data, r.Form["resource"])
	if err != nil {
		return nil, err
	}
	return op.NewResponse(resp), nil
}

func (s *server) ClientCredentialsExchange(ctx context.Context, r *op.ClientRequest[oidc.ClientCredentialsRequest]) (*op.Response, error) {
	resp, err := s.p.clientCredentials(ctx, r.Client.(*client), r.Data.Scope, r.Form["resource"])
	if err != nil {
		return nil, err
	}
	return op.NewResponse(resp), nil
}

func (s *server) JWTProfile(context.Context, *op.Request[oidc.JWTProfileGrantRequest]) (*op.Response, error) {
	return nil, oidc.ErrUnsupportedGrantType().WithDescription("the JWT bearer grant is not supported")
}

func (s *server) TokenExchange(context.Context, *op.ClientRequest[oidc.TokenExchangeRequest]) (*op.Response, error) {
	return nil, oidc.ErrUnsupportedGrantType().WithDescription("token exchange is not supported")
}

func (s *server) DeviceToken(context.Context, *op.ClientRequest[oidc.DeviceAccessTokenRequest]) (*op.Response, error) {
	return nil, oidc.ErrUnsupportedGrantType().WithDescription("the device grant is not supported")
}

func (s *server) DeviceAuthorization(context.Context, *op.ClientRequest[oidc.DeviceAuthorizationRequest]) (*op.Response, error) {
	return nil, op.NewStatusError(oidc.ErrUnsupportedGrantType(), http.StatusNotFound)
}

// Introspect (RFC 7662) is for confidential clients, typically resource
// servers; a token is reported active only to the client it was issued
// to or one in its audience.
func (s *server) Introspect(ctx context.Context, r *op.Request[op.IntrospectionRequest]) (*op.Response, error) {
	cc := r.Data.ClientCredentials
	if cc.ClientAssertion != "" {
		return nil, unauthorized(oidc.ErrInvalidClient().WithDescription("client assertions (private_key_jwt) are not supported"))
	}
	c, err := s.p.authenticateClient(ctx, cc.ClientID, cc.ClientSecret)
	if err != nil {
		return nil, err
	}
	if c.rec.Public {
		return nil, unauthorized(oidc.ErrInvalidClient().WithDescription("introspection requires a confidential client"))
	}
	resp, err := s.p.introspect(ctx, c, r.Data.IntrospectionRequest.Token, r.Form.Get("token_type_hint"))
	if err != nil {
		return nil, err
	}
	return op.NewResponse(resp), nil
}

func (s *server) UserInfo(ctx context.Context, r *op.Request[oidc.UserInfoRequest]) (*op.Response, error) {
	info, err := s.p.userinfo(ctx, r.Data.AccessToken)
	if err != nil {
		return nil, err
	}
	return op.NewResponse(info), nil
}

func (s *server) Revocation(ctx context.Context, r *op.ClientRequest[oidc.RevocationRequest]) (*op.Response, error) {
	if err := s.p.revoke(ctx, r.Client.(*client), r.Data.Token, r.Data.TokenTypeHint); err != nil {
		return nil, err
	}
	return op.NewResponse(nil), nil
}
