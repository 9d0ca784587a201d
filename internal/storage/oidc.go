package storage

import (
	"context"
	"time"
)

// Client is an application that signs people in through portti (an OpenID
// Connect relying party).
type Client struct {
	ID                     string
	Name                   string
	SecretHash             string // hex SHA-256 of the secret; empty for public clients
	Public                 bool   // no secret; PKCE S256 required
	RedirectURIs           []string
	PostLogoutRedirectURIs []string
	GrantTypes             []string // authorization_code, refresh_token, client_credentials
	BackchannelLogoutURI   string
	AllowedNetworks        []string // CIDRs; empty = anywhere
	ThirdParty             bool     // consent is asked and remembered
	IDTokenAlg             string   // RS256 (default) or ES256
	// Scopes are what client_credentials may grant the client: its API
	// permissions, for resource servers to check. Empty: none.
	Scopes []string
	// ResourceServer is the identifier (an absolute URI, RFC 8707) of the
	// API this client is, when it is one: other clients ask for tokens for
	// it with the resource parameter, and it introspects them. Unique
	// among clients; "" for a client that is no API.
	ResourceServer string
	// ResourceScopes are the scopes the API accepts; scopes granted for it
	// are limited to these. Empty: whatever the token's scopes are.
	ResourceScopes []string
	// RequireMFA: signing in to this client needs a second factor
	// (package authn), whatever the policy says for the person.
	RequireMFA bool
	// AllowedGroups: only members of one of these groups (by display
	// name; package provision) may sign in to this client. Empty: anyone.
	AllowedGroups []string
	// Source says who manages the client: ClientSourceCLI or
	// ClientSourceConfig ("" is treated as ClientSourceCLI).
	Source    string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Where a client comes from (Client.Source).
const (
	// ClientSourceCLI: added with `portti client add`, removed only with
	// `portti client remove`.
	ClientSourceCLI = "cli"
	// ClientSourceConfig: listed under clients: in the configuration file
	// and kept in step with it; removed when it leaves the file.
	ClientSourceConfig = "config"
)

// SigningKey is a token signing key. The private key is stored sealed
// (encrypted with a key from the configuration); Public is the JWK JSON.
type SigningKey struct {
	ID        string // "kid"
	Alg       string // RS256, ES256
	Private   []byte // sealed private key
	Public    []byte // public JWK, JSON
	CreatedAt time.Time
	SignFrom  time.Time // published in JWKS before it signs, so caches see it first
	RetiredAt time.Time // zero while it may sign
	ExpiresAt time.Time // removed from JWKS after this (zero = not yet set)
}

// AuthRequest is an OpenID Connect authorization request in progress,
// persisted so that a login survives redirects and any node can finish it.
// Data is the protocol request, encoded by the oidc package.
type AuthRequest struct {
	ID        string
	ClientID  string
	AccountID string    // set when a person has authenticated for it
	SessionID string    // the browser session that authenticated
	AuthTime  time.Time // when that person authenticated
	CodeHash  string    // hex SHA-256 of the issued code; empty until issued
	Data      []byte
	CreatedAt time.Time
	ExpiresAt time.Time
}

// RefreshToken is the stored half of an opaque refresh token. Tokens are
// rotated on every use; all tokens descended from one grant share ChainID,
// so reuse of an old one revokes the whole chain.
type RefreshToken struct {
	Hash      string // hex SHA-256 of the token; primary key
	ChainID   string
	ClientID  string
	AccountID string
	SessionID string // "sid" of the browser session, for logout
	Scopes    []string
	Audience  []string
	AMR       []string
	AuthTime  time.Time
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    time.Time // set when rotated
	RevokedAt time.Time
}

// AccessToken is an opaque access token's record, for userinfo,
// introspection and revocation.
type AccessToken struct {
	ID        string // random, also the token's "jti"
	ChainID   string // the refresh chain it came from, if any
	ClientID  string
	AccountID string // empty for client_credentials
	Scopes    []string
	Audience  []string
	CreatedAt time.Time
	ExpiresAt time.Time
	RevokedAt time.Time
}

// Consent records that an account let a third-party client have scopes.
type Consent struct {
	AccountID string
	ClientID  string
	Scopes    []string
	GrantedAt time.Time
}

// SessionClient records that a browser session signed in to a client, so
// logging out can tell that client (back-channel logout).
type SessionClient struct {
	SessionID string
	ClientID  string
	AccountID string
	CreatedAt time.Time
}

// LogoutDelivery is a back-channel logout token waiting to be delivered,
// retried like mail until the application answers.
type LogoutDelivery struct {
	ID            int64
	ClientID      string
	URI           string
	Token         string // the signed logout JWT
	CreatedAt     time.Time
	NextAttemptAt time.Time
	Attempts      int
	LastError     string
	DeliveredAt   time.Time
}

// OIDCStorage is what the OpenID Connect provider keeps. It is part of
// Storage; it lives in its own interface so the account side reads alone.
type OIDCStorage interface {
	CreateClient(ctx context.Context, c Client) error // ErrConflict if the ID is taken
	GetClient(ctx context.Context, id string) (Client, error)
	UpdateClient(ctx context.Context, id string, fn func(Client) (Client, error)) (Client, error)
	ListClients(ctx context.Context) ([]Client, error) // by ID
	DeleteClient(ctx context.Context, id string) error

	CreateSigningKey(ctx context.Context, k SigningKey) error
	UpdateSigningKey(ctx context.Context, id string, fn func(SigningKey) (SigningKey, error)) (SigningKey, error)
	ListSigningKeys(ctx context.Context) ([]SigningKey, error) // oldest first

	CreateAuthRequest(ctx context.Context, r AuthRequest) error
	GetAuthRequest(ctx context.Context, id string) (AuthRequest, error)
	GetAuthRequestByCode(ctx context.Context, codeHash string) (AuthRequest, error)
	UpdateAuthRequest(ctx context.Context, id string, fn func(AuthRequest) (AuthRequest, error)) (AuthRequest, error)
	DeleteAuthRequest(ctx context.Context, id string) error

	CreateRefreshToken(ctx context.Context, t RefreshToken) error
	GetRefreshToken(ctx context.Context, hash string) (RefreshToken, error)
	UpdateRefreshToken(ctx context.Context, hash string, fn func(RefreshToken) (RefreshToken, error)) (RefreshToken, error)
	// RevokeRefreshChain revokes every token of a chain and the access
	// tokens issued from it, returning how many refresh tokens it revoked.
	RevokeRefreshChain(ctx context.Context, chainID string, at time.Time) (int, error)
	// RevokeSessionTokens revokes the refresh chains of a browser session
	// (all clients, or one when clientID is set).
	RevokeSessionTokens(ctx context.Context, sessionID, clientID string, at time.Time) (int, error)

	CreateAccessToken(ctx context.Context, t AccessToken) error
	GetAccessToken(ctx context.Context, id string) (AccessToken, error)
	// GetAccessTokenWithAccount is GetAccessToken that also returns the
	// token's account, in one read: an empty Account (no ID) when the
	// token has none (client_credentials) or the account is gone.
	GetAccessTokenWithAccount(ctx context.Context, id string) (AccessToken, Account, error)
	RevokeAccessToken(ctx context.Context, id string, at time.Time) error

	PutConsent(ctx context.Context, c Consent) error
	GetConsent(ctx context.Context, accountID, clientID string) (Consent, error)

	AddSessionClient(ctx context.Context, sc SessionClient) error // idempotent
	ListSessionClients(ctx context.Context, sessionID string) ([]SessionClient, error)
	// DeleteSessionClients removes the records of a session and returns
	// the ones it removed (by CreatedAt, then client ID). Of two callers
	// racing to log the same session out, one gets the records and the
	// other none, so each client is told once.
	DeleteSessionClients(ctx context.Context, sessionID string) ([]SessionClient, error)
	// EndedSessionsWithClients returns up to limit IDs (in ID order) of
	// sessions that still have SessionClient records but expired before
	// now or no longer exist: their applications were never told.
	EndedSessionsWithClients(ctx context.Context, now time.Time, limit int) ([]string, error)

	EnqueueLogout(ctx context.Context, d LogoutDelivery) (int64, error)
	ClaimLogouts(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]LogoutDelivery, error)
	UpdateLogout(ctx context.Context, id int64, fn func(LogoutDelivery) (LogoutDelivery, error)) (LogoutDelivery, error)
}
