package proofing

import (
	"context"
	"net/http"
	"time"
)

// RP is the relying-party client of one upstream OpenID Connect provider,
// for packages that sign people in at an upstream provider rather than
// prove a registry identifier (package federation). It speaks exactly as
// strong identification does: PKCE S256, nonce, a signed request object
// when the provider is so configured, private_key_jwt or HTTP Basic, an
// encrypted id_token when configured, verified by zitadel's verifier.
type RP struct{ c *rpClient }

// NewRP returns a client of p that receives answers at redirectURI. keys
// may be nil when p authenticates with a client secret and needs neither
// request objects nor encrypted id_tokens.
func NewRP(p Provider, redirectURI string, keys *Keys, hc *http.Client) *RP {
	if hc == nil {
		hc = &http.Client{Timeout: 15 * time.Second}
	}
	// Request objects and client assertions are checked by the provider
	// against its own clock: the wall clock, never an injected one.
	return &RP{c: &rpClient{p: p, redirectURI: redirectURI, keys: keys, http: hc, now: time.Now}}
}

// AuthURL is the provider's authorisation endpoint for one sign-in.
func (r *RP) AuthURL(ctx context.Context, state, nonce, verifier, lang string) (string, error) {
	return r.c.AuthURL(ctx, state, nonce, verifier, lang)
}

// Claims trades the code for the id_token and returns its verified claims
// (signature, iss, aud, exp, iat, nonce, and acr when the provider has
// acr_values). The provider's tokens are dropped.
func (r *RP) Claims(ctx context.Context, code, verifier, nonce string) (map[string]any, error) {
	claims, _, _, _, err := r.c.exchange(ctx, code, verifier, nonce)
	return claims, err
}
