package account

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/portti/portti/internal/mail"
	"github.com/portti/portti/internal/storage"
)

// Activation of accounts that a registry created (issue 11, point 4).
//
// A provisioned account has no password and is not activated. Its owner
// activates it from an invitation e-mail, whose link opens a page that
// sets the first password (the sign-in that follows enrols a second
// factor when the policy asks for one), or asks for that e-mail on the
// activation page by typing their address. That page must not tell a
// stranger which addresses exist, so it says the same for every address
// and the answer goes to the mailbox: an invitation, "your account works
// from 14 January", "your account is already active", or "the registry
// has not sent your data yet; registries usually do so …", after which
// the address waits on the waitlist and gets its invitation when the
// registry creates the account. Like the other forms that take an
// address, the request only queues a task (tasks.go), so its speed tells
// nothing either.

// TokenInvitation is the kind of an invitation link's token: it sets the
// first password of a provisioned account and activates it.
const TokenInvitation storage.TokenKind = "invitation"

// taskActivationRequest: ActivationRequest's work.
const taskActivationRequest = "activation_request"

// Audit event kinds of this flow.
const (
	EventActivationRequested = "account.activation_requested"
	EventInvitationSent      = "account.invitation_sent"
	EventInvitationAccepted  = "account.invitation_accepted"
)

// Defaults of ActivationConfig.
const (
	DefaultInvitationTTL = 7 * 24 * time.Hour
	DefaultWaitlistTTL   = 60 * 24 * time.Hour
)

// ActivationConfig configures the activation of provisioned accounts.
type ActivationConfig struct {
	// InvitationTTL is how long an invitation link works; a registry's
	// invitation may wait in a mailbox over a weekend.
	InvitationTTL time.Duration
	// WaitlistTTL is how long an address that nothing knows waits for its
	// account.
	WaitlistTTL time.Duration
	// RegistryDelay returns, in a language, when the registries usually
	// send a new person's data ("the day after your data has been entered
	// in the student register"); "" leaves the sentence out.
	RegistryDelay func(lang string) string
}

func (c ActivationConfig) invitationTTL() time.Duration {
	if c.InvitationTTL > 0 {
		return c.InvitationTTL
	}
	return DefaultInvitationTTL
}

func (c ActivationConfig) waitlistTTL() time.Duration {
	if c.WaitlistTTL > 0 {
		return c.WaitlistTTL
	}
	return DefaultWaitlistTTL
}

// InvitationTTL is how long an invitation link works.
func (s *Service) InvitationTTL() time.Duration { return s.cfg.Activation.invitationTTL() }

// ActivationRequest e-mails the owner of an address where their account
// stands, from the activation page. It queues one task, the same for any
// address; the caller shows the same page whatever the address.
func (s *Service) ActivationRequest(ctx context.Context, email string, m Meta) error {
	normalized, err := NormalizeEmail(email)
	if err != nil {
		return ValidationError{{Field: "email", Code: "email.invalid"}}
	}
	return s.enqueueTask(ctx, taskActivationRequest, normalized, m, nil)
}

// activationRequestTx is ActivationRequest's work, in the task worker's
// transaction. At most a few messages go to one address an hour, so the
// page cannot flood anyone's mailbox, known or not.
func (s *Service) activationRequestTx(ctx context.Context, tx storage.Storage, email string, m Meta) error {
	if n, err := tx.CountAttempt(ctx, "activation-request:"+email, s.now(), hourWindow); err != nil || n > 3 {
		if err == nil {
			s.event(ctx, tx, m, storage.Event{Kind: EventActivationRequested, Email: email, Reason: "rate_limited"})
		}
		return err
	}
	a, err := tx.GetAccountByEmail(ctx, email)
	if errors.Is(err, storage.ErrNotFound) {
		return s.notYetKnown(ctx, tx, email, m)
	}
	if err != nil {
		return fmt.Errorf("activation request: %w", err)
	}
	if a.Disabled {
		// Only the helpdesk can help; the page told the person so.
		s.event(ctx, tx, m, storage.Event{Kind: EventActivationRequested, AccountID: a.ID, Email: a.Email, Reason: "disabled"})
		return nil
	}
	pa, err := tx.GetProvisioned(ctx, a.ID)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		// A self-registered account: its own activation link, or the
		// "already active" message.
		if !a.Activated() {
			s.event(ctx, tx, m, storage.Event{Kind: EventActivationRequested, AccountID: a.ID, Email: a.Email, Reason: "self_registered"})
			return s.sendActivation(ctx, tx, a, m)
		}
	case err != nil:
		return fmt.Errorf("activation request: %w", err)
	default:
		p := pa.Provisioned
		switch p.State {
		case storage.ProvisionPending:
			s.event(ctx, tx, m, storage.Event{Kind: EventActivationRequested, AccountID: a.ID, Email: a.Email, Reason: "pending"})
			return s.cfg.Outbox.Enqueue(ctx, tx, a.Email, lang(a, m), mail.AccountPending{
				Name: displayName(a), StartsAt: p.StartsAt,
				ActivationLink: s.link("/activation", url.Values{"email": {a.Email}}),
			})
		case storage.ProvisionDisabled, storage.ProvisionDeleted:
			s.event(ctx, tx, m, storage.Event{Kind: EventActivationRequested, AccountID: a.ID, Email: a.Email, Reason: p.State})
			return nil
		}
		if !a.Activated() {
			s.event(ctx, tx, m, storage.Event{Kind: EventActivationRequested, AccountID: a.ID, Email: a.Email, Reason: "invited"})
			return s.sendInvitation(ctx, tx, a, m)
		}
	}
	s.event(ctx, tx, m, storage.Event{Kind: EventActivationRequested, AccountID: a.ID, Email: a.Email, Reason: "already_active"})
	return s.cfg.Outbox.Enqueue(ctx, tx, a.Email, lang(a, m), mail.AlreadyActive{
		Name:      displayName(a),
		LoginLink: s.link("/login", url.Values{"email": {a.Email}}),
		ResetLink: s.link("/password/forgot", url.Values{"email": {a.Email}}),
	})
}

