// Package storage defines portti's domain records and the one Storage
// interface that every backend (SQLite, PostgreSQL) implements.
//
// The shape follows dex: plain structs, two sentinel errors, and Update*
// methods that take a function from the old record to the new one and run
// it inside a transaction, so read-modify-write rules (lockout counters,
// single-use tokens) cannot race between portti nodes sharing a database.
// Nothing here imports another internal package.
package storage

import (
	"context"
	"errors"
	"time"
)

// Sentinel errors. Backends wrap them; callers test with errors.Is.
var (
	// ErrNotFound means the record does not exist.
	ErrNotFound = errors.New("storage: not found")
	// ErrConflict means a unique key (an e-mail address, an ID) is taken.
	ErrConflict = errors.New("storage: conflict")
)

// Account is a person's local account. Email is the login name, always in
// the normalised form produced by the account package.
type Account struct {
	ID    string // random, stable, never reused; becomes the OIDC "sub"
	Email string // normalised; unique

	GivenName     string
	FamilyName    string
	PhoneNumber   string
	StreetAddress string
	PostalCode    string
	Locality      string
	Locale        string // preferred language tag: fi, sv, en

	PasswordHash      string    // PHC string; empty when no password is set
	PasswordChangedAt time.Time // drives the optional maximum password age

	ActivatedAt time.Time // zero until the activation link is followed
	Disabled    bool      // by an operator; only an operator re-enables

	// Lockout state for browsers the owner has not used before (see KnownDevice
	// for the owner's own browsers).
	FailedLogins int
	LockedUntil  time.Time

	TermsVersion    string
	TermsAcceptedAt time.Time

	// PendingEmail is a new login address awaiting its confirmation link;
	// Email stays the login name until the link is followed.
	PendingEmail string

	CreatedAt time.Time
	UpdatedAt time.Time
}

// Activated reports whether the account's e-mail address has been confirmed.
func (a Account) Activated() bool { return !a.ActivatedAt.IsZero() }

// TokenKind says what a link token is for.
type TokenKind string

// Token kinds. Each token is single-use and expires.
const (
	TokenActivation  TokenKind = "activation"
	TokenRecovery    TokenKind = "recovery"
	TokenEmailChange TokenKind = "email_change"
	// TokenMFAChallenge is a sign-in waiting for its second factor: the
	// password was right, no session exists yet. Short-lived; used once.
	TokenMFAChallenge TokenKind = "mfa_challenge"
	// TokenMFABrowser is a browser whose owner asked not to be asked for
	// the second factor again there (authn, remember.go): never used, it
	// lives until it expires or is revoked.
	TokenMFABrowser TokenKind = "mfa_browser"
)

// Token is the stored half of a link sent by e-mail. Only the SHA-256 of the
// secret in the link is stored, so a database leak reveals no usable link.
type Token struct {
	Hash      string // hex SHA-256 of the link secret; primary key
	Kind      TokenKind
	AccountID string
	Email     string // the address the link was sent to
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    time.Time // zero until used
}

// Session is one signed-in account in one browser. The browser holds a random
// secret; only its SHA-256 (the ID) is stored.
type Session struct {
	ID         string // hex SHA-256 of the cookie secret
	AccountID  string
	DeviceID   string // hex SHA-256 of the browser's device cookie, if any
	Persistent bool   // "remember me": survives closing the browser
	CreatedAt  time.Time
	LastSeenAt time.Time
	ExpiresAt  time.Time
	ClientIP   string
	UserAgent  string
	// Factors are the proofs given for this session, oldest first (see
	// AuthFactor). A session is only created once its sign-in is complete.
	Factors []AuthFactor
}

// KnownDevice records that an account's owner has logged in from a browser.
// Wrong passwords typed in that browser count here instead of on the account,
// so a stranger guessing elsewhere cannot lock the owner out of their own
// browser.
type KnownDevice struct {
	AccountID    string
	DeviceID     string // hex SHA-256 of the device cookie
	FirstSeenAt  time.Time
	LastSeenAt   time.Time
	FailedLogins int
	LockedUntil  time.Time
}

// Event is one audit record.
type Event struct {
	ID        int64
	Time      time.Time
	Kind      string // e.g. "login.failure"; see package audit
	AccountID string // empty when unknown
	Email     string // the address typed or concerned, normalised
	ClientIP  string
	UserAgent string
	Reason    string // why it failed, or extra detail; never a secret
	Ref       string // short reference code shown to the user on error pages
}

// Mail is one message in the outbox. Messages are rendered when enqueued, so
// a template change cannot alter a message waiting for a retry.
type Mail struct {
	ID            int64
	To            string
	Subject       string
	Text          string
	HTML          string
	CreatedAt     time.Time
	NextAttemptAt time.Time
	Attempts      int
	LastError     string
	SentAt        time.Time // zero while waiting
	// Unreachable: the last attempt failed because the server could not
	// be reached, not because it refused the message; such mail is due
	// again as soon as the server answers (ResumeMail).
	Unreachable bool
}

// AccountFilter narrows ListAccounts. Empty fields match everything.
type AccountFilter struct {
	EmailPrefix string
	Limit       int
}

