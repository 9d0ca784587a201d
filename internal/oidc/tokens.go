package oidc

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/portti/portti/internal/secret"
	"github.com/portti/portti/internal/storage"
)

// Token formats:
//
//   - Access tokens of a person (code and refresh grants) are opaque: 256
//     random bits, base64url. Only their SHA-256 is stored, as
//     storage.AccessToken.ID, so revocation and introspection are a lookup
//     and a database leak yields no usable token.
//   - Access tokens of a client (client_credentials) are ES256 JWTs (RFC
//     9068, typ at+jwt) that are never stored: a grant costs a cached
//     client lookup and one signature. They live AccessTokenTTL; a revoked
//     one's jti is on the deny list (storage.RevokedJTI) until then.
//   - Refresh tokens are opaque like access tokens, stored as SHA-256 and
//     rotated at every use (see refresh).
//   - id_tokens are JWTs signed RS256, or ES256 for clients registered
//     with --id-token-alg ES256.

// grant is what a sign-in granted a client; tokens carry it on.
type grant struct {
	chainID   string
	accountID string
	sessionID string
	scopes    []string
	authTime  time.Time
	amr       []string
	acr       string
	nonce     string
	// target is the API the access token is for (resource.go); nil: the
	// client itself.
	target *target
}

var (
	errCodeReused   = errors.New("authorization code reused")
	errWrongClient  = errors.New("token issued to another client")
	errTokenRevoked = errors.New("token revoked")
	errTokenReused  = errors.New("refresh token reused")
	errTokenExpired = errors.New("token expired")
	errBadScope     = errors.New("scope not in the original grant")
	errDisabled     = errors.New("account disabled")
	// errNoTargetScope: the grant has none of the scopes the API asked
	// for accepts (resource.go).
	errNoTargetScope = errors.New("no scope the resource accepts")
)

func invalidGrant(desc string) *oidc.Error { return oidc.ErrInvalidGrant().WithDescription("%s", desc) }

func serverError(err error) *oidc.Error { return oidc.ErrServerError().WithParent(err) }

