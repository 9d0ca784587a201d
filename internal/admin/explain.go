package admin

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/portti/portti/internal/audit"
	"github.com/portti/portti/internal/authn"
	"github.com/portti/portti/internal/storage"
)

// Problem is one reason a person cannot sign in, as a stable code (the
// API's) and the facts that go with it (the console puts them in words).
type Problem struct {
	Code string         `json:"code"`
	Args map[string]any `json:"details,omitempty"`
}

// The problem codes, most blocking first.
const (
	ProblemDisabled          = "disabled"
	ProblemNotActivated      = "not_activated"
	ProblemActivationExpired = "activation_expired"
	ProblemLocked            = "locked"
	ProblemBrowserLocked     = "browser_locked"
	ProblemPasswordExpired   = "password_expired"
	ProblemNoPassword        = "no_password"
	ProblemMFANotEnrolled    = "mfa_not_enrolled"
)

// Explanation is everything the records say about why a person can or
// cannot sign in: the "Why can't this person sign in?" panel.
type Explanation struct {
	Account  storage.Account
	Roles    []string
	Problems []Problem

	ActivationSentAt    time.Time // the last activation link; zero if none recorded
	ActivationExpiresAt time.Time

	LockedUntil  time.Time // zero: not locked
	FailedLogins int       // consecutive wrong passwords counted on the account
	FailedFrom   []string  // the IP addresses of the recent wrong passwords

	DisabledAt     time.Time
	DisabledBy     string // "by ACTOR: REASON" when the helpdesk did it; else how
	PasswordExpiry time.Time

	MFARequired bool
	MFAEnabled  bool
	// IdentityBoundAt: when a strong identity (package proofing) was
	// bound to the account, with which provider ("cli": by an operator);
	// zero when none is. A person with one can reset a lost second factor
	// and find their username themselves.
	IdentityBoundAt  time.Time
	IdentityProvider string
	Methods          []Method
	Sessions         []storage.Session // live ones, newest first
	Apps             []storage.AppAccess
	Failures         []storage.Event // recent failed sign-ins, newest first
}

// Method is a second factor as the panel lists it.
type Method struct {
	Kind, Name string
	TitleKey   string // the method's name for people, a translation key
	AddedAt    time.Time
	LastUsedAt time.Time
}

// failureKinds are the events a failed sign-in leaves.
var failureKinds = []string{audit.LoginFailure, audit.MFAFailure, audit.LoginThrottled, audit.Locked}

// recentEvents bounds how far back the panel reads the audit trail.
const recentEvents = 200

