package account

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/portti/portti/internal/audit"
	"github.com/portti/portti/internal/mail"
	"github.com/portti/portti/internal/secret"
	"github.com/portti/portti/internal/storage"
)

const (
	hourWindow = time.Hour
	dayWindow  = 24 * time.Hour
)

// Login errors. ErrInvalidCredentials and ErrThrottled are all a stranger
// ever sees; the others come only after the right password.
var (
	ErrInvalidCredentials = errors.New("wrong e-mail address or password")
	ErrThrottled          = errors.New("too many failed logins from this address")
	ErrNotActivated       = errors.New("account not activated")
	ErrDisabled           = errors.New("account disabled")
	// ErrSecondStep: the password is right and the sign-in needs a second
	// factor (Config.SecondStep) before it is complete.
	ErrSecondStep = errors.New("second factor needed")
)

// LockedError says the account (or this browser's use of it) is locked.
type LockedError struct{ Until time.Time }

func (e *LockedError) Error() string { return "account locked until " + e.Until.Format(time.RFC3339) }

// PasswordExpiredError says the password is right but too old. ChangeToken
// is a short-lived recovery secret that lets the person set a new password
// right away without another e-mail round trip.
type PasswordExpiredError struct{ ChangeToken string }

func (e *PasswordExpiredError) Error() string { return "password expired" }

// Login checks an e-mail address and password.
//
// Wrong passwords are counted on the account, except in a browser where the
// owner has logged in before (m.DeviceID names a known device): there they
// are counted on that device. So a stranger guessing from elsewhere locks
// every other browser but never the owner's own one, and the owner's own
// typos lock only that browser.
func (s *Service) Login(ctx context.Context, email, pw string, m Meta) (storage.Account, error) {
	now := s.now()
	if m.ClientIP != "" {
		n, err := s.cfg.Store.Attempts(ctx, "login-ip:"+m.ClientIP, now, s.cfg.ThrottleWindow)
		if err != nil {
			return storage.Account{}, fmt.Errorf("login throttle: %w", err)
		}
		if n >= s.cfg.ThrottleLimit {
			s.event(ctx, nil, m, storage.Event{Kind: audit.LoginThrottled, Reason: "client_address_throttled"})
			return storage.Account{}, ErrThrottled
		}
	}

	normalized, nerr := NormalizeEmail(email)
	var a storage.Account
	err := storage.ErrNotFound
	if nerr == nil && len(pw) <= 4096 {
		a, err = s.cfg.Store.GetAccountByEmail(ctx, normalized)
	}
	if err != nil {
		if !errors.Is(err, storage.ErrNotFound) {
			return a, fmt.Errorf("login: %w", err)
		}
		// Unknown address: spend the time a real check costs, the hash and
		// the reads and writes of a wrong password on an account.
		s.cfg.Hasher.DummyVerify(pw)
		if m.DeviceID != "" {
			_, _ = s.cfg.Store.GetKnownDevice(ctx, "", m.DeviceID)
		}
		s.countClientFailure(ctx, m, now)
		s.recordUnknownFailure(ctx, normalized, now)
		s.event(ctx, nil, m, storage.Event{Kind: audit.LoginFailure, Email: normalized, Reason: "unknown_account"})
		return storage.Account{}, ErrInvalidCredentials
	}

	ok, rehash, verr := s.cfg.Hasher.Verify(pw, a.PasswordHash)
	if verr != nil {
		// No hash was computed (no password set, or a hash we cannot
		// read): spend the time anyway, or the answer's speed would tell
		// that the address has an account.
		s.cfg.Hasher.DummyVerify(pw)
		if a.PasswordHash != "" {
			s.cfg.Logger.ErrorContext(ctx, "stored password hash unreadable", "account_id", a.ID, "error", verr)
		}
	}
	var device storage.KnownDevice
	known := false
	if m.DeviceID != "" {
		d, err := s.cfg.Store.GetKnownDevice(ctx, a.ID, m.DeviceID)
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			return a, fmt.Errorf("login: %w", err)
		}
		device, known = d, err == nil
	}

	if !ok {
		s.countClientFailure(ctx, m, now)
		return storage.Account{}, s.recordFailure(ctx, a, known, m, "wrong_password")
	}

	// The password is right: from here on the person may be told exactly
	// why they cannot go on.
	switch {
	case a.Disabled:
		s.event(ctx, nil, m, storage.Event{Kind: audit.LoginFailure, AccountID: a.ID, Email: a.Email, Reason: "disabled", Ref: m.Ref})
		return a, ErrDisabled
	case !a.Activated():
		s.event(ctx, nil, m, storage.Event{Kind: audit.LoginFailure, AccountID: a.ID, Email: a.Email, Reason: "not_activated"})
		return a, ErrNotActivated
	}
	if until, locked := s.lockedUntil(a, device, known, now); locked {
		s.event(ctx, nil, m, storage.Event{Kind: audit.LoginFailure, AccountID: a.ID, Email: a.Email, Reason: "locked"})
		return a, &LockedError{Until: until}
	}
	if s.cfg.PasswordMaxAge > 0 && now.Sub(a.PasswordChangedAt) > s.cfg.PasswordMaxAge {
		code, err := s.issueToken(ctx, s.cfg.Store, storage.TokenRecovery, a, a.Email, 10*time.Minute)
		if err != nil {
			return a, err
		}
		s.event(ctx, nil, m, storage.Event{Kind: audit.LoginFailure, AccountID: a.ID, Email: a.Email, Reason: "password_expired"})
		return a, &PasswordExpiredError{ChangeToken: code}
	}

	if rehash {
		// The hash was made with older parameters; upgrade it now that we
		// hold the password. Hashed before the update: the update's
		// transaction holds SQLite's only write lock.
		if h, err := s.cfg.Hasher.Hash(pw); err == nil {
			a, err = s.cfg.Store.UpdateAccount(ctx, a.ID, func(a storage.Account) (storage.Account, error) {
				a.PasswordHash = h
				return a, nil
			})
			if err != nil {
				return a, fmt.Errorf("login: %w", err)
			}
			s.event(ctx, nil, m, storage.Event{Kind: audit.PasswordRehashed, AccountID: a.ID, Email: a.Email})
		}
	}
	if s.cfg.SecondStep != nil {
		need, err := s.cfg.SecondStep(ctx, a)
		if err != nil {
			return a, fmt.Errorf("login: %w", err)
		}
		if need {
			// Nothing a finished sign-in does happens yet: no lock is
			// reset and the browser does not become the owner's own,
			// or a stranger holding the password could guess codes
			// from browser after "known" browser without ever locking.
			s.event(ctx, nil, m, storage.Event{Kind: audit.LoginPassword, AccountID: a.ID, Email: a.Email})
			return a, ErrSecondStep
		}
	}
	return a, s.finishLogin(ctx, s.cfg.Store, a, known, m)
}

