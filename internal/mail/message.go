package mail

import (
	"errors"
	"fmt"
	"net/url"
	"time"
)

// Message is one kind of e-mail portti sends. Each message type carries
// exactly the data its templates need; links in it are absolute http(s)
// URLs built by the caller (the mail package never builds or sees tokens,
// only the finished links).
//
// The set of messages is closed: every Message has templates under
// templates/<Kind>/<lang>/ and the unexported method keeps other packages
// from declaring messages that have none.
type Message interface {
	// Kind names the message and its template directory, e.g. "activation".
	// It is safe to log.
	Kind() string

	// check reports a caller bug: a link that is not an absolute http(s)
	// URL, a zero time, a non-positive validity.
	check() error
}

// Activation asks a newly registered person to confirm their address.
// Following Link activates the account; an expired link offers a new one.
type Activation struct {
	Name      string        // how to greet the person; may be empty
	Link      string        // activation link
	ExpiresIn time.Duration // how long Link is valid
}

// AlreadyRegistered is sent, instead of an activation mail, when someone
// registers with an address that already has an account. It reveals
// nothing to the person who typed the address: they see the same page as
// for a new address, and only the owner of the mailbox learns more.
type AlreadyRegistered struct {
	Name      string
	LoginLink string // the login page
	ResetLink string // where to ask for a password reset link
}

// Recovery carries a password reset link.
type Recovery struct {
	Name      string
	Link      string // password reset link
	ExpiresIn time.Duration
}

// PasswordChanged tells the owner that the password was changed and that
// their other sessions were signed out.
type PasswordChanged struct {
	Name      string
	ResetLink string    // where to ask for a reset link if it was not them
	When      time.Time // when the password was changed
}

// AccountLocked tells the owner that too many wrong passwords locked the
// account for browsers they have not used before.
type AccountLocked struct {
	Name      string
	ResetLink string    // resetting the password unlocks the account at once
	Until     time.Time // end of the lock
	Failures  int       // wrong passwords (and second-factor codes) that led to the lock
	// SecondFactor: the failure that locked was a wrong second-factor code
	// after the right password, so the text speaks of codes too and says
	// that someone knows the password.
	SecondFactor bool
}

// EmailChange is sent to the NEW address: following Link makes it the
// account's login address.
type EmailChange struct {
	Name      string
	NewEmail  string // the address this message is sent to
	Link      string // confirmation link
	ExpiresIn time.Duration
}

// EmailChangeRequested is sent to the OLD address when a change to NewEmail
// is requested. Nothing changes until the link sent to NewEmail is followed.
type EmailChangeRequested struct {
	Name      string
	NewEmail  string
	ResetLink string // for the owner who did not ask for the change
}

// EmailChanged is sent to the OLD address once the new one is confirmed.
type EmailChanged struct {
	Name     string
	NewEmail string
}

// Kind implements Message.
func (Activation) Kind() string { return "activation" }

// Kind implements Message.
func (AlreadyRegistered) Kind() string { return "already_registered" }

// Kind implements Message.
func (Recovery) Kind() string { return "recovery" }

// Kind implements Message.
func (PasswordChanged) Kind() string { return "password_changed" }

// Kind implements Message.
func (AccountLocked) Kind() string { return "account_locked" }

// Kind implements Message.
func (EmailChange) Kind() string { return "email_change" }

// Kind implements Message.
func (EmailChangeRequested) Kind() string { return "email_change_requested" }

// Kind implements Message.
func (EmailChanged) Kind() string { return "email_changed" }

// allMessages lists one value of every message type; NewRenderer checks that
// each has its templates, and the tests render each in every language.
var allMessages = []Message{
	Activation{},
	AlreadyRegistered{},
	Recovery{},
	PasswordChanged{},
	AccountLocked{},
	EmailChange{},
	EmailChangeRequested{},
	EmailChanged{},
	MFAChanged{Change: MFAMethodAdded},
	HelpdeskAction{Change: HelpdeskUnlocked},
	IdentityBound{},
	HomeOrganisationLinked{},
	Invitation{}, AccountPending{}, RegistryNotYet{}, AlreadyActive{},
	GuestInvitation{},
	AccountEnding{},
}

func (m Activation) check() error {
	return errors.Join(checkLink("Link", m.Link), checkValidity(m.ExpiresIn))
}

func (m AlreadyRegistered) check() error {
	return errors.Join(checkLink("LoginLink", m.LoginLink), checkLink("ResetLink", m.ResetLink))
}

func (m Recovery) check() error {
	return errors.Join(checkLink("Link", m.Link), checkValidity(m.ExpiresIn))
}

func (m PasswordChanged) check() error {
	return errors.Join(checkLink("ResetLink", m.ResetLink), checkTime("When", m.When))
}

func (m AccountLocked) check() error {
	var err error
	if m.Failures < 1 {
		err = fmt.Errorf("Failures is %d", m.Failures)
	}
	return errors.Join(checkLink("ResetLink", m.ResetLink), checkTime("Until", m.Until), err)
}

func (m EmailChange) check() error {
	return errors.Join(checkEmail(m.NewEmail), checkLink("Link", m.Link), checkValidity(m.ExpiresIn))
}

func (m EmailChangeRequested) check() error {
	return errors.Join(checkEmail(m.NewEmail), checkLink("ResetLink", m.ResetLink))
}

func (m EmailChanged) check() error { return checkEmail(m.NewEmail) }

func checkLink(field, link string) error {
	u, err := url.Parse(link)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		// The link holds a secret: name the field, never the value.
		return fmt.Errorf("%s is not an absolute http(s) URL", field)
	}
	return nil
}

func checkValidity(d time.Duration) error {
	if d <= 0 {
		return fmt.Errorf("ExpiresIn is %v", d)
	}
	return nil
}

func checkTime(field string, t time.Time) error {
	if t.IsZero() {
		return fmt.Errorf("%s is zero", field)
	}
	return nil
}

func checkEmail(addr string) error {
	if addr == "" {
		return errors.New("NewEmail is empty")
	}
	return nil
}
