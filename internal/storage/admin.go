package storage

import (
	"context"
	"time"
)

// Staff roles. A role is granted to an account; the helpdesk console
// (package admin) lets an account in only with one of them.
const (
	RoleHelpdesk = "helpdesk" // looks people up, explains, and fixes their sign-in
	RoleAdmin    = "admin"    // what the helpdesk can, and manages roles and notices
)

// StaffRole is one role held by one account.
type StaffRole struct {
	AccountID string
	Role      string // RoleHelpdesk or RoleAdmin
	GrantedAt time.Time
	GrantedBy string // who granted it: a staff member's e-mail, or "cli"
}

// Notice is a banner shown on the login page and every other page between
// StartsAt and EndsAt ("maintenance on Saturday 8–12"), in each language.
type Notice struct {
	ID       string // random
	StartsAt time.Time
	EndsAt   time.Time
	TextFI   string
	TextSV   string
	TextEN   string

	CreatedAt time.Time
	CreatedBy string
}

// Text returns the notice in language lang (fi, sv or en), falling back to
// English, then to whichever language has text.
func (n Notice) Text(lang string) string {
	switch {
	case lang == "fi" && n.TextFI != "":
		return n.TextFI
	case lang == "sv" && n.TextSV != "":
		return n.TextSV
	case n.TextEN != "":
		return n.TextEN
	case n.TextFI != "":
		return n.TextFI
	}
	return n.TextSV
}

// AdminStorage is what the helpdesk console keeps and looks up; Storage
// embeds it.
type AdminStorage interface {
	// GrantRole gives an account a role. Granting a role held already
	// changes nothing and is no error; ErrNotFound when the account
	// does not exist.
	GrantRole(ctx context.Context, r StaffRole) error
	// RevokeRole takes a role away; ErrNotFound when it was not held.
	RevokeRole(ctx context.Context, accountID, role string) error
	// ListRoles returns the roles of one account, or of every account
	// when accountID is empty, by account then role.
	ListRoles(ctx context.Context, accountID string) ([]StaffRole, error)

	// CreateNotice stores a notice; ErrConflict when its ID is taken.
	CreateNotice(ctx context.Context, n Notice) error
	// ListNotices returns every notice, by start time (then ID).
	ListNotices(ctx context.Context) ([]Notice, error)
	// ActiveNotices returns the notices shown at now (StartsAt <= now <
	// EndsAt), by start time.
	ActiveNotices(ctx context.Context, now time.Time) ([]Notice, error)
	// DeleteNotice removes a notice; ErrNotFound when there is none.
	DeleteNotice(ctx context.Context, id string) error

	// SearchAccounts finds accounts whose e-mail address, given name,
	// family name or "given family" contains q, case-insensitively (ASCII
	// case; the e-mail is stored normalised), by e-mail, at most limit.
	SearchAccounts(ctx context.Context, q string, limit int) ([]Account, error)
	// EventByRef returns the newest event carrying reference code ref.
	EventByRef(ctx context.Context, ref string) (Event, error)
	// ListEventsBefore pages an account's events newest first: those with
	// an ID below before (before <= 0: from the newest), at most limit.
	ListEventsBefore(ctx context.Context, accountID string, before int64, limit int) ([]Event, error)

	// StaffSessionSeen returns when a staff member last used the console
	// in session sessionID (zero when never): its idle timeout runs from
	// then. TouchStaffSession records a use at now; ErrNotFound when the
	// session does not exist. The record goes with the session.
	StaffSessionSeen(ctx context.Context, sessionID string) (time.Time, error)
	TouchStaffSession(ctx context.Context, sessionID string, now time.Time) error
}
