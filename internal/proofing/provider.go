package proofing

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/client"
	"github.com/zitadel/oidc/v3/pkg/client/rp"
	"github.com/zitadel/oidc/v3/pkg/oidc"
)

// Token endpoint authentication methods a provider may be configured with.
const (
	AuthPrivateKeyJWT     = "private_key_jwt"
	AuthClientSecretBasic = "client_secret_basic"
)

// Provider is one configured strong identification provider: an upstream
// OpenID Connect provider, such as an FTN broker, of which portti is a
// relying party.
type Provider struct {
	ID     string
	Name   map[string]string // by language: fi, sv, en
	Issuer string
	// ClientID is portti's client at the provider.
	ClientID  string
	Scopes    []string // "openid" is added when missing
	ACRValues []string // e.g. http://ftn.ficora.fi/2017/loa3; the id_token's acr must be one of them
	// IdentifierClaim names the claim that carries the registry identifier
	// (urn:oid:1.2.246.21, nin, fi_ssn …): read from the id_token, else
	// from userinfo.
	IdentifierClaim string
	GivenNameClaim  string // default given_name
	FamilyNameClaim string // default family_name
	// TokenEndpointAuth is AuthPrivateKeyJWT (the FTN profile) or
	// AuthClientSecretBasic with ClientSecret.
	TokenEndpointAuth string
	ClientSecret      string
	// RequestObject sends the authorisation request as a signed request
	// object (request=, RFC 9101), as the FTN profile requires.
	RequestObject bool
	// EncryptedIDToken refuses an id_token that is not a JWE encrypted to
	// portti's encryption key.
	EncryptedIDToken bool
}

// DisplayName is the provider's name in lang, else in English, else its ID.
func (p Provider) DisplayName(lang string) string {
	if n := p.Name[lang]; n != "" {
		return n
	}
	if n := p.Name["en"]; n != "" {
		return n
	}
	return p.ID
}

// Errors of an answer from a provider. The person sees one page for all
// of them (with a reference code); the log and the audit event get the
// reason.
var (
	ErrProviderError = errors.New("the provider answered with an error")
	ErrBadAnswer     = errors.New("the provider's answer failed its checks")
	ErrNoIdentifier  = errors.New("the provider did not give the identifier claim")
)

// Proven is what a provider proved about the person. The identifier is
// hashed by the caller at once and never kept.
type Proven struct {
	Identifier string
	GivenName  string
	FamilyName string
	ACR        string
}

// rpClient talks to one provider.
type rpClient struct {
	p           Provider
	redirectURI string
	keys        *Keys
	http        *http.Client
	now         func() time.Time

	mu        sync.Mutex
	discovery *oidc.DiscoveryConfiguration
	keySet    oidc.KeySet
}

// discover fetches the provider's discovery document once (and again
// after a failure).
func (c *rpClient) discover(ctx context.Context) (*oidc.DiscoveryConfiguration, oidc.KeySet, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.discovery != nil {
		return c.discovery, c.keySet, nil
	}
	d, err := client.Discover(ctx, c.p.Issuer, c.http)
	if err != nil {
		return nil, nil, fmt.Errorf("discovery of %s: %w", c.p.Issuer, err)
	}
	if d.AuthorizationEndpoint == "" || d.TokenEndpoint == "" || d.JwksURI == "" {
		return nil, nil, fmt.Errorf("discovery of %s: authorization_endpoint, token_endpoint and jwks_uri are required", c.p.Issuer)
	}
	c.discovery, c.keySet = d, rp.NewRemoteKeySet(c.http, d.JwksURI)
	return c.discovery, c.keySet, nil
}

func (c *rpClient) scopes() []string {
	s := slices.Clone(c.p.Scopes)
	if !slices.Contains(s, oidc.ScopeOpenID) {
		s = append([]string{oidc.ScopeOpenID}, s...)
	}
	return s
}

