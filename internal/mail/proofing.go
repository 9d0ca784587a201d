package mail

import (
	"errors"
	"time"
)

// IdentityBound tells the owner of an account bound to a proven identity
// that another account was just bound to the same identity (one person
// may hold several accounts; a stranger's account must not join them
// unnoticed), and how to report it.
type IdentityBound struct {
	Name       string
	OtherEmail string // the account just bound
	When       time.Time
	ResetLink  string // "this was not me"
}

// Kind implements Message.
func (IdentityBound) Kind() string { return "identity_bound" }

func (m IdentityBound) check() error {
	var err error
	if m.OtherEmail == "" {
		err = errors.New("OtherEmail is empty")
	}
	return errors.Join(err, checkTime("When", m.When), checkLink("ResetLink", m.ResetLink))
}