// exchangeCode redeems an authorization code (RFC 6749 4.1.3). resource
// is the request's resource parameter (RFC 8707 2.2): the API named in the
// authorization request, or, when that named none, any API the client may
// ask for; without it, the authorization request's.
func (p *Provider) exchangeCode(ctx context.Context, c *client, req *oidc.AccessTokenRequest, resource []string) (*oidc.AccessTokenResponse, error) {
	if !secret.Plausible(req.Code) {
		return nil, invalidGrant("invalid or expired code")
	}
	now := p.now()
	rec, err := p.store.GetAuthRequestByCode(ctx, secret.Hash(req.Code))
	if errors.Is(err, storage.ErrNotFound) {
		return nil, invalidGrant("invalid or expired code")
	}
	if err != nil {
		return nil, serverError(err)
	}
	if !rec.ExpiresAt.After(now) || rec.AccountID == "" {
		return nil, invalidGrant("invalid or expired code")
	}
	if rec.ClientID != c.rec.ID {
		return nil, invalidGrant("the code was issued to another client")
	}
	a, err := decodeRequest(rec)
	if err != nil {
		return nil, serverError(err)
	}
	if err := verifyPKCE(a.data.CodeChallenge, req.CodeVerifier, c.rec.Public); err != nil {
		return nil, err
	}
	if req.RedirectURI != a.data.RedirectURI {
		return nil, invalidGrant("redirect_uri does not match the authorization request")
	}
	if len(resource) == 0 && a.data.Resource != "" {
		resource = []string{a.data.Resource}
	}
	tgt, err := p.resolveTarget(ctx, resource, a.data.Scopes)
	if err != nil {
		return nil, err
	}
	if a.data.Resource != "" && (tgt == nil || tgt.api.rec.ResourceServer != a.data.Resource) {
		return nil, errInvalidTarget("the authorization request was for resource %q", a.data.Resource)
	}

	// Redeem the code, once: the flag is set in the same transaction that
	// reads it, so two concurrent exchanges cannot both succeed.
	chainID, err := randomID(p.cfg.Random)
	if err != nil {
		return nil, serverError(err)
	}
	// The redemption and the tokens it issues are one transaction: one
	// commit per exchange (issue 8, benchmark h), and no token stored
	// for a code that was not redeemed. The account is read in it too.
	var (
		earlierChain string
		acct         storage.Account
		acctErr      error
		g            grant
		atScopes     []string
	)
	resp := &oidc.AccessTokenResponse{TokenType: oidc.BearerToken, ExpiresIn: uint64(p.cfg.AccessTokenTTL.Seconds())}
	err = p.store.InTx(ctx, func(tx storage.Storage) error {
		_, err := tx.UpdateAuthRequest(ctx, rec.ID, func(r storage.AuthRequest) (storage.AuthRequest, error) {
			d, err := decodeRequest(r)
			if err != nil {
				return r, err
			}
			if d.data.Exchanged || r.CodeHash != rec.CodeHash {
				earlierChain = d.data.ChainID
				return r, errCodeReused
			}
			d.data.Exchanged, d.data.ChainID = true, chainID
			r.Data, err = encodeData(d.data)
			return r, err
		})
		if err != nil {
			return err
		}
		if acct, acctErr = activeAccountIn(ctx, tx, rec.AccountID); acctErr != nil {
			return nil // the code stays spent; no tokens
		}
		g = grant{
			chainID: chainID, accountID: acct.ID, sessionID: rec.SessionID, scopes: a.data.Scopes,
			authTime: rec.AuthTime, amr: a.data.AMR, acr: a.data.ACR, nonce: a.data.Nonce, target: tgt,
		}
		atScopes, _ = tgt.limit(g.scopes) // resolveTarget saw these scopes
		if resp.AccessToken, err = p.issueAccessTokenIn(ctx, tx, c, g, atScopes, now); err != nil {
			return errTokens{err}
		}
		// Refresh tokens only for offline_access (OIDC Core 11), and
		// only to clients allowed the grant.
		if slices.Contains(g.scopes, oidc.ScopeOfflineAccess) && c.hasGrant(GrantRefreshToken) {
			if resp.RefreshToken, err = p.issueRefreshTokenIn(ctx, tx, c, g, now); err != nil {
				return errTokens{err}
			}
		}
		return nil
	})
	var te errTokens
	switch {
	case errors.As(err, &te):
		return nil, serverError(te.err)
	case errors.Is(err, errCodeReused):
		// RFC 6749 4.1.2: a code used twice was stolen by someone;
		// revoke what the first use got.
		n, rerr := p.store.RevokeRefreshChain(ctx, earlierChain, now)
		p.log.WarnContext(ctx, "oidc: authorization code used twice; revoked the tokens issued for it",
			"client_id", c.rec.ID, "account_id", rec.AccountID, "revoked_refresh_tokens", n, "revoke_error", rerr)
		return nil, invalidGrant("invalid or expired code")
	case errors.Is(err, storage.ErrNotFound):
		return nil, invalidGrant("invalid or expired code")
	case err != nil:
		return nil, serverError(err)
	case acctErr != nil:
		return nil, accountError(acctErr)
	}
	resp.Scope = atScopes
	if slices.Contains(g.scopes, oidc.ScopeOpenID) {
		if resp.IDToken, err = p.idToken(ctx, c, acct, g, resp.AccessToken, now); err != nil {
			return nil, serverError(err)
		}
	}
	return resp, nil
}

// errTokens is a failure to store the tokens of a code exchange, told
// apart from the redemption's own errors (storage.ErrNotFound there
// means the code is gone).
type errTokens struct{ err error }

func (e errTokens) Error() string { return e.err.Error() }
func (e errTokens) Unwrap() error { return e.err }

// verifyPKCE checks the code_verifier against the stored S256 challenge
// (RFC 7636 4.6), in constant time.
func verifyPKCE(challenge, verifier string, public bool) error {
	if challenge == "" {
		if verifier != "" {
			// RFC 9700 2.1.1: a verifier without a challenge is refused,
			// or an attacker could strip the challenge from a request.
			return invalidGrant("code_verifier sent, but the authorization request had no code_challenge")
		}
		if public {
			return invalidGrant("PKCE is required for public clients")
		}
		return nil
	}
	if !validVerifier(verifier) {
		return invalidGrant("code_verifier is missing or malformed (RFC 7636: 43 to 128 characters)")
	}
	sum := sha256.Sum256([]byte(verifier))
	var enc [43]byte
	base64.RawURLEncoding.Encode(enc[:], sum[:])
	if subtle.ConstantTimeCompare(enc[:], []byte(challenge)) != 1 {
		return invalidGrant("code_verifier does not match the code_challenge")
	}
	return nil
}

