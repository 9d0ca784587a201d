package account

import (
	"context"
	"errors"
	"fmt"
	"net/url"

	"github.com/portti/portti/internal/audit"
	"github.com/portti/portti/internal/mail"
	"github.com/portti/portti/internal/storage"
)

// UpdateProfile saves the profile fields of the account settings page.
func (s *Service) UpdateProfile(ctx context.Context, accountID string, p Profile, m Meta) (storage.Account, error) {
	p = p.trim()
	var v ValidationError
	p.validate(&v)
	if len(v) > 0 {
		return storage.Account{}, v
	}
	a, err := s.cfg.Store.UpdateAccount(ctx, accountID, func(a storage.Account) (storage.Account, error) {
		a = p.apply(a)
		a.UpdatedAt = s.now()
		return a, nil
	})
	if err != nil {
		return a, fmt.Errorf("update profile: %w", err)
	}
	s.event(ctx, nil, m, storage.Event{Kind: audit.ProfileUpdated, AccountID: a.ID, Email: a.Email})
	return a, nil
}

// SetLocale remembers the language a person chose, for their e-mails.
func (s *Service) SetLocale(ctx context.Context, accountID, locale string) error {
	_, err := s.cfg.Store.UpdateAccount(ctx, accountID, func(a storage.Account) (storage.Account, error) {
		a.Locale = locale
		return a, nil
	})
	return err
}

// verifyCurrent checks the current password on a settings form. Wrong
// answers feed the same lockout as the login form: a session left open on
// a shared computer must not become an unlimited password oracle.
func (s *Service) verifyCurrent(ctx context.Context, a storage.Account, current string, m Meta) error {
	ok, _, _ := s.cfg.Hasher.Verify(current, a.PasswordHash)
	if ok {
		return nil
	}
	// In the owner's own browser (it is signed in here) a typo counts on
	// the browser, as on the login form, so it cannot lock the account
	// for every other browser.
	known := false
	if m.DeviceID != "" {
		_, err := s.cfg.Store.GetKnownDevice(ctx, a.ID, m.DeviceID)
		known = err == nil
	}
	_ = s.recordFailure(ctx, a, known, m, "wrong_password")
	return ValidationError{{Field: "current_password", Code: "password.current_wrong"}}
}

// ChangePassword changes the password of a signed-in person. Every other
// session of the account ends (keepSession stays), and the owner is told.
func (s *Service) ChangePassword(ctx context.Context, accountID, current, pw, confirm, keepSession string, m Meta) error {
	a, err := s.cfg.Store.GetAccount(ctx, accountID)
	if err != nil {
		return fmt.Errorf("change password: %w", err)
	}
	if err := s.verifyCurrent(ctx, a, current, m); err != nil {
		return err
	}
	var v ValidationError
	s.checkPassword(&v, "password", pw, "password_confirm", confirm, a.Email, a.GivenName, a.FamilyName)
	if len(v) > 0 {
		return v
	}
	hash, err := s.cfg.Hasher.Hash(pw)
	if err != nil {
		return fmt.Errorf("change password: %w", err)
	}
	var ended []string
	err = s.inTx(ctx, func(tx storage.Storage) error {
		now := s.now()
		a, err := tx.UpdateAccount(ctx, accountID, func(a storage.Account) (storage.Account, error) {
			a.PasswordHash, a.PasswordChangedAt, a.UpdatedAt = hash, now, now
			return a, nil
		})
		if err != nil {
			return fmt.Errorf("change password: %w", err)
		}
		ended, err = s.endSessionsBecause(ctx, tx, a.ID, keepSession, EndedPasswordChanged)
		if err != nil {
			return err
		}
		s.event(ctx, tx, m, storage.Event{Kind: audit.PasswordChanged, AccountID: a.ID, Email: a.Email, Reason: fmt.Sprintf("%d other sessions ended", len(ended))})
		return s.cfg.Outbox.Enqueue(ctx, tx, a.Email, lang(a, m), mail.PasswordChanged{
			Name:      displayName(a),
			ResetLink: s.link("/password/forgot", url.Values{"email": {a.Email}}),
			When:      now,
		})
	})
	if err == nil {
		s.sessionsEnded(ctx, ended)
	}
	return err
}

