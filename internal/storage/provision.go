package storage

import (
	"context"
	"time"
)

// Lifecycle states of a provisioned account (issue 11). The registry's
// dates and its active flag decide the state; package provision says how.
const (
	ProvisionPending  = "pending"  // before its start date
	ProvisionActive   = "active"   // may be used
	ProvisionGrace    = "grace"    // after its end date, for a configured time
	ProvisionDisabled = "disabled" // the registry said active=false
	ProvisionDeleted  = "deleted"  // personal data to be removed after retention
)

// Provisioned is what a registry (SCIM, later CSV) says about an account
// beyond the Account itself: the account exists because the registry says
// so. One row per account; deleting the account deletes it.
type Provisioned struct {
	AccountID string
	// ExternalID is the registry's own identifier for the person; unique
	// among provisioned accounts when not empty.
	ExternalID string
	// UserType is staff, student, external, guest or organisation-defined;
	// empty when neither the registry nor the domain rules said.
	UserType string
	State    string    // one of the Provision* states
	StartsAt time.Time // zero: no start date
	EndsAt   time.Time // zero: no end date

	DisplayName string
	NickName    string
	Title       string

	// The SCIM enterprise extension (RFC 7643 4.3). Manager is the
	// manager's SCIM id (an account ID), as the registry sent it.
	EmployeeNumber string
	Organization   string
	Department     string
	Manager        string

	// Extra is a JSON object of SCIM attributes the registry sent that
	// portti keeps only to return them (phone numbers, addresses…).
	Extra []byte

	// Source is what keeps the record: ProvisionSourceSCIM or
	// ProvisionSourceCSV (a CSV import leaves alone what SCIM keeps).
	Source string
	// DueAt is when the record next needs the lifecycle's attention (its
	// start date, the notice before its end, the end of its grace, its
	// purge); zero for never. Writers set it; ListProvisionedDue finds
	// the records due by an index.
	DueAt time.Time
	// EndNoticeAt is when the person was told their account ends (zero:
	// not yet), so that they are told once.
	EndNoticeAt time.Time
	// DeletedAt is when the state became deleted: personal data goes a
	// retention period after it.
	DeletedAt time.Time

	// Version grows by one on every write: the SCIM ETag. The backend
	// sets it; CreateProvisioned stores 1 and UpdateProvisioned old+1.
	Version   int64
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Sources of a registry record.
const (
	ProvisionSourceSCIM = "scim"
	ProvisionSourceCSV  = "csv"
)

// WaitlistEntry is a person who asked, on the activation page, to be told
// when their account appears (issue 11, point 4). The address is kept
// only until ExpiresAt, and only to send that one message.
type WaitlistEntry struct {
	Email     string // normalised
	Locale    string // the language to write in
	CreatedAt time.Time
	ExpiresAt time.Time
}

// ProvisionedAccount is an account with its registry record.
type ProvisionedAccount struct {
	Account     Account
	Provisioned Provisioned
}

// Group is a set of accounts a registry maintains (SCIM Groups), released
// to applications as the groups claim and usable in access rules.
type Group struct {
	ID          string // random, stable; the SCIM id
	DisplayName string
	// ExternalID: the registry's identifier; unique when not empty.
	ExternalID string
	Members    []string // account IDs, sorted
	Version    int64    // as Provisioned.Version
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// ProvisionStorage keeps provisioned accounts and groups; Storage embeds it.
type ProvisionStorage interface {
	// CreateProvisioned stores the registry record of an existing
	// account. ErrNotFound when the account does not exist; ErrConflict
	// when it has a record already or the external ID is taken.
	CreateProvisioned(ctx context.Context, p Provisioned) error
	GetProvisioned(ctx context.Context, accountID string) (ProvisionedAccount, error)
	GetProvisionedByExternalID(ctx context.Context, externalID string) (ProvisionedAccount, error)
	// UpdateProvisioned reads, applies fn and writes in one transaction;
	// fn must not change AccountID. ErrConflict when the new external ID
	// is taken.
	UpdateProvisioned(ctx context.Context, accountID string, fn func(Provisioned) (Provisioned, error)) (Provisioned, error)
	// ListProvisioned returns up to limit provisioned accounts whose ID is
	// greater than afterID, in ID order (keyset paging).
	ListProvisioned(ctx context.Context, afterID string, limit int) ([]ProvisionedAccount, error)
	// ListProvisionedDue returns up to limit records whose DueAt is set
	// and not after now, earliest first: the lifecycle worker's queue.
	ListProvisionedDue(ctx context.Context, now time.Time, limit int) ([]ProvisionedAccount, error)
	// DeleteProvisionedAccount deletes a provisioned account itself, with
	// everything that hangs off it (sessions, credentials, memberships).
	// ErrNotFound when there is no such provisioned account: an account
	// that registered itself is never deleted through here.
	DeleteProvisionedAccount(ctx context.Context, accountID string) error

	// CreateGroup stores a group with its members. ErrConflict when the ID
	// or external ID is taken; ErrNotFound when a member does not exist.
	CreateGroup(ctx context.Context, g Group) error
	GetGroup(ctx context.Context, id string) (Group, error)
	// UpdateGroup reads (members included), applies fn and writes the
	// difference in one transaction.
	UpdateGroup(ctx context.Context, id string, fn func(Group) (Group, error)) (Group, error)
	DeleteGroup(ctx context.Context, id string) error // ErrNotFound when absent
	// ListGroups returns up to limit groups whose ID is greater than
	// afterID, in ID order, members included.
	ListGroups(ctx context.Context, afterID string, limit int) ([]Group, error)
	// ListAccountGroups returns the groups an account is a member of,
	// without their members, by display name.
	ListAccountGroups(ctx context.Context, accountID string) ([]Group, error)

	// PutWaitlist adds an address to the waitlist, or renews its entry.
	// DeleteExpired removes entries past ExpiresAt.
	PutWaitlist(ctx context.Context, e WaitlistEntry) error
	// TakeWaitlist removes an address's entry and returns it (the account
	// has appeared and the message is being sent, in the same
	// transaction). ErrNotFound when there is none or it has expired.
	TakeWaitlist(ctx context.Context, email string, now time.Time) (WaitlistEntry, error)
}
