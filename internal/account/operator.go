package account

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/portti/portti/internal/audit"
	"github.com/portti/portti/internal/storage"
)

// ErrExists means an operator tried to add an address that has an account.
var ErrExists = errors.New("an account with that e-mail address exists")

// AddUser creates an activated account for an operator (`portti user add`).
// The password must meet the policy, as on the registration form.
func (s *Service) AddUser(ctx context.Context, email string, p Profile, pw string, m Meta) (storage.Account, error) {
	var v ValidationError
	normalized, err := NormalizeEmail(email)
	if err != nil {
		v.add("email", "email.invalid", nil)
	}
	p = p.trim()
	p.validate(&v)
	s.checkPassword(&v, "password", pw, "", "", normalized, p.GivenName, p.FamilyName)
	if len(v) > 0 {
		return storage.Account{}, v
	}
	hash, err := s.cfg.Hasher.Hash(pw)
	if err != nil {
		return storage.Account{}, err
	}
	id, _, err := s.newSecret()
	if err != nil {
		return storage.Account{}, err
	}
	now := s.now()
	a := p.apply(storage.Account{
		ID: id[:26], Email: normalized, Locale: m.Lang,
		PasswordHash: hash, PasswordChangedAt: now, ActivatedAt: now,
		CreatedAt: now, UpdatedAt: now,
	})
	if err := s.cfg.Store.CreateAccount(ctx, a); err != nil {
		if errors.Is(err, storage.ErrConflict) {
			return a, ErrExists
		}
		return a, fmt.Errorf("add user: %w", err)
	}
	s.event(ctx, nil, m, storage.Event{Kind: audit.Created, AccountID: a.ID, Email: a.Email})
	return a, nil
}

// Find returns the account with a login address.
func (s *Service) Find(ctx context.Context, email string) (storage.Account, error) {
	normalized, err := NormalizeEmail(email)
	if err != nil {
		return storage.Account{}, ErrInvalidEmail
	}
	return s.cfg.Store.GetAccountByEmail(ctx, normalized)
}

// Status is an account's state as the helpdesk and `portti user show` see it.
type Status struct {
	Account        storage.Account
	Locked         bool
	PasswordAge    time.Duration
	PasswordExpiry time.Time // zero when passwords never expire
	Sessions       int
}

// Status reports an account's state now.
func (s *Service) Status(ctx context.Context, a storage.Account) (Status, error) {
	now := s.now()
	st := Status{Account: a, Locked: a.LockedUntil.After(now), PasswordAge: now.Sub(a.PasswordChangedAt)}
	if s.cfg.PasswordMaxAge > 0 {
		st.PasswordExpiry = a.PasswordChangedAt.Add(s.cfg.PasswordMaxAge)
	}
	sessions, err := s.cfg.Store.ListSessions(ctx, a.ID)
	if err != nil {
		return st, err
	}
	for _, se := range sessions {
		if se.ExpiresAt.After(now) {
			st.Sessions++
		}
	}
	return st, nil
}

// Unlocked says what Unlock cleared, so that the helpdesk can tell the
// person what was wrong.
type Unlocked struct {
	Account storage.Account // as it is now
	// FailedLogins is the account's count of consecutive failed logins
	// before the unlock.
	FailedLogins int
	// LockedUntil is the end of the lock that was lifted; zero when the
	// account was not locked (never, or the lock had already run out).
	LockedUntil time.Time
	// Browsers is how many of the owner's own browsers had failed logins
	// or a lock of their own (see KnownDevice) that were cleared.
	Browsers int
}

// Changed reports whether the unlock cleared anything.
func (u Unlocked) Changed() bool {
	return u.FailedLogins > 0 || !u.LockedUntil.IsZero() || u.Browsers > 0
}

// Unlock clears the lock and failure count of the account and of the
// owner's known browsers, and says what there was to clear.
func (s *Service) Unlock(ctx context.Context, email string, m Meta) (Unlocked, error) {
	var u Unlocked
	a, err := s.operatorUpdate(ctx, email, m, audit.Unlocked, func(a *storage.Account) {
		// Read inside the update's transaction: the state this unlock
		// replaced, not one a login changed a moment before.
		u.FailedLogins, u.LockedUntil = a.FailedLogins, time.Time{}
		if a.LockedUntil.After(s.now()) {
			u.LockedUntil = a.LockedUntil
		}
		a.FailedLogins, a.LockedUntil = 0, time.Time{}
	})
	u.Account = a
	if err != nil {
		return u, err
	}
	// The owner's own browsers count their failures apart (see
	// KnownDevice): the helpdesk's unlock must reach those too.
	if u.Browsers, err = s.cfg.Store.ClearDeviceLocks(ctx, a.ID); err != nil {
		return u, fmt.Errorf("%s: %w", audit.Unlocked, err)
	}
	return u, nil
}

// Disable stops the account from logging in and ends its sessions.
func (s *Service) Disable(ctx context.Context, email string, m Meta) (storage.Account, error) {
	a, err := s.operatorUpdate(ctx, email, m, audit.Disabled, func(a *storage.Account) { a.Disabled = true })
	if err != nil {
		return a, err
	}
	ended, err := s.endSessions(ctx, s.cfg.Store, a.ID, "")
	if err == nil {
		s.sessionsEnded(ctx, ended)
	}
	return a, err
}

// Enable lets a disabled account log in again.
func (s *Service) Enable(ctx context.Context, email string, m Meta) (storage.Account, error) {
	return s.operatorUpdate(ctx, email, m, audit.Enabled, func(a *storage.Account) { a.Disabled = false })
}

func (s *Service) operatorUpdate(ctx context.Context, email string, m Meta, kind string, change func(*storage.Account)) (storage.Account, error) {
	a, err := s.Find(ctx, email)
	if err != nil {
		return a, err
	}
	a, err = s.cfg.Store.UpdateAccount(ctx, a.ID, func(a storage.Account) (storage.Account, error) {
		change(&a)
		a.UpdatedAt = s.now()
		return a, nil
	})
	if err != nil {
		return a, fmt.Errorf("%s: %w", kind, err)
	}
	s.event(ctx, nil, m, storage.Event{Kind: kind, AccountID: a.ID, Email: a.Email})
	return a, nil
}

// RecordLogout audits a person signing out.
func (s *Service) RecordLogout(ctx context.Context, accountID string, m Meta) {
	s.event(ctx, nil, m, storage.Event{Kind: audit.Logout, AccountID: accountID})
}

// RecordSessionsEnded audits a person ending sessions from the settings page.
func (s *Service) RecordSessionsEnded(ctx context.Context, accountID string, n int, m Meta) {
	s.event(ctx, nil, m, storage.Event{Kind: audit.SessionsEnded, AccountID: accountID, Reason: fmt.Sprintf("%d sessions", n)})
}
