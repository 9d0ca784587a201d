package account

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/portti/portti/internal/audit"
	"github.com/portti/portti/internal/mail"
	"github.com/portti/portti/internal/secret"
	"github.com/portti/portti/internal/storage"
)

// Profile is the personal data a person keeps up to date themselves. The
// field names mirror OpenID Connect claims.
type Profile struct {
	GivenName     string
	FamilyName    string
	PhoneNumber   string
	StreetAddress string
	PostalCode    string
	Locality      string
}

// Registration is the registration form.
type Registration struct {
	Email           string
	EmailConfirm    string
	Password        string
	PasswordConfirm string
	Profile
	AcceptTerms bool
}

// Field length limits: generous for real data, small enough that a form
// post cannot fill the database.
const (
	maxNameLength    = 100
	maxPhoneLength   = 32
	maxAddressLength = 200
	maxPostalLength  = 16
)

// trim cleans a profile: surrounding space goes, and nothing else changes.
func (p Profile) trim() Profile {
	return Profile{
		GivenName:     strings.TrimSpace(p.GivenName),
		FamilyName:    strings.TrimSpace(p.FamilyName),
		PhoneNumber:   strings.TrimSpace(p.PhoneNumber),
		StreetAddress: strings.TrimSpace(p.StreetAddress),
		PostalCode:    strings.TrimSpace(p.PostalCode),
		Locality:      strings.TrimSpace(p.Locality),
	}
}

// validate checks a trimmed profile.
func (p Profile) validate(v *ValidationError) {
	text := func(field, value string, required bool, max int) {
		switch {
		case value == "" && required:
			v.add(field, "field.required", nil)
		case !utf8.ValidString(value) || strings.ContainsFunc(value, isControl):
			v.add(field, "field.invalid", nil)
		case utf8.RuneCountInString(value) > max:
			v.add(field, "field.too_long", map[string]any{"Max": max})
		}
	}
	text("given_name", p.GivenName, true, maxNameLength)
	text("family_name", p.FamilyName, true, maxNameLength)
	text("phone_number", p.PhoneNumber, false, maxPhoneLength)
	text("street_address", p.StreetAddress, false, maxAddressLength)
	text("postal_code", p.PostalCode, false, maxPostalLength)
	text("locality", p.Locality, false, maxNameLength)
	if p.PhoneNumber != "" && !validPhone(p.PhoneNumber) {
		v.add("phone_number", "phone.invalid", nil)
	}
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// validPhone accepts what people write for a phone number: digits with an
// optional leading +, and spaces, dashes, dots and parentheses between them.
func validPhone(s string) bool {
	digits := 0
	for i, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case r == '+' && i == 0:
		case r == ' ' || r == '-' || r == '(' || r == ')' || r == '.':
		default:
			return false
		}
	}
	return digits >= 5
}

func (p Profile) apply(a storage.Account) storage.Account {
	a.GivenName, a.FamilyName = p.GivenName, p.FamilyName
	a.PhoneNumber, a.StreetAddress = p.PhoneNumber, p.StreetAddress
	a.PostalCode, a.Locality = p.PostalCode, p.Locality
	return a
}