// RequestEmailChange starts changing the login address: the new address
// gets a confirmation link, the old one is told, and the old address stays
// the login name until the link is followed. Whether the new address
// already belongs to someone is told only to whoever reads that mailbox,
// when they follow the link.
func (s *Service) RequestEmailChange(ctx context.Context, accountID, newEmail, current string, m Meta) error {
	a, err := s.cfg.Store.GetAccount(ctx, accountID)
	if err != nil {
		return fmt.Errorf("change e-mail: %w", err)
	}
	normalized, nerr := NormalizeEmail(newEmail)
	var v ValidationError
	switch {
	case nerr != nil:
		v.add("new_email", "email.invalid", nil)
	case normalized == a.Email:
		v.add("new_email", "email.unchanged", nil)
	}
	if len(v) > 0 {
		return v
	}
	if err := s.verifyCurrent(ctx, a, current, m); err != nil {
		return err
	}
	return s.inTx(ctx, func(tx storage.Storage) error {
		if _, err := tx.DeleteTokens(ctx, a.ID, storage.TokenEmailChange); err != nil {
			return err
		}
		a, err := tx.UpdateAccount(ctx, a.ID, func(a storage.Account) (storage.Account, error) {
			a.PendingEmail, a.UpdatedAt = normalized, s.now()
			return a, nil
		})
		if err != nil {
			return err
		}
		code, err := s.issueToken(ctx, tx, storage.TokenEmailChange, a, normalized, s.cfg.EmailChangeTTL)
		if err != nil {
			return err
		}
		s.event(ctx, tx, m, storage.Event{Kind: audit.EmailChangeRequest, AccountID: a.ID, Email: a.Email, Reason: "to " + normalized})
		l := lang(a, m)
		if err := s.cfg.Outbox.Enqueue(ctx, tx, normalized, l, mail.EmailChange{
			Name: displayName(a), NewEmail: normalized,
			Link:      s.link("/email/confirm", url.Values{"token": {code}}),
			ExpiresIn: s.cfg.EmailChangeTTL,
		}); err != nil {
			return err
		}
		return s.cfg.Outbox.Enqueue(ctx, tx, a.Email, l, mail.EmailChangeRequested{
			Name: displayName(a), NewEmail: normalized,
			ResetLink: s.link("/password/forgot", url.Values{"email": {a.Email}}),
		})
	})
}

// ErrEmailTaken means the new address already belongs to another account.
var ErrEmailTaken = errors.New("e-mail address already in use")

// CheckEmailChangeLink tells whether a confirmation link can be used, and
// to which address it changes the login, without using it.
func (s *Service) CheckEmailChangeLink(ctx context.Context, code string) (storage.Token, error) {
	return s.peekToken(ctx, storage.TokenEmailChange, code)
}

// ConfirmEmailChange follows the link sent to a new address, making it the
// login name, and tells the old address.
func (s *Service) ConfirmEmailChange(ctx context.Context, code string, m Meta) (storage.Account, error) {
	var a storage.Account
	var old string
	err := s.inTx(ctx, func(tx storage.Storage) error {
		t, err := s.useToken(ctx, tx, storage.TokenEmailChange, code)
		if err != nil {
			return err
		}
		if other, err := tx.GetAccountByEmail(ctx, t.Email); err == nil && other.ID != t.AccountID {
			return ErrEmailTaken
		}
		a, err = tx.UpdateAccount(ctx, t.AccountID, func(a storage.Account) (storage.Account, error) {
			if a.PendingEmail != t.Email {
				// A newer change request replaced this one.
				return a, &LinkError{Reason: LinkUnknown}
			}
			old = a.Email
			a.Email, a.PendingEmail, a.UpdatedAt = t.Email, "", s.now()
			if !a.Activated() {
				a.ActivatedAt = s.now()
			}
			return a, nil
		})
		if err != nil {
			return err
		}
		s.event(ctx, tx, m, storage.Event{Kind: audit.EmailChanged, AccountID: a.ID, Email: a.Email, Reason: "from " + old})
		return s.cfg.Outbox.Enqueue(ctx, tx, old, lang(a, m), mail.EmailChanged{Name: displayName(a), NewEmail: a.Email})
	})
	if errors.Is(err, storage.ErrConflict) {
		err = ErrEmailTaken
	}
	if errors.Is(err, ErrEmailTaken) {
		s.event(ctx, nil, m, storage.Event{Kind: audit.EmailChangeConflict, Reason: "address in use"})
	}
	return a, err
}
