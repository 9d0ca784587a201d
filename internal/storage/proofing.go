package storage

import (
	"context"
	"time"
)

// ProofedIdentity binds an account to a person's registry identifier (a
// Finnish personal identity code, or a document service's own number)
// proven through strong electronic identification. Identity is a keyed
// hash of the identifier, never the identifier itself, so a copy of the
// database hands out no identity numbers. One person may hold several
// accounts: many rows may share an Identity; an account has at most one.
type ProofedIdentity struct {
	AccountID string
	Identity  string // hex HMAC-SHA-256 of the identifier (package proofing)
	Provider  string // the configured provider it was proven with; "cli" when set by an operator
	BoundAt   time.Time
}

// ProofingKey is one of portti's own keys as a relying party of strong
// identification providers: Use "sig" signs request objects and client
// assertions, Use "enc" decrypts the providers' encrypted id_tokens.
// Private is sealed like a token signing key (package proofing).
type ProofingKey struct {
	ID        string // RFC 7638 thumbprint
	Use       string // "sig" or "enc"
	Alg       string // RS256, RSA-OAEP-256
	Private   []byte // sealed PKCS#8
	Public    []byte // the public JWK
	CreatedAt time.Time
	// RetiredAt: from then the key is no longer used (a newer one is);
	// it stays published until ExpiresAt, so providers that cached the
	// JWKS can still encrypt to it and verify with it. Zero: in use.
	RetiredAt time.Time
	ExpiresAt time.Time // zero: never
}

// ProofingFlow is one strong identification under way in one browser,
// from the start to the page that uses its result. The browser holds a
// random secret whose SHA-256 is ID. State is the SHA-256 of the state
// parameter sent to the provider; Nonce and Verifier (PKCE) are needed in
// the clear to check the answer, and live only minutes. After the callback
// Identity, GivenName and FamilyName hold what was proven; the provider's
// tokens are never stored.
type ProofingFlow struct {
	ID        string
	Purpose   string // mfa_reset, username, password, bind
	Provider  string
	AccountID string // the account concerned, when the flow started with one
	Challenge string // the pending second step the flow began on (mfa_reset)
	Return    string // local path to continue to afterwards
	Lang      string
	State     string
	Nonce     string
	Verifier  string

	Identity   string
	GivenName  string
	FamilyName string
	ProvenAt   time.Time // zero until the provider's answer was checked

	CreatedAt time.Time
	ExpiresAt time.Time
}

// ProofingStorage keeps strong identification's records.
type ProofingStorage interface {
	// BindIdentity records (or replaces) the identity of an account.
	BindIdentity(ctx context.Context, p ProofedIdentity) error
	// GetIdentity returns the identity bound to an account; ErrNotFound if none.
	GetIdentity(ctx context.Context, accountID string) (ProofedIdentity, error)
	// AccountsWithIdentity lists the bindings of an identity, oldest first.
	AccountsWithIdentity(ctx context.Context, identity string) ([]ProofedIdentity, error)
	// UnbindIdentity removes an account's identity; ErrNotFound if none.
	UnbindIdentity(ctx context.Context, accountID string) error

	CreateProofingKey(ctx context.Context, k ProofingKey) error
	ListProofingKeys(ctx context.Context) ([]ProofingKey, error) // oldest first
	// RetireProofingKey sets RetiredAt and ExpiresAt of a key in use;
	// ErrNotFound if it is absent or already retired.
	RetireProofingKey(ctx context.Context, id string, retiredAt, expiresAt time.Time) error

	CreateProofingFlow(ctx context.Context, f ProofingFlow) error
	// GetProofingFlow returns a flow that has not expired at now.
	GetProofingFlow(ctx context.Context, id string, now time.Time) (ProofingFlow, error)
	// UpdateProofingFlow reads, changes and writes a flow in one transaction.
	UpdateProofingFlow(ctx context.Context, id string, fn func(ProofingFlow) (ProofingFlow, error)) (ProofingFlow, error)
	// DeleteProofingFlow removes a flow (used once); ErrNotFound if absent.
	DeleteProofingFlow(ctx context.Context, id string) error
	// DeleteExpiredProofingFlows removes flows expired at now and
	// returns how many went.
	DeleteExpiredProofingFlows(ctx context.Context, now time.Time) (int, error)
}
