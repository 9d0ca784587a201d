package mail

import (
	"errors"
	"time"
)

// AccountEnding tells the owner of a provisioned account, some days
// before, that the registry has given their account an end date: on
// which day it ends, until when they can still sign in, and what to do
// (ask the registry's keepers if it should continue; keep what they
// need from the services).
type AccountEnding struct {
	Name        string
	LastDay     time.Time // the registry's end date: the last day
	SignInUntil time.Time // the end of the grace: the account is disabled then
	AccountLink string    // /account
}

// Kind implements Message.
func (AccountEnding) Kind() string { return "account_ending" }

func (m AccountEnding) check() error {
	var err error
	if m.SignInUntil.Before(m.LastDay) {
		err = errors.New("SignInUntil is before LastDay")
	}
	return errors.Join(err, checkTime("LastDay", m.LastDay), checkTime("SignInUntil", m.SignInUntil), checkLink("AccountLink", m.AccountLink))
}
