package storage

import (
	"context"
	"time"
)

// RevokedJTI is a revoked self-contained access token (a client's own
// JWT, which is never stored), kept on the deny list by its "jti" until
// the token would have expired anyway.
type RevokedJTI struct {
	JTI       string
	ClientID  string // the client the token was issued to
	RevokedAt time.Time
	ExpiresAt time.Time // the token's "exp": DeleteExpired removes the entry after it
}

// ResourceStorage is what resource servers (RFC 8707) and the revocation
// of self-contained tokens (RFC 7009) keep. It is part of Storage.
type ResourceStorage interface {
	// GetClientByResource returns the client whose ResourceServer is
	// resource; ErrNotFound if none is (or resource is empty).
	GetClientByResource(ctx context.Context, resource string) (Client, error)

	// DenyJTI puts a token on the deny list. Denying a jti again keeps
	// the first entry and is no error.
	DenyJTI(ctx context.Context, r RevokedJTI) error
	// JTIDenied reports whether jti is on the deny list. Every node asks
	// the database, so a revocation on one node holds on all at once.
	JTIDenied(ctx context.Context, jti string) (bool, error)

	// GetAccessTokenStatus is GetAccessTokenWithAccount for introspection,
	// which needs of the account only whether it may still use tokens: a
	// third of the columns to read and convert, on the hot path of every
	// resource server.
	GetAccessTokenStatus(ctx context.Context, id string) (AccessToken, AccountStatus, error)
}

// AccountStatus is what introspection needs to know of a token's
// account.
type AccountStatus struct {
	Exists   bool // false when the token has no account (client_credentials) or it is gone
	Disabled bool
}