// Register creates an account awaiting activation and e-mails its link.
//
// When the address already has an account, Register returns nil just the
// same (the page must not tell a stranger the address is registered) and
// instead e-mails the owner that someone tried, with links to log in and to
// reset the password. The request checks the form, hashes the password and
// queues one task, the same for any address, so that it takes the same
// time; RunTasks creates the account or tells the owner (see tasks.go).
func (s *Service) Register(ctx context.Context, r Registration, m Meta) error {
	var v ValidationError
	email, err := NormalizeEmail(r.Email)
	switch {
	case strings.TrimSpace(r.Email) == "":
		v.add("email", "field.required", nil)
	case err != nil:
		v.add("email", "email.invalid", nil)
	case s.cfg.RegistryOnly != nil && s.cfg.RegistryOnly(email):
		v.add("email", "provision.register.refused", map[string]any{"Domain": email[strings.LastIndexByte(email, '@'):]})
	}
	switch {
	case strings.TrimSpace(r.EmailConfirm) == "":
		v.add("email_confirm", "field.required", nil)
	case err == nil:
		if confirm, _ := NormalizeEmail(r.EmailConfirm); confirm != email {
			v.add("email_confirm", "email.mismatch", nil)
		}
	}
	// Problems are listed in the order the form shows the fields.
	p := r.Profile.trim()
	s.checkPassword(&v, "password", r.Password, "password_confirm", r.PasswordConfirm, email, p.GivenName, p.FamilyName)
	p.validate(&v)
	if !r.AcceptTerms {
		v.add("accept_terms", "terms.required", nil)
	}
	if len(v) > 0 {
		return v
	}

	hash, err := s.cfg.Hasher.Hash(r.Password)
	if err != nil {
		return fmt.Errorf("register: %w", err)
	}
	id, _, err := s.newSecret()
	if err != nil {
		return err
	}
	now := s.now()
	a := p.apply(storage.Account{
		ID:                id[:26], // 156 random bits, URL-safe: a stable "sub"
		Email:             email,
		Locale:            m.Lang,
		PasswordHash:      hash,
		PasswordChangedAt: now,
		TermsVersion:      s.cfg.TermsVersion,
		TermsAcceptedAt:   now,
		CreatedAt:         now,
		UpdatedAt:         now,
	})
	return s.enqueueTask(ctx, taskRegister, email, m, &a)
}

// register is Register's work, in the task worker's transaction: create the
// account and send its activation link, or tell the address's owner.
func (s *Service) register(ctx context.Context, tx storage.Storage, a storage.Account, m Meta) error {
	// Look first rather than insert and catch the conflict: on PostgreSQL
	// a failed statement poisons the whole transaction. Two registrations
	// of one address racing on two nodes: the loser's ErrConflict makes
	// the worker do its task again, when it finds the account.
	existing, err := tx.GetAccountByEmail(ctx, a.Email)
	if err == nil {
		return s.notifyExisting(ctx, tx, existing, m)
	}
	if !errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("register: %w", err)
	}
	if err := tx.CreateAccount(ctx, a); err != nil {
		return fmt.Errorf("register: %w", err)
	}
	s.event(ctx, tx, m, storage.Event{Kind: audit.Registered, AccountID: a.ID, Email: a.Email})
	return s.sendActivation(ctx, tx, a, m)
}

// notifyExisting tells an address's owner that someone tried to register
// with it. At most a few such mails go out per address per day, so the form
// cannot be used to flood someone's inbox.
func (s *Service) notifyExisting(ctx context.Context, tx storage.Storage, a storage.Account, m Meta) error {
	s.event(ctx, tx, m, storage.Event{Kind: audit.RegisterExisting, AccountID: a.ID, Email: a.Email})
	if n, err := tx.CountAttempt(ctx, "register-notice:"+a.ID, s.now(), dayWindow); err != nil || n > 3 {
		return err
	}
	if !a.Activated() {
		// The owner never activated: what they need is a fresh link.
		return s.sendActivation(ctx, tx, a, m)
	}
	return s.cfg.Outbox.Enqueue(ctx, tx, a.Email, lang(a, m), mail.AlreadyRegistered{
		Name:      displayName(a),
		LoginLink: s.link("/login", url.Values{"email": {a.Email}}),
		ResetLink: s.link("/password/forgot", url.Values{"email": {a.Email}}),
	})
}

