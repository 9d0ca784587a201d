package oidc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/portti/portti/internal/secret"
	"github.com/portti/portti/internal/storage"
)

// opStorage is zitadel's op.Storage on portti's storage. zitadel calls it
// for authorization requests, codes, clients and keys. Token issuance,
// userinfo, introspection and revocation are portti's own (see server.go),
// so the methods zitadel would use for those fail closed: reaching one
// would mean a request bypassed portti's rules.
type opStorage struct{ p *Provider }

var (
	_ op.Storage                  = (*opStorage)(nil)
	_ op.ClientCredentialsStorage = (*opStorage)(nil)
)

// errNotUsed marks zitadel storage methods that portti's server overrides
// make unreachable.
var errNotUsed = errors.New("oidc: internal error: unexpected token path (handled by portti's server)")

func (s *opStorage) CreateAuthRequest(ctx context.Context, req *oidc.AuthRequest, hintSubject string) (op.AuthRequest, error) {
	return s.p.createAuthRequest(ctx, req, hintSubject)
}

func (s *opStorage) AuthRequestByID(ctx context.Context, id string) (op.AuthRequest, error) {
	return s.p.authRequest(ctx, id)
}

func (s *opStorage) AuthRequestByCode(ctx context.Context, code string) (op.AuthRequest, error) {
	if !secret.Plausible(code) {
		return nil, errRequestGone
	}
	rec, err := s.p.store.GetAuthRequestByCode(ctx, secret.Hash(code))
	if err != nil {
		return nil, errRequestGone
	}
	if !rec.ExpiresAt.After(s.p.now()) {
		return nil, errRequestGone
	}
	return decodeRequest(rec)
}

func (s *opStorage) SaveAuthCode(ctx context.Context, id, code string) error {
	return s.p.saveCode(ctx, id, code)
}

func (s *opStorage) DeleteAuthRequest(ctx context.Context, id string) error {
	if err := s.p.store.DeleteAuthRequest(ctx, id); err != nil && !errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("delete auth request: %w", err)
	}
	return nil
}

func (s *opStorage) CreateAccessToken(context.Context, op.TokenRequest) (string, time.Time, error) {
	return "", time.Time{}, errNotUsed
}

func (s *opStorage) CreateAccessAndRefreshTokens(context.Context, op.TokenRequest, string) (string, string, time.Time, error) {
	return "", "", time.Time{}, errNotUsed
}

func (s *opStorage) TokenRequestByRefreshToken(context.Context, string) (op.RefreshTokenRequest, error) {
	return nil, errNotUsed
}

func (s *opStorage) TerminateSession(context.Context, string, string) error { return errNotUsed }

func (s *opStorage) RevokeToken(context.Context, string, string, string) *oidc.Error {
	return oidc.ErrServerError().WithParent(errNotUsed)
}

func (s *opStorage) GetRefreshTokenInfo(context.Context, string, string) (string, string, error) {
	return "", "", op.ErrInvalidRefreshToken
}

// SigningKey is the RS256 key; zitadel only asks for it on paths portti
// overrides, but it is the right answer for an id_token.
func (s *opStorage) SigningKey(ctx context.Context) (op.SigningKey, error) {
	k, err := s.p.keys.signer(ctx, algRS256)
	if err != nil {
		return nil, err
	}
	return opSigningKey{k}, nil
}

func (s *opStorage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{jose.RS256, jose.ES256}, nil
}

func (s *opStorage) KeySet(ctx context.Context) ([]op.Key, error) {
	var out []op.Key
	for _, k := range s.p.keys.published() {
		out = append(out, opPublicKey{k})
	}
	return out, nil
}

func (s *opStorage) GetClientByClientID(ctx context.Context, id string) (op.Client, error) {
	c, err := s.p.clients.get(ctx, id)
	if err != nil {
		if errors.Is(err, errUnknownClient) {
			return nil, oidc.ErrInvalidClient().WithDescription("unknown client").WithParent(err)
		}
		return nil, oidc.ErrServerError().WithParent(err)
	}
	return c, nil
}

func (s *opStorage) AuthorizeClientIDSecret(ctx context.Context, id, clientSecret string) error {
	_, err := s.p.authenticateClient(ctx, id, clientSecret)
	return err
}

