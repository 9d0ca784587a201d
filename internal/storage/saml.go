package storage

import (
	"context"
	"time"
)

// SAMLKey is one of the SAML identity provider's keys (package saml): the
// signing key, the encryption key its metadata publishes, and the secret
// the pairwise identifiers are derived from. Private is sealed under the
// key encryption key, as the OpenID Connect signing keys are.
type SAMLKey struct {
	ID          string
	Use         string // "signing", "encryption", "pairwise"
	Private     []byte // sealed PKCS#8 DER, or a sealed secret for "pairwise"
	Certificate []byte // X.509 DER; empty for "pairwise"
	CreatedAt   time.Time
}

// SAML service provider sources: who manages the registration.
const (
	SAMLSourceCLI    = "cli"    // portti saml sp add
	SAMLSourceConfig = "config" // saml.service_providers in the configuration file
	// An aggregate's providers have Source "aggregate:" + its URL.
)

// SAMLServiceProvider is a registered SAML service: its metadata as
// received (verified before it was stored) and what may be released to it.
type SAMLServiceProvider struct {
	EntityID   string
	Metadata   []byte
	Release    []string // attribute friendly names released to it
	Source     string
	ValidUntil time.Time // the metadata's validUntil; zero when it has none
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// SAMLParticipant is a service a browser session signed in to over SAML:
// what Single Logout needs to tell it. It outlives its session until
// DeleteExpired, so that a sign-in replacing the session (ForceAuthn, a
// step-up) can take it over (MoveSAMLParticipants).
type SAMLParticipant struct {
	SessionID    string
	EntityID     string
	NameID       string
	SessionIndex string
	CreatedAt    time.Time
}

// SAMLStorage is what the SAML identity provider keeps; Storage embeds it.
type SAMLStorage interface {
	CreateSAMLKey(ctx context.Context, k SAMLKey) error  // ErrConflict when the ID is taken
	ListSAMLKeys(ctx context.Context) ([]SAMLKey, error) // oldest first

	// PutSAMLServiceProvider creates or replaces a service by entity ID.
	PutSAMLServiceProvider(ctx context.Context, sp SAMLServiceProvider) error
	GetSAMLServiceProvider(ctx context.Context, entityID string) (SAMLServiceProvider, error)
	ListSAMLServiceProviders(ctx context.Context) ([]SAMLServiceProvider, error) // by entity ID
	DeleteSAMLServiceProvider(ctx context.Context, entityID string) error        // ErrNotFound when absent

	// UseSAMLMessageID records a received message ID until expires;
	// ErrConflict when it was recorded before and has not expired at now
	// (a replay).
	UseSAMLMessageID(ctx context.Context, id string, now, expires time.Time) error

	// PutSAMLParticipant records (or refreshes) a service of a session.
	PutSAMLParticipant(ctx context.Context, p SAMLParticipant) error
	// ListSAMLParticipants returns a session's services, oldest first.
	ListSAMLParticipants(ctx context.Context, sessionID string) ([]SAMLParticipant, error)
	// FindSAMLParticipant finds the session a service's SessionIndex names.
	FindSAMLParticipant(ctx context.Context, entityID, sessionIndex string) (SAMLParticipant, error)
	DeleteSAMLParticipant(ctx context.Context, sessionID, entityID string) error
	// MoveSAMLParticipants gives session to the services of session from
	// (those to does not have already), and forgets from's.
	MoveSAMLParticipants(ctx context.Context, from, to string) error
}
