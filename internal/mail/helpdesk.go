package mail

import (
	"errors"
	"time"
)

// HelpdeskChange is what the helpdesk did to an account.
type HelpdeskChange string

// The helpdesk's changes the owner is told about. A reset of the second
// factors is told by MFAChanged (MFAReset); a reset link or an activation
// link is its own message.
const (
	HelpdeskUnlocked      HelpdeskChange = "unlocked"
	HelpdeskSessionsEnded HelpdeskChange = "sessions_ended"
	HelpdeskDisabled      HelpdeskChange = "disabled"
	HelpdeskEnabled       HelpdeskChange = "enabled"
	// A temporary access pass was issued, and used (authn/accesspass):
	// the owner hears of both, so a pass they did not ask for is
	// reported before or as soon as it is used.
	HelpdeskAccessPassIssued HelpdeskChange = "access_pass_issued"
	HelpdeskAccessPassUsed   HelpdeskChange = "access_pass_used"
)

// HelpdeskAction tells the owner that the helpdesk changed their account,
// when, and what to do if they did not ask for it. The staff member's
// reason is not in it: it may quote a ticket that is not the owner's to
// read.
type HelpdeskAction struct {
	Name      string
	Change    HelpdeskChange
	When      time.Time
	ResetLink string // "this was not me": a new password ends every session
}

// Kind implements Message.
func (HelpdeskAction) Kind() string { return "helpdesk_action" }

func (m HelpdeskAction) check() error {
	var err error
	switch m.Change {
	case HelpdeskUnlocked, HelpdeskSessionsEnded, HelpdeskDisabled, HelpdeskEnabled, HelpdeskAccessPassIssued, HelpdeskAccessPassUsed:
	default:
		err = errors.New("Change is not a known change")
	}
	return errors.Join(err, checkTime("When", m.When), checkLink("ResetLink", m.ResetLink))
}
