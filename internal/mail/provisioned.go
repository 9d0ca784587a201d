package mail

import (
	"errors"
	"fmt"
	"time"
)

// The messages of the activation of provisioned accounts (issue 11,
// point 4): what the activation page's answer is, sent to the mailbox so
// that the page itself says the same for every address.

// Invitation invites the owner of an account that the organisation's
// registry created to activate it: Link opens the page that sets the
// first password.
type Invitation struct {
	Name      string
	Email     string // the account's username, shown so the person knows it
	Link      string
	ExpiresIn time.Duration
}

// Kind implements Message.
func (Invitation) Kind() string { return "invitation" }

func (m Invitation) check() error {
	var err error
	if m.Email == "" {
		err = errors.New("Email is empty")
	}
	return errors.Join(err, checkLink("Link", m.Link), checkValidity(m.ExpiresIn))
}

// AccountPending tells the owner of an account whose start date is ahead
// from which date it works, and where to activate it then.
type AccountPending struct {
	Name           string
	StartsAt       time.Time
	ActivationLink string // the activation page
}

// Kind implements Message.
func (AccountPending) Kind() string { return "account_pending" }

func (m AccountPending) check() error {
	return errors.Join(checkTime("StartsAt", m.StartsAt), checkLink("ActivationLink", m.ActivationLink))
}

// RegistryNotYet answers the activation page for an address no account
// has: the registry has not sent the person's data yet; they will get an
// invitation when it does (the address is on the waitlist for WaitDays).
type RegistryNotYet struct {
	// RegistryDelay is the organisation's own sentence on when the
	// registries usually send a new person's data; may be empty.
	RegistryDelay string
	WaitDays      int
	RegisterLink  string // self-registration, for someone who needs no registry
}

// Kind implements Message.
func (RegistryNotYet) Kind() string { return "registry_not_yet" }

func (m RegistryNotYet) check() error {
	var err error
	if m.WaitDays <= 0 {
		err = errors.New("WaitDays is not positive")
	}
	return errors.Join(err, checkLink("RegisterLink", m.RegisterLink))
}

// AlreadyActive answers the activation page for an account that is
// already active: sign in, or set a new password.
type AlreadyActive struct {
	Name      string
	LoginLink string
	ResetLink string
}

// Kind implements Message.
func (AlreadyActive) Kind() string { return "already_active" }

func (m AlreadyActive) check() error {
	return errors.Join(checkLink("LoginLink", m.LoginLink), checkLink("ResetLink", m.ResetLink))
}

// formatDate writes a calendar date in Finland's time zone.
func formatDate(lang string, t time.Time) string {
	t = t.In(helsinki)
	if lang == "en" {
		return t.Format("2 January 2006")
	}
	return fmt.Sprintf("%d.%d.%d", t.Day(), int(t.Month()), t.Year())
}
