package mail

import (
	"errors"
	"time"
)

// GuestInvitation invites an e-mail address to a guest account (package
// guests): who invited, their note, until when the account would work,
// and the single-use link to accept.
type GuestInvitation struct {
	Name      string // the guest's name when the inviter gave one; may be empty
	Inviter   string // the inviter's e-mail address, or the organisation for the command line
	Note      string // the inviter's note; may be empty
	EndsAt    time.Time
	Link      string
	ExpiresIn time.Duration
}

// Kind implements Message.
func (GuestInvitation) Kind() string { return "guest_invitation" }

func (m GuestInvitation) check() error {
	var err error
	if m.Inviter == "" {
		err = errors.New("Inviter is empty")
	}
	return errors.Join(err, checkTime("EndsAt", m.EndsAt), checkLink("Link", m.Link), checkValidity(m.ExpiresIn))
}