// challengeS256 is the PKCE S256 challenge of verifier (RFC 7636 4.2).
func challengeS256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// AuthURL is where the person is sent: the provider's authorisation
// endpoint with, under the FTN profile, only client_id, response_type,
// scope and a signed request object (RFC 9101 §5: the parameters are
// repeated outside only as OAuth requires) carrying state, nonce, PKCE
// and acr_values.
func (c *rpClient) AuthURL(ctx context.Context, state, nonce, verifier, lang string) (string, error) {
	d, _, err := c.discover(ctx)
	if err != nil {
		return "", err
	}
	params := map[string]any{
		"response_type":         "code",
		"client_id":             c.p.ClientID,
		"redirect_uri":          c.redirectURI,
		"scope":                 strings.Join(c.scopes(), " "),
		"state":                 state,
		"nonce":                 nonce,
		"code_challenge":        challengeS256(verifier),
		"code_challenge_method": "S256",
	}
	if len(c.p.ACRValues) > 0 {
		params["acr_values"] = strings.Join(c.p.ACRValues, " ")
	}
	if lang != "" {
		params["ui_locales"] = lang
	}
	q := url.Values{}
	if c.p.RequestObject {
		now := c.now()
		claims := map[string]any{"iss": c.p.ClientID, "aud": c.p.Issuer, "iat": now.Unix(),
			"nbf": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(), "jti": nonce}
		for k, v := range params {
			claims[k] = v
		}
		jwt, err := c.sign(ctx, claims, "oauth-authz-req+jwt")
		if err != nil {
			return "", err
		}
		q.Set("client_id", c.p.ClientID)
		q.Set("response_type", "code")
		q.Set("scope", strings.Join(c.scopes(), " "))
		q.Set("request", jwt)
	} else {
		for k, v := range params {
			q.Set(k, v.(string))
		}
	}
	sep := "?"
	if strings.Contains(d.AuthorizationEndpoint, "?") {
		sep = "&"
	}
	return d.AuthorizationEndpoint + sep + q.Encode(), nil
}

func (c *rpClient) sign(ctx context.Context, claims map[string]any, typ string) (string, error) {
	signer, err := c.keys.signer(ctx, typ)
	if err != nil {
		return "", err
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("sign: %w", err)
	}
	return jws.CompactSerialize()
}

// tokenResponse is the part of the token endpoint's answer portti reads.
// The access token is used once for userinfo, when needed, and dropped.
type tokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	IDToken     string `json:"id_token"`
	Error       string `json:"error"`
}

// Exchange trades the code for the id_token (OpenID Connect Core 3.1.3),
// authenticating with a private_key_jwt client assertion (RFC 7523,
// Core 9) or HTTP Basic, decrypts and verifies the id_token, and returns
// the identifier and names.
func (c *rpClient) Exchange(ctx context.Context, code, verifier, nonce string) (Proven, error) {
	claims, tr, d, keySet, err := c.exchange(ctx, code, verifier, nonce)
	if err != nil {
		return Proven{}, err
	}
	out := Proven{
		Identifier: claimString(claims, c.p.IdentifierClaim),
		GivenName:  claimString(claims, orDefault(c.p.GivenNameClaim, "given_name")),
		FamilyName: claimString(claims, orDefault(c.p.FamilyNameClaim, "family_name")),
	}
	out.ACR, _ = claims["acr"].(string)
	if out.Identifier == "" && tr.AccessToken != "" && d.UserinfoEndpoint != "" {
		info, err := c.userinfo(ctx, d.UserinfoEndpoint, tr.AccessToken, keySet)
		if err != nil {
			return Proven{}, err
		}
		if sub, _ := info["sub"].(string); sub == "" || sub != claimString(claims, "sub") {
			return Proven{}, fmt.Errorf("%w: userinfo sub differs from the id_token's", ErrBadAnswer)
		}
		out.Identifier = claimString(info, c.p.IdentifierClaim)
		if out.GivenName == "" {
			out.GivenName = claimString(info, orDefault(c.p.GivenNameClaim, "given_name"))
		}
		if out.FamilyName == "" {
			out.FamilyName = claimString(info, orDefault(c.p.FamilyNameClaim, "family_name"))
		}
	}
	if out.Identifier == "" {
		return Proven{}, fmt.Errorf("%w %q", ErrNoIdentifier, c.p.IdentifierClaim)
	}
	return out, nil
}