// Explain gathers the panel's facts from what storage already records.
func (s *Service) Explain(ctx context.Context, accountID string) (Explanation, error) {
	now := s.now()
	a, err := s.cfg.Store.GetAccount(ctx, accountID)
	if err != nil {
		return Explanation{}, err
	}
	x := Explanation{Account: a}
	if x.Roles, err = s.Roles(ctx, a.ID); err != nil {
		return x, err
	}
	events, err := s.cfg.Store.ListEventsBefore(ctx, a.ID, 0, recentEvents)
	if err != nil {
		return x, err
	}
	newest := func(kinds ...string) (storage.Event, bool) {
		for _, e := range events {
			if slices.Contains(kinds, e.Kind) {
				return e, true
			}
		}
		return storage.Event{}, false
	}
	settings := s.cfg.Accounts.Settings()

	if a.Disabled {
		x.DisabledBy = "operator"
		if e, ok := newest(audit.Disabled); ok {
			x.DisabledAt = e.Time
			if e.ClientIP == "cli" {
				x.DisabledBy = "cli"
			}
		}
		if e, ok := newest(EventPrefix+string(ActDisable), audit.Disabled); ok && e.Kind != audit.Disabled {
			x.DisabledBy = e.Reason
		}
		x.Problems = append(x.Problems, Problem{ProblemDisabled, map[string]any{"When": x.DisabledAt, "By": x.DisabledBy}})
	}
	if !a.Activated() {
		if e, ok := newest(audit.ActivationSent, audit.Registered); ok {
			x.ActivationSentAt, x.ActivationExpiresAt = e.Time, e.Time.Add(settings.ActivationTTL)
		}
		code := ProblemNotActivated
		if !x.ActivationExpiresAt.IsZero() && !now.Before(x.ActivationExpiresAt) {
			code = ProblemActivationExpired
		}
		x.Problems = append(x.Problems, Problem{code, map[string]any{"Sent": x.ActivationSentAt, "Expires": x.ActivationExpiresAt}})
	}
	// The account's counter starts again at a lock; the failures that led
	// to it are the wrong passwords and codes since the last success.
	recent, counting := 0, true
	for _, e := range events {
		switch {
		case !counting:
		case e.Kind == audit.LoginSuccess || e.Kind == audit.Unlocked || e.Kind == audit.PasswordReset:
			counting = false
		case (e.Kind == audit.LoginFailure && e.Reason == "wrong_password") || e.Kind == audit.MFAFailure:
			recent++
		}
	}
	x.FailedLogins = max(a.FailedLogins, recent)
	for _, e := range events {
		if e.Kind == audit.LoginFailure || e.Kind == audit.MFAFailure || e.Kind == audit.Locked {
			if e.ClientIP != "" && !slices.Contains(x.FailedFrom, e.ClientIP) && len(x.FailedFrom) < 5 {
				x.FailedFrom = append(x.FailedFrom, e.ClientIP)
			}
		}
		if slices.Contains(failureKinds, e.Kind) && len(x.Failures) < 20 {
			x.Failures = append(x.Failures, e)
		}
	}
	if a.LockedUntil.After(now) {
		x.LockedUntil = a.LockedUntil
		x.Problems = append(x.Problems, Problem{ProblemLocked, map[string]any{
			"Until": a.LockedUntil, "Failures": x.FailedLogins, "From": strings.Join(x.FailedFrom, ", ")}})
	}
	if x.Sessions, err = s.liveSessions(ctx, a.ID, now); err != nil {
		return x, err
	}
	// The owner's own browsers count their failures apart (KnownDevice);
	// those the records can name are the browsers of their sessions.
	for _, se := range x.Sessions {
		if se.DeviceID == "" {
			continue
		}
		if d, err := s.cfg.Store.GetKnownDevice(ctx, a.ID, se.DeviceID); err == nil && d.LockedUntil.After(now) {
			x.Problems = append(x.Problems, Problem{ProblemBrowserLocked, map[string]any{"Until": d.LockedUntil, "Browser": se.UserAgent}})
			break
		}
	}
	if a.PasswordHash == "" {
		x.Problems = append(x.Problems, Problem{ProblemNoPassword, nil})
	} else if settings.PasswordMaxAge > 0 {
		x.PasswordExpiry = a.PasswordChangedAt.Add(settings.PasswordMaxAge)
		if !now.Before(x.PasswordExpiry) {
			x.Problems = append(x.Problems, Problem{ProblemPasswordExpired, map[string]any{"Since": x.PasswordExpiry}})
		}
	}
	if s.cfg.MFA != nil {
		entries, err := s.cfg.MFA.Entries(ctx, a.ID)
		if err != nil {
			return x, err
		}
		x.MFAEnabled = authn.Enabled(entries)
		x.MFARequired = s.cfg.MFA.RequiredFor(a)
		for _, e := range entries {
			x.Methods = append(x.Methods, Method{Kind: e.Method.Kind(), TitleKey: e.Method.TitleKey(), Name: e.Credential.Name, AddedAt: e.Credential.CreatedAt, LastUsedAt: e.Credential.LastUsedAt})
		}
		if x.MFARequired && !x.MFAEnabled {
			x.Problems = append(x.Problems, Problem{ProblemMFANotEnrolled, nil})
		}
	}
	switch id, err := s.cfg.Store.GetIdentity(ctx, a.ID); {
	case err == nil:
		x.IdentityBoundAt, x.IdentityProvider = id.BoundAt, id.Provider
	case !errors.Is(err, storage.ErrNotFound):
		return x, err
	}
	if x.Apps, err = s.cfg.Store.ListAppAccess(ctx, a.ID, now); err != nil {
		return x, err
	}
	return x, nil
}

func (s *Service) liveSessions(ctx context.Context, accountID string, now time.Time) ([]storage.Session, error) {
	all, err := s.cfg.Store.ListSessions(ctx, accountID)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(all, func(se storage.Session) bool { return !se.ExpiresAt.After(now) }), nil
}
