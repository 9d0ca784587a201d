// Package audit records who did what, when, from where, and why it failed.
//
// Events go to the database (the helpdesk looks them up by account or by the
// reference code shown on an error page) and to the structured log. An event
// never carries a password, token, link or secret.
package audit

import (
	"context"
	"log/slog"
	"time"

	"github.com/portti/portti/internal/storage"
)

// Event kinds. They are stable strings: operators filter logs by them.
const (
	Registered          = "account.registered"
	RegisterExisting    = "account.register_existing" // someone registered an address that has an account
	Activated           = "account.activated"
	ActivationSent      = "account.activation_sent"
	LoginSuccess        = "login.success"
	LoginFailure        = "login.failure"
	LoginThrottled      = "login.throttled"
	Logout              = "logout"
	SessionsEnded       = "sessions.ended"
	Locked              = "account.locked"
	Unlocked            = "account.unlocked"
	Disabled            = "account.disabled"
	Enabled             = "account.enabled"
	RecoveryRequested   = "password.recovery_requested"
	PasswordReset       = "password.reset"
	PasswordChanged     = "password.changed"
	PasswordRehashed    = "password.rehashed"
	ProfileUpdated      = "account.profile_updated"
	EmailChangeRequest  = "email.change_requested"
	EmailChanged        = "email.changed"
	EmailChangeConflict = "email.change_conflict"
	Created             = "account.created"    // by an operator
	AppAccessRemoved    = "app.access_removed" // the person removed an application's access on the account page

	// Multi-factor authentication (package authn).
	LoginPassword        = "login.password_ok" // right password, second step asked
	MFAFailure           = "mfa.failure"
	MFAAdded             = "mfa.added"
	MFARemoved           = "mfa.removed"
	MFARecoveryUsed      = "mfa.recovery_code_used"
	MFARecoveryGenerated = "mfa.recovery_codes_generated"
	MFAReset             = "mfa.reset" // by an operator
	MFARenamed           = "mfa.renamed"
)

// Recorder writes events.
type Recorder struct {
	store  storage.Storage
	logger *slog.Logger
	now    func() time.Time
}

// NewRecorder returns a Recorder writing to store and logger.
func NewRecorder(store storage.Storage, logger *slog.Logger, now func() time.Time) *Recorder {
	if now == nil {
		now = time.Now
	}
	return &Recorder{store: store, logger: logger, now: now}
}

// Record stores e (its Time set now when zero) through st, which may be a
// transaction, or through the Recorder's own store when st is nil. A failure
// to store is logged and returned; callers usually carry on, because losing
// an audit row must not stop a person from logging in.
func (r *Recorder) Record(ctx context.Context, st storage.Storage, e storage.Event) error {
	if e.Time.IsZero() {
		e.Time = r.now().UTC()
	}
	if st == nil {
		st = r.store
	}
	// Warnings are what an operator may need to look at; a reason alone
	// ("3 sessions ended") is detail, not trouble.
	level := slog.LevelInfo
	switch e.Kind {
	case LoginFailure, LoginThrottled, Locked:
		level = slog.LevelWarn
	}
	if err := st.AppendEvent(ctx, e); err != nil {
		r.logger.ErrorContext(ctx, "audit event not stored", slog.String("event", e.Kind), slog.Any("error", err))
		return err
	}
	// Logged once stored for good: a rolled-back registration logs
	// nothing, as it leaves no row.
	st.AfterCommit(func() {
		r.logger.LogAttrs(ctx, level, "audit",
			slog.String("event", e.Kind),
			slog.String("account_id", e.AccountID),
			slog.String("email", e.Email),
			slog.String("client_ip", e.ClientIP),
			slog.String("reason", e.Reason),
			slog.String("ref", e.Ref),
		)
	})
	return nil
}