// CompleteLogin finishes a sign-in whose second step (package authn) has
// just succeeded: what Login does after a password when no step remains.
func (s *Service) CompleteLogin(ctx context.Context, a storage.Account, m Meta) error {
	return s.CompleteLoginIn(ctx, s.cfg.Store, a, m)
}

// CompleteLoginIn is CompleteLogin through st: in a transaction the
// caller has open (the passkey's counter and the sign-in's bookkeeping
// commit together), or the store.
func (s *Service) CompleteLoginIn(ctx context.Context, st storage.Storage, a storage.Account, m Meta) error {
	known := false
	// Whether the browser is known matters only to an account lock to
	// lift (finishLogin): most sign-ins need not read it.
	if m.DeviceID != "" && (a.FailedLogins != 0 || !a.LockedUntil.IsZero()) {
		_, err := st.GetKnownDevice(ctx, a.ID, m.DeviceID)
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("login: %w", err)
		}
		known = err == nil
	}
	return s.finishLogin(ctx, st, a, known, m)
}

// finishLogin resets the lock a successful sign-in lifts, remembers the
// browser as the owner's own, records the success, and starts the browser
// session when m says how (StartSession).
func (s *Service) finishLogin(ctx context.Context, store storage.Storage, a storage.Account, known bool, m Meta) error {
	now := s.now()
	// One transaction for the sign-in's bookkeeping: it commits at once,
	// and a sign-in pays for one commit instead of up to four (issue 8,
	// benchmark h). A failed audit row is undone alone (a savepoint on
	// PostgreSQL, see sqlstore's guard) and does not fail the sign-in.
	return store.InTx(ctx, func(st storage.Storage) error {
		// Only a login where the account's lock applies resets it: the
		// owner signing in from their own browser says nothing about the
		// stranger guessing elsewhere, whose lock must stay.
		// Most logins change nothing on the account: no write then.
		if !known && (a.FailedLogins != 0 || !a.LockedUntil.IsZero()) {
			var err error
			a, err = st.UpdateAccount(ctx, a.ID, func(a storage.Account) (storage.Account, error) {
				a.FailedLogins, a.LockedUntil = 0, time.Time{}
				return a, nil
			})
			if err != nil {
				return fmt.Errorf("login: %w", err)
			}
		}
		if m.DeviceID != "" {
			_, err := st.UpsertKnownDevice(ctx, a.ID, m.DeviceID, func(d storage.KnownDevice) (storage.KnownDevice, error) {
				if d.FirstSeenAt.IsZero() {
					d.FirstSeenAt = now
				}
				d.LastSeenAt, d.FailedLogins, d.LockedUntil = now, 0, time.Time{}
				return d, nil
			})
			if err != nil {
				return fmt.Errorf("login: remember device: %w", err)
			}
		}
		s.event(ctx, st, m, storage.Event{Kind: audit.LoginSuccess, AccountID: a.ID, Email: a.Email})
		if m.StartSession != nil {
			return m.StartSession(ctx, st, a, m.Factors)
		}
		return nil
	})
}