func (s *opStorage) ClientCredentials(ctx context.Context, id, clientSecret string) (op.Client, error) {
	c, err := s.p.authenticateClient(ctx, id, clientSecret)
	if err != nil {
		return nil, err
	}
	return c, nil
}

func (s *opStorage) ClientCredentialsTokenRequest(ctx context.Context, id string, _ []string) (op.TokenRequest, error) {
	return clientTokenRequest{id: id}, nil
}

// clientTokenRequest is a client_credentials grant: the client is the
// subject, and no scope is granted (see Provider.clientCredentials).
type clientTokenRequest struct{ id string }

func (r clientTokenRequest) GetSubject() string    { return r.id }
func (r clientTokenRequest) GetAudience() []string { return []string{r.id} }
func (r clientTokenRequest) GetScopes() []string   { return nil }
func (s *opStorage) SetUserinfoFromScopes(context.Context, *oidc.UserInfo, string, string, []string) error {
	return nil // deprecated in zitadel; claims come from Provider.userInfo
}

func (s *opStorage) SetUserinfoFromToken(context.Context, *oidc.UserInfo, string, string, string) error {
	return errNotUsed
}

func (s *opStorage) SetIntrospectionFromToken(context.Context, *oidc.IntrospectionResponse, string, string, string) error {
	return errNotUsed
}

func (s *opStorage) GetPrivateClaimsFromScopes(context.Context, string, string, []string) (map[string]any, error) {
	return nil, nil
}

// GetKeyByIDAndClientID would verify client assertions (private_key_jwt,
// JWT profile grants), which portti does not accept.
func (s *opStorage) GetKeyByIDAndClientID(context.Context, string, string) (*jose.JSONWebKey, error) {
	return nil, errors.New("client keys are not supported")
}

func (s *opStorage) ValidateJWTProfileScopes(context.Context, string, []string) ([]string, error) {
	return nil, errors.New("JWT profile grants are not supported")
}

func (s *opStorage) Health(context.Context) error { return nil }

// opSigningKey adapts a key for zitadel's signing.
type opSigningKey struct{ k *signingKey }

func (o opSigningKey) SignatureAlgorithm() jose.SignatureAlgorithm {
	return jose.SignatureAlgorithm(o.k.alg())
}
func (o opSigningKey) Key() any   { return o.k.priv }
func (o opSigningKey) ID() string { return o.k.id() }

// opPublicKey adapts a key for zitadel's verifiers.
type opPublicKey struct{ k *signingKey }

func (o opPublicKey) ID() string                         { return o.k.id() }
func (o opPublicKey) Algorithm() jose.SignatureAlgorithm { return jose.SignatureAlgorithm(o.k.alg()) }
func (o opPublicKey) Use() string                        { return "sig" }
func (o opPublicKey) Key() any                           { return o.k.public.Key }

// keySet verifies portti's own JWTs (id_token_hint) for zitadel, with the
// keyring's reload on an unknown kid.
type keySet struct{ kr *keyring }

func (ks keySet) VerifySignature(ctx context.Context, jws *jose.JSONWebSignature) ([]byte, error) {
	if len(jws.Signatures) != 1 {
		return nil, errors.New("want exactly one signature")
	}
	h := jws.Signatures[0].Header
	k := ks.kr.lookup(ctx, h.KeyID)
	if k == nil || h.Algorithm != k.alg() {
		return nil, errors.New("unknown signing key")
	}
	return jws.Verify(k.public.Key)
}

// codeCrypto makes authorization codes. zitadel builds a code by
// "encrypting" the request ID and then calls SaveAuthCode with it; portti
// stores only the code's SHA-256 and finds the request by that hash, so a
// code needs no structure: Encrypt returns a fresh 256-bit random secret.
// zitadel decrypts only opaque access tokens, on paths portti overrides,
// so Decrypt always fails.
type codeCrypto struct{ random io.Reader }

func (c codeCrypto) Encrypt(string) (string, error) {
	code, _, err := secret.New(c.random)
	return code, err
}

func (c codeCrypto) Decrypt(string) (string, error) {
	return "", errors.New("not an encrypted value")
}