// notYetKnown tells an address nothing knows that the registry has not
// sent its owner's data yet, and puts it on the waitlist.
func (s *Service) notYetKnown(ctx context.Context, tx storage.Storage, email string, m Meta) error {
	now := s.now()
	l := m.Lang
	if l == "" {
		l = "en"
	}
	if err := tx.PutWaitlist(ctx, storage.WaitlistEntry{Email: email, Locale: l, CreatedAt: now,
		ExpiresAt: now.Add(s.cfg.Activation.waitlistTTL())}); err != nil {
		return fmt.Errorf("activation request: %w", err)
	}
	s.event(ctx, tx, m, storage.Event{Kind: EventActivationRequested, Email: email, Reason: "unknown_account"})
	delay := ""
	if s.cfg.Activation.RegistryDelay != nil {
		delay = s.cfg.Activation.RegistryDelay(l)
	}
	return s.cfg.Outbox.Enqueue(ctx, tx, email, l, mail.RegistryNotYet{
		RegistryDelay: delay,
		WaitDays:      int(s.cfg.Activation.waitlistTTL() / (24 * time.Hour)),
		RegisterLink:  s.link("/register", nil),
	})
}

// InviteProvisioned is called, in the registry's transaction, when a
// registry creates an account (SCIM or CSV): an account that may be used
// now gets its invitation; one whose start date is ahead gets it when the
// lifecycle makes it active (the worker calls this again then), except
// that an address waiting on the waitlist is told at once from which date
// it works. Either way the waitlist entry is taken.
func (s *Service) InviteProvisioned(ctx context.Context, tx storage.Storage, a storage.Account, p storage.Provisioned) error {
	waiting, err := tx.TakeWaitlist(ctx, a.Email, s.now())
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("invite: %w", err)
	}
	m := Meta{}
	if err == nil {
		m.Lang = waiting.Locale
	}
	switch {
	case a.Disabled || a.Activated():
		return nil
	case p.State == storage.ProvisionPending:
		if err != nil { // not waitlisted
			return nil
		}
		return s.cfg.Outbox.Enqueue(ctx, tx, a.Email, lang(a, m), mail.AccountPending{
			Name: displayName(a), StartsAt: p.StartsAt,
			ActivationLink: s.link("/activation", url.Values{"email": {a.Email}}),
		})
	case p.State == storage.ProvisionActive || p.State == storage.ProvisionGrace:
		return s.sendInvitation(ctx, tx, a, m)
	}
	return nil
}

// sendInvitation issues an invitation link, replacing earlier ones, and
// queues its e-mail.
func (s *Service) sendInvitation(ctx context.Context, tx storage.Storage, a storage.Account, m Meta) error {
	if _, err := tx.DeleteTokens(ctx, a.ID, TokenInvitation); err != nil {
		return err
	}
	ttl := s.cfg.Activation.invitationTTL()
	code, err := s.issueToken(ctx, tx, TokenInvitation, a, a.Email, ttl)
	if err != nil {
		return err
	}
	s.event(ctx, tx, m, storage.Event{Kind: EventInvitationSent, AccountID: a.ID, Email: a.Email})
	return s.cfg.Outbox.Enqueue(ctx, tx, a.Email, lang(a, m), mail.Invitation{
		Name:      displayName(a),
		Email:     a.Email,
		Link:      s.link("/activation/password", url.Values{"token": {code}}),
		ExpiresIn: ttl,
	})
}

// CheckInvitation tells whether an invitation link can still be used,
// without using it, so the page shows the form or explains at once.
func (s *Service) CheckInvitation(ctx context.Context, code string) (storage.Account, error) {
	t, err := s.peekToken(ctx, TokenInvitation, code)
	if err != nil {
		return storage.Account{}, err
	}
	return s.cfg.Store.GetAccount(ctx, t.AccountID)
}

// AcceptInvitation sets the first password through an invitation link and
// activates the account (the link proves the address). The person signs
// in next; the sign-in enrols a second factor if the policy requires one.
func (s *Service) AcceptInvitation(ctx context.Context, code, pw, confirm string, m Meta) (storage.Account, error) {
	t, a, hash, err := s.newPasswordByLink(ctx, TokenInvitation, code, pw, confirm)
	if err != nil {
		return a, err
	}
	err = s.inTx(ctx, func(tx storage.Storage) error {
		// Use the link inside the transaction: of two tabs posting it,
		// exactly one sets the password.
		if _, err := s.useToken(ctx, tx, TokenInvitation, code); err != nil {
			return err
		}
		now := s.now()
		a, err = tx.UpdateAccount(ctx, t.AccountID, func(a storage.Account) (storage.Account, error) {
			switch {
			case a.Disabled:
				return a, ErrDisabled
			case a.Email != t.Email:
				return a, &LinkError{Reason: LinkUnknown}
			}
			a.PasswordHash, a.PasswordChangedAt = hash, now
			a.FailedLogins, a.LockedUntil = 0, time.Time{}
			if !a.Activated() {
				a.ActivatedAt = now
			}
			a.UpdatedAt = now
			return a, nil
		})
		if err != nil {
			return err
		}
		s.event(ctx, tx, m, storage.Event{Kind: EventInvitationAccepted, AccountID: a.ID, Email: a.Email})
		return nil
	})
	return a, err
}
