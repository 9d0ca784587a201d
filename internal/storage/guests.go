package storage

import (
	"context"
	"time"
)

// RoleGuestInviter may invite guests (package guests); admins may too.
const RoleGuestInviter = "guest-inviter"

// ProvisionSourceInvitation marks the registry record of a guest account
// that an accepted invitation created (package guests): the invitation,
// not SCIM or a CSV import, keeps it.
const ProvisionSourceInvitation = "invitation"

// Invitation is a guest invitation (issue 10, point 5): an inviter asks
// that an e-mail address get a guest account until EndsAt. Only the
// SHA-256 of the link's secret is kept; the link works once, until
// ExpiresAt.
type Invitation struct {
	ID        string // random; named in audit events and the console
	TokenHash string // hex SHA-256 of the link's secret
	Email     string // normalised
	Locale    string // the language of the e-mail and the page: fi, sv, en
	Note      string // the inviter's note (why, which project)
	InvitedBy string // the inviter's account ID, or "" for the command line
	Inviter   string // the inviter's e-mail address, or "cli"
	EndsAt    time.Time
	ExpiresAt time.Time
	CreatedAt time.Time
	// AcceptedAt and AccountID are set when the link is used.
	AcceptedAt time.Time
	AccountID  string
}

// GuestStorage keeps guest invitations; Storage embeds it.
type GuestStorage interface {
	// CreateInvitation stores an invitation; ErrConflict when its ID or
	// token hash is taken.
	CreateInvitation(ctx context.Context, inv Invitation) error
	// GetInvitationByToken returns the invitation whose TokenHash is hash;
	// ErrNotFound if none.
	GetInvitationByToken(ctx context.Context, hash string) (Invitation, error)
	// AcceptInvitation records that the invitation id was used for
	// accountID at at. ErrConflict when it was used already (the link
	// is single use even under concurrent requests); ErrNotFound when
	// there is no such invitation.
	AcceptInvitation(ctx context.Context, id, accountID string, at time.Time) error
	// ListInvitations returns up to limit invitations, newest first; by
	// one inviter (an account ID) unless invitedBy is "".
	ListInvitations(ctx context.Context, invitedBy string, limit int) ([]Invitation, error)
}