// sendActivation issues an activation link and queues its e-mail. An
// account a registry created has no password yet: it gets the invitation,
// whose link sets one (invitation.go), whoever asked (the resend form, a
// registration with its address, the helpdesk).
func (s *Service) sendActivation(ctx context.Context, tx storage.Storage, a storage.Account, m Meta) error {
	if a.PasswordHash == "" {
		if _, err := tx.GetProvisioned(ctx, a.ID); err == nil {
			return s.sendInvitation(ctx, tx, a, m)
		} else if !errors.Is(err, storage.ErrNotFound) {
			return err
		}
	}
	code, err := s.issueToken(ctx, tx, storage.TokenActivation, a, a.Email, s.cfg.ActivationTTL)
	if err != nil {
		return err
	}
	s.event(ctx, tx, m, storage.Event{Kind: audit.ActivationSent, AccountID: a.ID, Email: a.Email})
	return s.cfg.Outbox.Enqueue(ctx, tx, a.Email, lang(a, m), mail.Activation{
		Name:      displayName(a),
		Link:      s.link("/activate", url.Values{"token": {code}}),
		ExpiresIn: s.cfg.ActivationTTL,
	})
}

// Activate follows an activation link. A used link for an account that is
// already active is not an error worth alarming anyone: e-mail scanners
// follow links too, so it returns the account with ErrAlreadyActive.
func (s *Service) Activate(ctx context.Context, code string, m Meta) (storage.Account, error) {
	var a storage.Account
	err := s.inTx(ctx, func(tx storage.Storage) error {
		t, err := s.useToken(ctx, tx, storage.TokenActivation, code)
		if le := (*LinkError)(nil); errors.As(err, &le) && le.Reason != LinkUnknown {
			if acc, gerr := tx.GetAccount(ctx, le.Token.AccountID); gerr == nil && acc.Activated() {
				a = acc
				return ErrAlreadyActive
			}
		}
		if err != nil {
			return err
		}
		a, err = tx.UpdateAccount(ctx, t.AccountID, func(a storage.Account) (storage.Account, error) {
			if a.Email != t.Email {
				// The login address changed since the link was sent.
				return a, &LinkError{Reason: LinkUnknown}
			}
			if !a.Activated() {
				a.ActivatedAt = s.now()
				a.UpdatedAt = s.now()
			}
			return a, nil
		})
		if err != nil {
			return err
		}
		s.event(ctx, tx, m, storage.Event{Kind: audit.Activated, AccountID: a.ID, Email: a.Email})
		return nil
	})
	return a, err
}

// ErrAlreadyActive is returned by Activate for a used link whose account is active.
var ErrAlreadyActive = errors.New("account already active")

// ResendActivation sends a new activation link to an address if it has an
// account awaiting activation, and does nothing otherwise; the caller shows
// the same page either way.
func (s *Service) ResendActivation(ctx context.Context, email string, m Meta) error {
	email, err := NormalizeEmail(email)
	if err != nil {
		return ValidationError{{Field: "email", Code: "email.invalid"}}
	}
	return s.resendActivation(ctx, email, m)
}

// ResendActivationForLink sends a new activation link to the address an
// expired or used link was sent to: whoever holds the old link read that
// mailbox, so no address needs typing and nothing is disclosed.
func (s *Service) ResendActivationForLink(ctx context.Context, code string, m Meta) error {
	if !secret.Plausible(code) {
		return &LinkError{Reason: LinkUnknown}
	}
	t, err := s.cfg.Store.GetToken(ctx, secret.Hash(code))
	if errors.Is(err, storage.ErrNotFound) || (err == nil && t.Kind != storage.TokenActivation) {
		return &LinkError{Reason: LinkUnknown}
	}
	if err != nil {
		return err
	}
	return s.resendActivation(ctx, t.Email, m)
}

func (s *Service) resendActivation(ctx context.Context, email string, m Meta) error {
	return s.enqueueTask(ctx, taskActivation, email, m, nil)
}

// resendActivationTx is resendActivation's work, in the task worker's
// transaction.
func (s *Service) resendActivationTx(ctx context.Context, tx storage.Storage, email string, m Meta) error {
	a, err := tx.GetAccountByEmail(ctx, email)
	if errors.Is(err, storage.ErrNotFound) {
		return nil
	}
	if err != nil || a.Activated() || a.Disabled {
		return err
	}
	if n, err := tx.CountAttempt(ctx, "activation-resend:"+a.ID, s.now(), hourWindow); err != nil || n > 5 {
		return err
	}
	return s.sendActivation(ctx, tx, a, m)
}