// lockedUntil applies the lock that holds for this browser: the device's own
// lock in a known browser, the account's lock anywhere else. A lock set
// before the last password change no longer holds: a reset unlocks.
func (s *Service) lockedUntil(a storage.Account, d storage.KnownDevice, known bool, now time.Time) (time.Time, bool) {
	until := a.LockedUntil
	if known {
		if s.deviceLockLifted(a, d) {
			return time.Time{}, false
		}
		until = d.LockedUntil
	}
	return until, until.After(now)
}

// deviceLockLifted reports whether a device's lock was set before the
// account's last password change, which lifts it.
func (s *Service) deviceLockLifted(a storage.Account, d storage.KnownDevice) bool {
	return !d.LockedUntil.IsZero() && a.PasswordChangedAt.After(d.LockedUntil.Add(-s.cfg.LockoutDuration))
}

// countClientFailure feeds the per-address throttle against password spraying.
func (s *Service) countClientFailure(ctx context.Context, m Meta, now time.Time) {
	if m.ClientIP == "" {
		return
	}
	if _, err := s.cfg.Store.CountAttempt(ctx, "login-ip:"+m.ClientIP, now, s.cfg.ThrottleWindow); err != nil {
		s.cfg.Logger.WarnContext(ctx, "login throttle not counted", "error", err)
	}
}

// recordUnknownFailure counts a login to an address without an account,
// in a transaction of its own like recordFailure's count on an account: the
// answer must take as long as for a wrong password, database work
// included. The key holds the address's hash, not what was typed.
func (s *Service) recordUnknownFailure(ctx context.Context, normalized string, now time.Time) {
	key := "login-unknown:" + secret.Hash(normalized)
	err := s.inTx(ctx, func(tx storage.Storage) error {
		// A read and a write, as UpdateAccount makes.
		if _, err := tx.Attempts(ctx, key, now, s.cfg.LockoutDuration); err != nil {
			return err
		}
		_, err := tx.CountAttempt(ctx, key, now, s.cfg.LockoutDuration)
		return err
	})
	if err != nil {
		s.cfg.Logger.WarnContext(ctx, "unknown-address login not counted", "error", err)
	}
}

