package storage

import (
	"context"
	"time"
)

// Credential is one way an account's owner can prove who they are beyond
// the password: an authenticator app (TOTP), a set of recovery codes, a
// passkey. Every method keeps its credentials in this one shape (package
// authn defines the methods); what only one method needs lives in Data.
type Credential struct {
	ID        string // random; stable
	AccountID string
	Kind      string // the method's kind: "totp", "recovery", "webauthn"…
	Name      string // what the owner called it ("work phone"); may be empty

	// Lookup is a value the method finds a credential by without knowing
	// the account (a WebAuthn credential ID). Empty for most; unique per
	// kind when set.
	Lookup string
	// Secret is the method's secret, sealed by the method (a TOTP key
	// under the key-encryption key, recovery code hashes). Never logged,
	// never shown.
	Secret []byte
	// Data is method-specific state that is not secret (JSON).
	Data []byte
	// Counter is the method's replay guard: the last TOTP time step
	// accepted, a WebAuthn signature counter. It only ever grows.
	Counter int64

	CreatedAt  time.Time
	LastUsedAt time.Time // zero until first used at a sign-in
}

// AuthFactor is one proof a session's person gave, and when: a session
// keeps every factor of its sign-in (and any later step-up), so that
// amr, acr and "is the second factor fresh enough" all derive from it.
type AuthFactor struct {
	Method string    `json:"m"` // a method kind: "pwd", "totp", "recovery"…
	At     time.Time `json:"t"`
	// AMR, when set, is what this use of the method proved, where that
	// differs between credentials of one method (a passkey: hwk for a
	// key bound to its device, swk for a synced one); else the
	// method's own AMR applies.
	AMR []string `json:"a,omitempty"`
}

// MFAStorage keeps credentials; Storage embeds it.
type MFAStorage interface {
	// CreateCredential stores a new credential. ErrConflict when the ID (or
	// a non-empty Lookup of the same kind) is taken; ErrNotFound when the
	// account does not exist.
	CreateCredential(ctx context.Context, c Credential) error
	GetCredential(ctx context.Context, id string) (Credential, error)
	// GetCredentialByLookup finds a credential by kind and Lookup.
	GetCredentialByLookup(ctx context.Context, kind, lookup string) (Credential, error)
	// ListCredentials returns an account's credentials, oldest first.
	ListCredentials(ctx context.Context, accountID string) ([]Credential, error)
	// UpdateCredential reads, applies fn and writes in one transaction (a
	// replay guard or a used recovery code cannot race). fn must not change
	// the ID, account or kind.
	UpdateCredential(ctx context.Context, id string, fn func(Credential) (Credential, error)) (Credential, error)
	DeleteCredential(ctx context.Context, id string) error // ErrNotFound if absent
	// DeleteCredentials removes an account's credentials of one kind, or
	// of every kind when kind is empty, and returns how many went.
	DeleteCredentials(ctx context.Context, accountID, kind string) (int, error)
}