func validVerifier(v string) bool {
	if len(v) < 43 || len(v) > 128 {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~') {
			return false
		}
	}
	return true
}

// refresh redeems a refresh token (RFC 6749 6). The token is rotated:
// marked used and replaced by a new one of the same chain. A used token
// presented again means two parties hold the chain, so the whole chain
// (and the access tokens it issued) is revoked and both must sign in
// again (RFC 9700 4.14.2) — unless its own client presents it again
// within Config.RefreshReuseGrace of the rotation, which is parallel
// requests racing, not theft: those get the same successor
// (refreshgrace.go). A rotated token presented by another client is
// reuse too.
//
// resource (RFC 8707) names the API the new access token is for, any the
// client may ask for; its scopes are then limited to the API's.
func (p *Provider) refresh(ctx context.Context, c *client, req *oidc.RefreshTokenRequest, resource []string) (*oidc.AccessTokenResponse, error) {
	if !secret.Plausible(req.RefreshToken) {
		return nil, invalidGrant("invalid refresh token")
	}
	// The API is checked against the scopes it accepts once the token's
	// grant is read (errNoTargetScope), before anything is written.
	tgt, err := p.resolveTarget(ctx, resource, nil)
	if err != nil {
		return nil, err
	}
	now := p.now()
	asked := []string(req.Scopes)
	hash := secret.Hash(req.RefreshToken)
	grace := p.cfg.RefreshReuseGrace
	// The successor is made, and sealed for the grace period, before the
	// transaction: the write lock is held for writes only.
	next, nextHash, err := secret.New(p.cfg.Random)
	if err != nil {
		return nil, serverError(err)
	}
	var sealed []byte
	if grace > 0 {
		if sealed, err = p.sealSuccessor(req.RefreshToken, hash, next); err != nil {
			return nil, serverError(err)
		}
	}
	var (
		reusedChain string
		rt          storage.RefreshToken
		rotated     bool  // the old token is marked used (in the transaction)
		acctErr     error // the account may no longer get tokens
		resp        *oidc.AccessTokenResponse
	)
	// The rotation and the new tokens are one transaction: on SQLite one
	// commit under the single write lock instead of three, and never a
	// used token without its successor when issuing fails.
	err = p.store.InTx(ctx, func(tx storage.Storage) error {
		var (
			old storage.RefreshToken
			err error
		)
		rt, err = tx.UpdateRefreshToken(ctx, hash, func(t storage.RefreshToken) (storage.RefreshToken, error) {
			old = t
			switch {
			case t.ClientID != c.rec.ID:
				if !t.UsedAt.IsZero() && t.RevokedAt.IsZero() {
					reusedChain = t.ChainID
					return t, errTokenReused
				}
				return t, errWrongClient
			case !t.RevokedAt.IsZero():
				return t, errTokenRevoked
			case !t.UsedAt.IsZero():
				if grace > 0 && !now.After(t.UsedAt.Add(grace)) {
					return t, errWithinGrace // nothing written
				}
				reusedChain = t.ChainID
				return t, errTokenReused
			case !t.ExpiresAt.After(now):
				return t, errTokenExpired
			}
			for _, s := range asked {
				if !slices.Contains(t.Scopes, s) {
					return t, errBadScope
				}
			}
			want := t.Scopes
			if len(asked) > 0 {
				want = asked
			}
			if _, ok := tgt.limit(want); !ok {
				return t, errNoTargetScope
			}
			t.UsedAt = now
			return t, nil
		})
		if errors.Is(err, errWithinGrace) {
			rt = old
			resp, err = p.repeatRefresh(ctx, tx, c, old, req.RefreshToken, asked, tgt, now)
			var ae *accountErr
			switch {
			case errors.As(err, &ae):
				acctErr = ae.err
			case errors.Is(err, errTokenReused):
				reusedChain = old.ChainID
			}
			return err
		}
		if err != nil {
			return err
		}
		rotated = true
		acct, err := activeAccountIn(ctx, tx, rt.AccountID)
		if err != nil {
			acctErr = err
			return err
		}
		if len(c.rec.AllowedGroups) > 0 { // groups.go; most clients have none
			if in, err := p.inAllowedGroup(ctx, c, acct.ID, map[string]storage.Account{acct.ID: acct}); err != nil {
				return err
			} else if !in {
				acctErr = errNotInGroup
				return errNotInGroup
			}
		}
		g := grant{
			chainID: rt.ChainID, accountID: acct.ID, sessionID: rt.SessionID, scopes: rt.Scopes,
			authTime: rt.AuthTime, amr: rt.AMR, target: tgt,
		}
		scopes := rt.Scopes
		if len(asked) > 0 {
			scopes = asked
		}
		scopes, _ = tgt.limit(scopes)
		resp = &oidc.AccessTokenResponse{TokenType: oidc.BearerToken, Scope: scopes, ExpiresIn: uint64(p.cfg.AccessTokenTTL.Seconds())}
		if resp.AccessToken, err = p.issueAccessTokenIn(ctx, tx, c, g, scopes, now); err != nil {
			return err
		}
		if err := p.storeRefreshTokenIn(ctx, tx, c, g, nextHash, now); err != nil {
			return err
		}
		resp.RefreshToken = next
		if sealed != nil {
			err := tx.CreateRefreshSuccessor(ctx, storage.RefreshSuccessor{Hash: hash, Sealed: sealed, ExpiresAt: now.Add(grace)})
			if err != nil {
				return fmt.Errorf("store refresh successor: %w", err)
			}
		}
		return nil
	})
	switch {
	case acctErr != nil:
		if errors.Is(acctErr, errDisabled) || errors.Is(acctErr, storage.ErrNotFound) || errors.Is(acctErr, errNotInGroup) {
			_, _ = p.store.RevokeRefreshChain(ctx, rt.ChainID, now)
		}
		return nil, accountError(acctErr)
	case rotated && err != nil: // issuing the new tokens failed
		return nil, serverError(err)
	case errors.Is(err, errTokenReused):
		n, rerr := p.store.RevokeRefreshChain(ctx, reusedChain, now)
		p.log.WarnContext(ctx, "oidc: a rotated refresh token was used again; revoked its whole chain",
			"client_id", c.rec.ID, "revoked_refresh_tokens", n, "revoke_error", rerr)
		return nil, invalidGrant("refresh token already used; the grant is revoked, sign in again")
	case errors.Is(err, errBadScope):
		return nil, oidc.ErrInvalidScope().WithDescription("scope exceeds the original grant")
	case errors.Is(err, errNoTargetScope):
		return nil, errInvalidTarget("the grant holds none of the scopes %s accepts", tgt.api.rec.ResourceServer)
	case errors.Is(err, storage.ErrNotFound), errors.Is(err, errWrongClient),
		errors.Is(err, errTokenRevoked), errors.Is(err, errTokenExpired):
		return nil, invalidGrant("invalid refresh token")
	case err != nil:
		return nil, serverError(err)
	}
	// No id_token: OIDC Core 12.2 makes it optional on refresh, and an
	// RS256 signature would be most of the grant's cost. The claims are
	// at the userinfo endpoint.
	return resp, nil
}