// recordFailure counts a wrong password on the device or the account, locks
// at the threshold, and tells the owner by e-mail when the account locks.
func (s *Service) recordFailure(ctx context.Context, a storage.Account, knownDevice bool, m Meta, reason string) error {
	now := s.now()
	lock := func(failures *int, until *time.Time) bool {
		if until.After(now) {
			// Already locked: guesses during the lock are refused anyway,
			// and counting them would re-lock at the first typo after it.
			return false
		}
		*failures++
		if *failures >= s.cfg.LockoutThreshold {
			*until = now.Add(s.cfg.LockoutDuration)
			*failures = 0
			return true
		}
		return false
	}
	var locked bool
	var until time.Time
	err := s.inTx(ctx, func(tx storage.Storage) error {
		if knownDevice {
			d, err := tx.UpsertKnownDevice(ctx, a.ID, m.DeviceID, func(d storage.KnownDevice) (storage.KnownDevice, error) {
				if s.deviceLockLifted(a, d) {
					// A lock a password change lifted must not linger
					// until its time runs out: it would keep this
					// browser from locking again meanwhile.
					d.FailedLogins, d.LockedUntil = 0, time.Time{}
				}
				locked = lock(&d.FailedLogins, &d.LockedUntil)
				return d, nil
			})
			until = d.LockedUntil
			return err
		}
		var err error
		a, err = tx.UpdateAccount(ctx, a.ID, func(a storage.Account) (storage.Account, error) {
			locked = lock(&a.FailedLogins, &a.LockedUntil)
			a.UpdatedAt = now
			return a, nil
		})
		until = a.LockedUntil
		if err != nil || !locked || a.Disabled {
			return err
		}
		return s.cfg.Outbox.Enqueue(ctx, tx, a.Email, lang(a, m), mail.AccountLocked{
			Name:      displayName(a),
			ResetLink: s.link("/password/forgot", url.Values{"email": {a.Email}}),
			Until:     until,
			Failures:  s.cfg.LockoutThreshold,
			// A wrong code comes after the right password: the owner must
			// hear that, not only of wrong passwords.
			SecondFactor: reason == reasonWrongSecondFactor,
		})
	})
	if err != nil {
		return fmt.Errorf("login: count failure: %w", err)
	}
	s.event(ctx, nil, m, storage.Event{Kind: audit.LoginFailure, AccountID: a.ID, Email: a.Email, Reason: reason})
	if locked {
		scope := "account"
		if knownDevice {
			scope = "device"
		}
		s.event(ctx, nil, m, storage.Event{Kind: audit.Locked, AccountID: a.ID, Email: a.Email, Reason: scope + " locked until " + until.Format(time.RFC3339)})
	}
	return ErrInvalidCredentials
}

// SecondFactorLocked returns a *LockedError when the lock that holds for
// this browser (the device's own in the owner's browser, the account's
// elsewhere) forbids a second step now.
func (s *Service) SecondFactorLocked(ctx context.Context, a storage.Account, m Meta) error {
	var device storage.KnownDevice
	known := false
	if m.DeviceID != "" {
		d, err := s.cfg.Store.GetKnownDevice(ctx, a.ID, m.DeviceID)
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("second factor: %w", err)
		}
		device, known = d, err == nil
	}
	if until, locked := s.lockedUntil(a, device, known, s.now()); locked {
		return &LockedError{Until: until}
	}
	return nil
}

// reasonWrongSecondFactor is the audited reason of a wrong second-factor
// code.
const reasonWrongSecondFactor = "wrong_second_factor"

// SecondFactorFailed counts a wrong second-factor code exactly like a
// wrong password (Login's owner's-browser rule), so that guessing codes
// locks what guessing passwords would. It returns the *LockedError when
// this failure locked, else ErrInvalidCredentials.
func (s *Service) SecondFactorFailed(ctx context.Context, a storage.Account, m Meta) error {
	known := false
	if m.DeviceID != "" {
		_, err := s.cfg.Store.GetKnownDevice(ctx, a.ID, m.DeviceID)
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("second factor: %w", err)
		}
		known = err == nil
	}
	s.countClientFailure(ctx, m, s.now())
	err := s.recordFailure(ctx, a, known, m, reasonWrongSecondFactor)
	if !errors.Is(err, ErrInvalidCredentials) {
		return err
	}
	fresh, gerr := s.cfg.Store.GetAccount(ctx, a.ID)
	if gerr != nil {
		return err
	}
	if lerr := s.SecondFactorLocked(ctx, fresh, m); lerr != nil {
		return lerr
	}
	return err
}