// Storage is everything portti keeps. Implementations must be safe for
// concurrent use by many goroutines and many processes sharing one database.
type Storage interface {
	// InTx runs fn with a Storage bound to one transaction: every call made
	// through tx commits together or not at all. fn's error rolls back.
	InTx(ctx context.Context, fn func(tx Storage) error) error
	// AfterCommit runs fn once the transaction the Storage is bound to
	// commits, and never if it rolls back; on a Storage not bound to a
	// transaction, at once. For effects outside the database that must
	// not claim what did not happen, such as log lines.
	AfterCommit(fn func())

	// OIDCStorage is what the OpenID Connect provider keeps; see oidc.go.
	OIDCStorage
	// RefreshGraceStorage keeps rotated refresh tokens' successors for
	// the reuse grace period; see refreshgrace.go.
	RefreshGraceStorage
	AppStorage          // apps.go: the applications a person has let in
	EndedSessionStorage // ended.go: why a browser was signed out from elsewhere
	// ResourceStorage: resource servers and revoked JWTs; see resource.go.
	ResourceStorage
	MailDeliveryStorage // mailfault.go: leases renewed while sending, resume after an outage
	AccountTaskStorage  // accounttask.go: the e-mail forms' background work
	// MFAStorage keeps second factors and passkeys; see mfa.go.
	MFAStorage
	MFAGraceStorage   // mfagrace.go: when the enrolment grace period began
	AdminStorage      // admin.go: staff roles, notices, the helpdesk's look-ups
	ProofingStorage   // proofing.go: strong identification: identities, relying-party keys, flows
	SAMLStorage       // saml.go: the SAML identity provider's keys, services and sessions
	ProvisionStorage  // provision.go: accounts and groups a registry keeps (SCIM)
	FederationStorage // federation.go: upstream identity links (home organisations)
	GuestStorage      // guests.go: guest invitations
	LifecycleStorage  // lifecycle.go: what the provisioned accounts' lifecycle removes

	CreateAccount(ctx context.Context, a Account) error // ErrConflict when the e-mail or ID is taken
	GetAccount(ctx context.Context, id string) (Account, error)
	GetAccountByEmail(ctx context.Context, email string) (Account, error)
	// UpdateAccount reads the account, applies fn, and writes the result in
	// one transaction. An error from fn aborts without writing. ErrConflict
	// if fn changes Email to one that is taken.
	UpdateAccount(ctx context.Context, id string, fn func(Account) (Account, error)) (Account, error)
	ListAccounts(ctx context.Context, f AccountFilter) ([]Account, error)

	CreateToken(ctx context.Context, t Token) error
	GetToken(ctx context.Context, hash string) (Token, error)
	// UpdateToken is UpdateAccount for tokens; marking UsedAt through it is
	// how a link is made single-use.
	UpdateToken(ctx context.Context, hash string, fn func(Token) (Token, error)) (Token, error)
	// DeleteTokens removes an account's unused tokens of one kind, so that a
	// newly sent link replaces the older ones. It returns how many went.
	DeleteTokens(ctx context.Context, accountID string, kind TokenKind) (int, error)

	CreateSession(ctx context.Context, s Session) error
	GetSession(ctx context.Context, id string) (Session, error)
	UpdateSession(ctx context.Context, id string, fn func(Session) (Session, error)) (Session, error)
	ListSessions(ctx context.Context, accountID string) ([]Session, error) // newest first
	DeleteSession(ctx context.Context, id string) error                    // ErrNotFound if absent
	// DeleteSessions ends every session of the account except the one whose
	// ID is keep (keep may be empty). It returns how many ended.
	DeleteSessions(ctx context.Context, accountID, keep string) (int, error)

	GetKnownDevice(ctx context.Context, accountID, deviceID string) (KnownDevice, error)
	// UpsertKnownDevice applies fn to the stored device record, or to a zero
	// record with AccountID and DeviceID set when there is none, and writes it.
	UpsertKnownDevice(ctx context.Context, accountID, deviceID string, fn func(KnownDevice) (KnownDevice, error)) (KnownDevice, error)
	// ClearDeviceLocks sets the failed logins and lock of every known
	// device of the account back to zero (an operator's unlock). It
	// returns how many devices had failed logins or a lock to clear.
	ClearDeviceLocks(ctx context.Context, accountID string) (int, error)

	// CountAttempt adds one to the counter named key in a fixed window of
	// the given length and returns the count in the current window, this
	// attempt included. A window older than now-window starts again at 1.
	CountAttempt(ctx context.Context, key string, now time.Time, window time.Duration) (int, error)
	// Attempts returns the count in the current window without adding to it.
	Attempts(ctx context.Context, key string, now time.Time, window time.Duration) (int, error)

	AppendEvent(ctx context.Context, e Event) error
	// ListEvents returns events newest first; an empty accountID lists all.
	ListEvents(ctx context.Context, accountID string, limit int) ([]Event, error)

	EnqueueMail(ctx context.Context, m Mail) (int64, error)
	// ClaimMail returns up to limit unsent messages due at now and pushes
	// their NextAttemptAt to now+lease in the same transaction, so two
	// portti nodes never send the same message at once.
	ClaimMail(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]Mail, error)
	UpdateMail(ctx context.Context, id int64, fn func(Mail) (Mail, error)) (Mail, error)
	ListMail(ctx context.Context, limit int) ([]Mail, error) // newest first

	// DeleteExpired removes expired tokens and sessions, old attempt
	// windows and sent mail, and the OpenID Connect provider's expired
	// auth requests and tokens and delivered logout tokens; a periodic
	// janitor calls it.
	DeleteExpired(ctx context.Context, now time.Time) error

	Close() error
}