// clientCredentials issues a client its own access token (RFC 6749 4.4)
// with the scopes it asked for, all of which must be among the client's
// (ClientSpec.Scopes); asking for none grants all of them (RFC 6749 3.3
// lets the server choose the default). A client without scopes gets a
// token resource servers authorise by client_id. With a resource (RFC
// 8707), the token is for that API, with those of the scopes it accepts.
func (p *Provider) clientCredentials(ctx context.Context, c *client, asked, resource []string) (*oidc.AccessTokenResponse, error) {
	scopes := c.rec.Scopes
	asked = slices.DeleteFunc(slices.Clone(asked), func(s string) bool { return s == "" }) // "scope=" asks for none
	if len(asked) > 0 {
		for _, s := range asked {
			if !slices.Contains(c.rec.Scopes, s) {
				return nil, oidc.ErrInvalidScope().WithDescription("scope %q is not one this client may have", s)
			}
		}
		scopes = slices.Compact(slices.Sorted(slices.Values(asked)))
	}
	tgt, err := p.resolveTarget(ctx, resource, scopes)
	if err != nil {
		return nil, err
	}
	scopes, _ = tgt.limit(scopes)
	k, err := p.keys.signer(ctx, algES256)
	if err != nil {
		return nil, serverError(err)
	}
	now := p.now()
	jti, err := randomID(p.cfg.Random)
	if err != nil {
		return nil, serverError(err)
	}
	payload := accessTokenClaims{
		Issuer: p.issuer, Subject: c.rec.ID, Audience: tgt.audience(c),
		Expiry: now.Add(p.cfg.AccessTokenTTL).Unix(), IssuedAt: now.Unix(), JWTID: jti, ClientID: c.rec.ID,
		Scope: strings.Join(scopes, " "),
	}.appendJSON(make([]byte, 0, 256))
	token, err := k.sign(payload, "at+jwt")
	if err != nil {
		return nil, serverError(err)
	}
	return &oidc.AccessTokenResponse{AccessToken: token, TokenType: oidc.BearerToken, Scope: scopes,
		ExpiresIn: uint64(p.cfg.AccessTokenTTL.Seconds())}, nil
}

