package mail

import (
	"errors"
	"time"
)

// MFAChange is what happened to an account's sign-in methods.
type MFAChange string

// The changes the owner is told about (NIST SP 800-63B-4: every change to
// the authenticators is notified through another channel).
const (
	MFAMethodAdded       MFAChange = "added"
	MFAMethodRemoved     MFAChange = "removed"
	MFARecoveryUsed      MFAChange = "recovery_used"
	MFARecoveryGenerated MFAChange = "recovery_generated"
	MFAReset             MFAChange = "reset"          // by an operator (the command line)
	MFAResetByHelpdesk   MFAChange = "reset_helpdesk" // by the helpdesk (the console or its API)
	// MFAResetProofed: by the owner, after strong identification.
	MFAResetProofed MFAChange = "reset_proofed"
)

// MFAChanged tells the owner that a second factor was added or removed, a
// recovery code used, the codes regenerated, or every method reset, and
// what to do if it was not them.
type MFAChanged struct {
	Name         string
	Change       MFAChange
	Method       string // the method's kind (totp, webauthn…) for added/removed
	When         time.Time
	CodesLeft    int    // recovery codes left, for recovery_used
	IP           string // where the change was made; empty for an operator
	SettingsLink string // /account/mfa
	ResetLink    string // "this was not me": a new password ends every session
}

// Kind implements Message.
func (MFAChanged) Kind() string { return "mfa_changed" }

func (m MFAChanged) check() error {
	var err error
	switch m.Change {
	case MFAMethodAdded, MFAMethodRemoved, MFARecoveryUsed, MFARecoveryGenerated, MFAReset, MFAResetByHelpdesk, MFAResetProofed:
	default:
		err = errors.New("Change is not a known change")
	}
	return errors.Join(err, checkTime("When", m.When), checkLink("SettingsLink", m.SettingsLink), checkLink("ResetLink", m.ResetLink))
}
