package account

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/portti/portti/internal/audit"
	"github.com/portti/portti/internal/mail"
	"github.com/portti/portti/internal/storage"
)

// ForgotPassword e-mails a password reset link when the address has an
// account, and does nothing visible otherwise: the page says the same thing
// for any address. Disabled accounts get no link (only the helpdesk can help
// them), and a few links per hour per account is the limit, so the form
// cannot flood an inbox.
//
// The request only queues a task, the same for any address, so that its
// speed tells nothing either; RunTasks does the rest (see tasks.go).
func (s *Service) ForgotPassword(ctx context.Context, email string, m Meta) error {
	normalized, err := NormalizeEmail(email)
	if err != nil {
		return ValidationError{{Field: "email", Code: "email.invalid"}}
	}
	return s.enqueueTask(ctx, taskRecovery, normalized, m, nil)
}

// forgotPassword is ForgotPassword's work, in the task worker's transaction.
func (s *Service) forgotPassword(ctx context.Context, tx storage.Storage, normalized string, m Meta) error {
	a, err := tx.GetAccountByEmail(ctx, normalized)
	if errors.Is(err, storage.ErrNotFound) {
		s.event(ctx, tx, m, storage.Event{Kind: audit.RecoveryRequested, Email: normalized, Reason: "unknown_account"})
		return nil
	}
	if err != nil {
		return fmt.Errorf("forgot password: %w", err)
	}
	if a.Disabled {
		s.event(ctx, tx, m, storage.Event{Kind: audit.RecoveryRequested, AccountID: a.ID, Email: a.Email, Reason: "disabled"})
		return nil
	}
	if n, err := tx.CountAttempt(ctx, "recovery:"+a.ID, s.now(), hourWindow); err != nil || n > 5 {
		if err == nil {
			s.event(ctx, tx, m, storage.Event{Kind: audit.RecoveryRequested, AccountID: a.ID, Email: a.Email, Reason: "rate_limited"})
		}
		return err
	}
	code, err := s.issueToken(ctx, tx, storage.TokenRecovery, a, a.Email, s.cfg.RecoveryTTL)
	if err != nil {
		return err
	}
	s.event(ctx, tx, m, storage.Event{Kind: audit.RecoveryRequested, AccountID: a.ID, Email: a.Email})
	return s.cfg.Outbox.Enqueue(ctx, tx, a.Email, lang(a, m), mail.Recovery{
		Name:      displayName(a),
		Link:      s.link("/password/reset", url.Values{"token": {code}}),
		ExpiresIn: s.cfg.RecoveryTTL,
	})
}

// newPasswordByLink checks a link that sets a password (a reset or an
// invitation) without using it, checks the new password against the
// policy and hashes it: the work before the transaction that uses the
// link.
func (s *Service) newPasswordByLink(ctx context.Context, kind storage.TokenKind, code, pw, confirm string) (storage.Token, storage.Account, string, error) {
	t, err := s.peekToken(ctx, kind, code)
	if err != nil {
		return t, storage.Account{}, "", err
	}
	a, err := s.cfg.Store.GetAccount(ctx, t.AccountID)
	if err != nil {
		return t, a, "", fmt.Errorf("%s link: %w", kind, err)
	}
	var v ValidationError
	s.checkPassword(&v, "password", pw, "password_confirm", confirm, a.Email, a.GivenName, a.FamilyName)
	if len(v) > 0 {
		return t, a, "", v
	}
	hash, err := s.cfg.Hasher.Hash(pw)
	if err != nil {
		return t, a, "", fmt.Errorf("%s link: %w", kind, err)
	}
	return t, a, hash, nil
}

// CheckRecoveryLink tells whether a reset link can still be used, without
// using it, so the page can show the form or explain the problem at once.
func (s *Service) CheckRecoveryLink(ctx context.Context, code string) (storage.Account, error) {
	t, err := s.peekToken(ctx, storage.TokenRecovery, code)
	if err != nil {
		return storage.Account{}, err
	}
	return s.cfg.Store.GetAccount(ctx, t.AccountID)
}

// ResetPassword sets a new password through a reset link. It also unlocks
// the account, activates it if it was not (the link proves the address),
// ends every session of the account, and tells the owner by e-mail.
func (s *Service) ResetPassword(ctx context.Context, code, pw, confirm string, m Meta) (storage.Account, error) {
	t, a, hash, err := s.newPasswordByLink(ctx, storage.TokenRecovery, code, pw, confirm)
	if err != nil {
		return a, err
	}
	var ended []string
	err = s.inTx(ctx, func(tx storage.Storage) error {
		// Use the link inside the transaction: of two tabs posting the same
		// link, exactly one sets the password.
		if _, err := s.useToken(ctx, tx, storage.TokenRecovery, code); err != nil {
			return err
		}
		now := s.now()
		a, err = tx.UpdateAccount(ctx, t.AccountID, func(a storage.Account) (storage.Account, error) {
			if a.Disabled {
				return a, ErrDisabled
			}
			a.PasswordHash, a.PasswordChangedAt = hash, now
			a.FailedLogins, a.LockedUntil = 0, time.Time{}
			if !a.Activated() && a.Email == t.Email {
				a.ActivatedAt = now
			}
			a.UpdatedAt = now
			return a, nil
		})
		if err != nil {
			return err
		}
		if _, err := tx.DeleteTokens(ctx, a.ID, storage.TokenRecovery); err != nil {
			return err
		}
		ended, err = s.endSessionsBecause(ctx, tx, a.ID, "", EndedPasswordChanged)
		if err != nil {
			return err
		}
		s.event(ctx, tx, m, storage.Event{Kind: audit.PasswordReset, AccountID: a.ID, Email: a.Email, Reason: fmt.Sprintf("%d sessions ended", len(ended))})
		return s.cfg.Outbox.Enqueue(ctx, tx, a.Email, lang(a, m), mail.PasswordChanged{
			Name:      displayName(a),
			ResetLink: s.link("/password/forgot", url.Values{"email": {a.Email}}),
			When:      now,
		})
	})
	if err == nil {
		s.sessionsEnded(ctx, ended)
	}
	return a, err
}