// accessTokenClaims is a client_credentials access token (RFC 9068).
type accessTokenClaims struct {
	Issuer   string   `json:"iss"`
	Subject  string   `json:"sub"`
	Audience []string `json:"aud"`
	Expiry   int64    `json:"exp"`
	IssuedAt int64    `json:"iat"`
	JWTID    string   `json:"jti"`
	ClientID string   `json:"client_id"`
	Scope    string   `json:"scope,omitempty"`
}

// appendJSON appends the claims as encoding/json writes them
// (TestAccessTokenClaimsJSON): once per grant, without reflection.
func (c accessTokenClaims) appendJSON(b []byte) []byte {
	b = append(b, `{"iss":`...)
	b = appendJSONString(b, c.Issuer)
	b = append(b, `,"sub":`...)
	b = appendJSONString(b, c.Subject)
	b = append(b, `,"aud":`...)
	if c.Audience == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, a := range c.Audience {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, a)
		}
		b = append(b, ']')
	}
	b = append(b, `,"exp":`...)
	b = strconv.AppendInt(b, c.Expiry, 10)
	b = append(b, `,"iat":`...)
	b = strconv.AppendInt(b, c.IssuedAt, 10)
	b = append(b, `,"jti":`...)
	b = appendJSONString(b, c.JWTID)
	b = append(b, `,"client_id":`...)
	b = appendJSONString(b, c.ClientID)
	if c.Scope != "" {
		b = append(b, `,"scope":`...)
		b = appendJSONString(b, c.Scope)
	}
	return append(b, '}')
}

// idTokenClaims is an id_token's payload.
type idTokenClaims struct {
	Issuer   string   `json:"iss"`
	Audience []string `json:"aud"`
	Expiry   int64    `json:"exp"`
	IssuedAt int64    `json:"iat"`
	AuthTime int64    `json:"auth_time,omitempty"`
	Nonce    string   `json:"nonce,omitempty"`
	AMR      []string `json:"amr,omitempty"`
	ACR      string   `json:"acr,omitempty"`
	AZP      string   `json:"azp"`
	SID      string   `json:"sid,omitempty"`
	AtHash   string   `json:"at_hash,omitempty"`
	userClaims
}

// idToken signs an id_token for a code exchange. The scope's claims are in
// it as well as at userinfo: many relying parties read only the id_token.
func (p *Provider) idToken(ctx context.Context, c *client, acct storage.Account, g grant, accessToken string, now time.Time) (string, error) {
	k, err := p.keys.signer(ctx, c.idTokenAlg())
	if err != nil {
		return "", err
	}
	atHash, err := oidc.ClaimHash(accessToken, jose.SignatureAlgorithm(k.alg()))
	if err != nil {
		return "", fmt.Errorf("at_hash: %w", err)
	}
	uc, err := p.claims(ctx, acct, g.scopes)
	if err != nil {
		return "", err
	}
	claims := idTokenClaims{
		Issuer: p.issuer, Audience: []string{c.rec.ID},
		Expiry: now.Add(p.cfg.IDTokenTTL).Unix(), IssuedAt: now.Unix(),
		Nonce: g.nonce, AMR: g.amr, ACR: g.acr, AZP: c.rec.ID, SID: SessionSID(g.sessionID), AtHash: atHash,
		userClaims: uc,
	}
	if !g.authTime.IsZero() {
		claims.AuthTime = g.authTime.Unix()
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("id_token: %w", err)
	}
	return k.sign(payload, "JWT")
}

