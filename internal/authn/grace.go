package authn

import (
	"context"
	"fmt"
	"time"

	"github.com/portti/portti/internal/storage"
)

// Enrolment grace (Config.EnrolmentGrace, mfa.enrolment_grace; 0 turns it
// off): when the operator's policy requires a second factor and a person
// has none, they may put the setup off for this long, counted from the
// first sign-in where the requirement met them (stored once per account,
// so signing in again never extends it). During it, the guidance page
// says by when, with "Later" and "Set up now". Only the policy grants
// grace: a client with require_mfa or acr_values asking for MFA never
// does (package oidc).

// EnrolmentGrace reports until when account a may still put off setting
// up a second factor, starting the grace period at its first call for
// the account; ok is false when there is no grace (it is off, or over).
func (s *Service) EnrolmentGrace(ctx context.Context, a storage.Account) (until time.Time, ok bool, err error) {
	if s.cfg.EnrolmentGrace <= 0 {
		return time.Time{}, false, nil
	}
	now := s.now()
	started, err := s.cfg.Store.StartMFAGrace(ctx, a.ID, now)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("enrolment grace: %w", err)
	}
	until = started.Add(s.cfg.EnrolmentGrace)
	return until, now.Before(until), nil
}