// exchange trades the code at the token endpoint and returns the verified
// id_token's claims with the token response (its access token good for
// one userinfo call, then dropped).
func (c *rpClient) exchange(ctx context.Context, code, verifier, nonce string) (map[string]any, tokenResponse, *oidc.DiscoveryConfiguration, oidc.KeySet, error) {
	d, keySet, err := c.discover(ctx)
	if err != nil {
		return nil, tokenResponse{}, nil, nil, err
	}
	form := url.Values{
		"grant_type":    {"authorization_code"},
		"code":          {code},
		"redirect_uri":  {c.redirectURI},
		"code_verifier": {verifier},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.TokenEndpoint, nil)
	if err != nil {
		return nil, tokenResponse{}, nil, nil, err
	}
	switch c.p.TokenEndpointAuth {
	case AuthClientSecretBasic:
		req.SetBasicAuth(url.QueryEscape(c.p.ClientID), url.QueryEscape(c.p.ClientSecret))
	default:
		now := c.now()
		jti, err := randomString(16)
		if err != nil {
			return nil, tokenResponse{}, nil, nil, err
		}
		// aud names the issuer and the token endpoint: Core 9 says the
		// token endpoint SHOULD be it, and brokers (and zitadel's op)
		// check for their issuer.
		assertion, err := c.sign(ctx, map[string]any{"iss": c.p.ClientID, "sub": c.p.ClientID,
			"aud": []string{c.p.Issuer, d.TokenEndpoint}, "jti": jti,
			"iat": now.Unix(), "exp": now.Add(2 * time.Minute).Unix()}, "JWT")
		if err != nil {
			return nil, tokenResponse{}, nil, nil, err
		}
		form.Set("client_id", c.p.ClientID)
		form.Set("client_assertion_type", oidc.ClientAssertionTypeJWTAssertion)
		form.Set("client_assertion", assertion)
	}
	req.Body = io.NopCloser(strings.NewReader(form.Encode()))
	req.ContentLength = int64(len(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, tokenResponse{}, nil, nil, fmt.Errorf("token endpoint: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, tokenResponse{}, nil, nil, fmt.Errorf("token endpoint: %w", err)
	}
	var tr tokenResponse
	if err := json.Unmarshal(body, &tr); err != nil {
		return nil, tokenResponse{}, nil, nil, fmt.Errorf("%w: token endpoint answered %d, not JSON", ErrBadAnswer, resp.StatusCode)
	}
	if resp.StatusCode != http.StatusOK || tr.Error != "" {
		return nil, tokenResponse{}, nil, nil, fmt.Errorf("%w: token endpoint answered %d %q", ErrProviderError, resp.StatusCode, tr.Error)
	}
	claims, err := c.idToken(ctx, tr.IDToken, nonce, keySet)
	if err != nil {
		return nil, tokenResponse{}, nil, nil, err
	}
	return claims, tr, d, keySet, nil
}

// idToken decrypts (when a JWE) and verifies an id_token: signature by
// the provider's keys, iss, aud, exp, iat, nonce and acr (Core 3.1.3.7),
// through zitadel's verifier. It returns every claim.
func (c *rpClient) idToken(ctx context.Context, token, nonce string, keySet oidc.KeySet) (map[string]any, error) {
	if token == "" {
		return nil, fmt.Errorf("%w: no id_token", ErrBadAnswer)
	}
	jws := token
	if strings.Count(token, ".") == 4 {
		inner, err := c.decrypt(ctx, token)
		if err != nil {
			return nil, err
		}
		jws = inner
	} else if c.p.EncryptedIDToken {
		return nil, fmt.Errorf("%w: the id_token is not encrypted", ErrBadAnswer)
	}
	opts := []rp.VerifierOption{rp.WithNonce(func(context.Context) string { return nonce })}
	if len(c.p.ACRValues) > 0 {
		opts = append(opts, rp.WithACRVerifier(oidc.DefaultACRVerifier(c.p.ACRValues)))
	}
	v := rp.NewIDTokenVerifier(c.p.Issuer, c.p.ClientID, keySet, opts...)
	if _, err := rp.VerifyIDToken[*oidc.IDTokenClaims](ctx, jws, v); err != nil {
		return nil, fmt.Errorf("%w: id_token: %w", ErrBadAnswer, err)
	}
	return payloadClaims(jws)
}

// decrypt opens a compact JWE (RFC 7516) encrypted to one of portti's
// encryption keys: RSA-OAEP or RSA-OAEP-256 with A256GCM or A128GCM.
func (c *rpClient) decrypt(ctx context.Context, token string) (string, error) {
	plain, err := c.keys.Decrypt(ctx, token)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrBadAnswer, err)
	}
	return plain, nil
}