// SessionSID is the "sid" claim for a browser session: the first 128 bits
// of SHA-256("sid:"+session ID), base64url. The session ID is the
// database key of the session; applications get a value derived one way
// from it, which identifies the session in back-channel logout tokens
// without being a key to look it up by.
func SessionSID(sessionID string) string {
	if sessionID == "" {
		return ""
	}
	sum := sha256.Sum256([]byte("sid:" + sessionID))
	return base64.RawURLEncoding.EncodeToString(sum[:16])
}

func (p *Provider) issueAccessToken(ctx context.Context, c *client, g grant, scopes []string, now time.Time) (string, error) {
	return p.issueAccessTokenIn(ctx, p.store, c, g, scopes, now)
}

// issueAccessTokenIn stores the new token through st (a transaction).
func (p *Provider) issueAccessTokenIn(ctx context.Context, st storage.Storage, c *client, g grant, scopes []string, now time.Time) (string, error) {
	token, hash, err := secret.New(p.cfg.Random)
	if err != nil {
		return "", err
	}
	err = st.CreateAccessToken(ctx, storage.AccessToken{
		ID: hash, ChainID: g.chainID, ClientID: c.rec.ID, AccountID: g.accountID,
		Scopes: scopes, Audience: g.target.audience(c),
		CreatedAt: now, ExpiresAt: now.Add(p.cfg.AccessTokenTTL),
	})
	if err != nil {
		return "", fmt.Errorf("store access token: %w", err)
	}
	return token, nil
}

func (p *Provider) issueRefreshToken(ctx context.Context, c *client, g grant, now time.Time) (string, error) {
	return p.issueRefreshTokenIn(ctx, p.store, c, g, now)
}

// issueRefreshTokenIn stores the new token through st (a transaction).
func (p *Provider) issueRefreshTokenIn(ctx context.Context, st storage.Storage, c *client, g grant, now time.Time) (string, error) {
	token, hash, err := secret.New(p.cfg.Random)
	if err != nil {
		return "", err
	}
	if err := p.storeRefreshTokenIn(ctx, st, c, g, hash, now); err != nil {
		return "", err
	}
	return token, nil
}

// storeRefreshTokenIn stores the record of a refresh token whose hash is
// hash through st (a transaction).
func (p *Provider) storeRefreshTokenIn(ctx context.Context, st storage.Storage, c *client, g grant, hash string, now time.Time) error {
	err := st.CreateRefreshToken(ctx, storage.RefreshToken{
		Hash: hash, ChainID: g.chainID, ClientID: c.rec.ID, AccountID: g.accountID, SessionID: g.sessionID,
		Scopes: g.scopes, Audience: []string{c.rec.ID}, AMR: g.amr, AuthTime: g.authTime,
		CreatedAt: now, ExpiresAt: now.Add(p.cfg.RefreshTokenTTL),
	})
	if err != nil {
		return fmt.Errorf("store refresh token: %w", err)
	}
	return nil
}

// activeAccount returns the account if it may still get tokens.
func (p *Provider) activeAccount(ctx context.Context, id string) (storage.Account, error) {
	return activeAccountIn(ctx, p.store, id)
}

// activeAccountIn is activeAccount through st (a transaction).
func activeAccountIn(ctx context.Context, st storage.Storage, id string) (storage.Account, error) {
	a, err := st.GetAccount(ctx, id)
	if err != nil {
		return a, fmt.Errorf("load account: %w", err)
	}
	return a, checkActive(a)
}

// checkActive is activeAccount's check of an account already read:
// errDisabled if it may no longer get tokens.
func checkActive(a storage.Account) error {
	if a.Disabled {
		return errDisabled
	}
	return nil
}

func accountError(err error) error {
	if errors.Is(err, errNotInGroup) {
		return invalidGrant("the person is no longer in a group allowed to use this application")
	}
	if errors.Is(err, errDisabled) || errors.Is(err, storage.ErrNotFound) {
		return invalidGrant("the account can no longer sign in")
	}
	return serverError(err)
}

// randomID returns 128 random bits, base64url: for chain IDs and jti.
func randomID(random io.Reader) (string, error) {
	var b [16]byte
	if _, err := io.ReadFull(random, b[:]); err != nil {
		return "", fmt.Errorf("random: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}
