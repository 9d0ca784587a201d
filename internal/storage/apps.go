package storage

import (
	"context"
	"time"
)

// AppAccess is one application (OpenID Connect client) a person has let
// in: one they consented to, one holding a live refresh token of theirs,
// or one a browser session of theirs is still signed in to. The account
// page lists these with "remove access".
type AppAccess struct {
	ClientID   string
	ClientName string    // empty when the client has none
	Scopes     []string  // consented scopes; nil without a consent
	Consented  time.Time // zero without a consent
	LastUsed   time.Time // newest refresh token or browser sign-in; zero if none is live
	Offline    bool      // holds a live refresh token (access while the person is away)
}

// AppAccessRemoved is what RemoveAppAccess did.
type AppAccessRemoved struct {
	Consent       bool     // a consent was deleted
	RefreshTokens int      // refresh tokens revoked
	AccessTokens  int      // access tokens revoked
	SessionIDs    []string // browser sessions whose sign-in to the client was forgotten
}

// AppStorage is what the account area reads and changes about the
// applications a person uses. Part of Storage.
type AppStorage interface {
	// ListAppAccess returns the applications accountID has let in, as of
	// now, by name then client ID.
	ListAppAccess(ctx context.Context, accountID string, now time.Time) ([]AppAccess, error)
	// RemoveAppAccess withdraws everything clientID holds for accountID,
	// in one transaction: the consent is deleted, every refresh and access
	// token is revoked (at), and the browser sessions' records of a
	// sign-in to it are deleted (returned, for a back-channel logout).
	RemoveAppAccess(ctx context.Context, accountID, clientID string, at time.Time) (AppAccessRemoved, error)
}