// Key algorithms and content encryptions portti accepts in a JWE.
var (
	jweKeyAlgs = []jose.KeyAlgorithm{jose.RSA_OAEP, jose.RSA_OAEP_256}
	jweEncs    = []jose.ContentEncryption{jose.A256GCM, jose.A128GCM}
)

// Decrypt opens a compact JWE addressed to one of the encryption keys
// (by kid when the header names one) and returns its content, which must
// be a compact JWS (a nested JWT, RFC 7519 §5.2).
func (k *Keys) Decrypt(ctx context.Context, token string) (string, error) {
	obj, err := jose.ParseEncryptedCompact(token, jweKeyAlgs, jweEncs)
	if err != nil {
		return "", fmt.Errorf("parse JWE: %w", err)
	}
	keys, err := k.decryptionKeys(ctx)
	if err != nil {
		return "", err
	}
	kid := obj.Header.KeyID
	for _, key := range keys {
		if kid != "" && kid != key.rec.ID {
			continue
		}
		plain, err := obj.Decrypt(key.priv)
		if err != nil {
			continue
		}
		if strings.Count(string(plain), ".") != 2 {
			return "", errors.New("the JWE does not hold a signed JWT")
		}
		return string(plain), nil
	}
	return "", errors.New("the JWE is not encrypted to a key of portti's")
}

// userinfo reads the userinfo endpoint with the access token: JSON, or a
// JWT (signed, and possibly encrypted as the FTN profile does).
func (c *rpClient) userinfo(ctx context.Context, endpoint, accessToken string, keySet oidc.KeySet) (map[string]any, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+accessToken)
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("userinfo: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("userinfo: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: userinfo answered %d", ErrProviderError, resp.StatusCode)
	}
	ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if ct != "application/jwt" {
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			return nil, fmt.Errorf("%w: userinfo is not JSON", ErrBadAnswer)
		}
		return m, nil
	}
	token := strings.TrimSpace(string(body))
	if strings.Count(token, ".") == 4 {
		if token, err = c.decrypt(ctx, token); err != nil {
			return nil, err
		}
	}
	sig, err := jose.ParseSigned(token, []jose.SignatureAlgorithm{jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512, jose.ES256, jose.ES384, jose.ES512})
	if err != nil {
		return nil, fmt.Errorf("%w: userinfo: %w", ErrBadAnswer, err)
	}
	if _, err := keySet.VerifySignature(ctx, sig); err != nil {
		return nil, fmt.Errorf("%w: userinfo signature: %w", ErrBadAnswer, err)
	}
	return payloadClaims(token)
}

// payloadClaims decodes a compact JWS's payload (already verified).
func payloadClaims(jws string) (map[string]any, error) {
	parts := strings.Split(jws, ".")
	if len(parts) != 3 {
		return nil, fmt.Errorf("%w: not a compact JWS", ErrBadAnswer)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, fmt.Errorf("%w: payload: %w", ErrBadAnswer, err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("%w: payload: %w", ErrBadAnswer, err)
	}
	return m, nil
}

// claimString reads a string claim (a number is read as its text, as
// some providers send identifiers so).
func claimString(m map[string]any, name string) string {
	switch v := m[name].(type) {
	case string:
		return v
	case json.Number:
		return v.String()
	case float64:
		return fmt.Sprintf("%.0f", v)
	}
	return ""
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
