package authn

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/portti/portti/internal/account"
	"github.com/portti/portti/internal/audit"
	"github.com/portti/portti/internal/storage"
)

// Asserter is a method whose proof is a signature over a challenge the
// server chose (WebAuthn passkeys and security keys), beside CodeVerifier
// for typed codes. It serves both the second step after a password and,
// when the method is Passwordless, a sign-in on its own.
type Asserter interface {
	Method
	// BeginAssertion starts a ceremony. With creds (an account's
	// credentials of this kind) it is a second step for that account;
	// with accountID empty it asks for any discoverable credential and
	// requires user verification (passwordless). The state is sealed
	// and opaque; the web keeps it in a cookie of the browser that asked.
	BeginAssertion(ctx context.Context, accountID string, creds []storage.Credential) (Ceremony, error)
	// VerifyAssertion checks response (the browser's JSON) against the
	// ceremony state with reads only, outside any transaction (SQLite has
	// one writer: parsing and the signature check need not hold it).
	// accountID is whose ceremony it was (empty: passwordless; the
	// credential's user handle then names the account). The answer's
	// Record spends the ceremony (single use) and records the
	// credential's use (signature counter, last used) in the caller's
	// transaction, checking the counter again on the row as it is then.
	// Errors: ErrCeremonyGone, ErrWrongChallenge, ErrWrongOrigin,
	// ErrUnknownCredential, ErrOtherAccount, ErrUserNotVerified,
	// ErrReplayed (signature counter did not grow), ErrAssertionInvalid
	// (anything else: malformed, bad signature).
	VerifyAssertion(ctx context.Context, st storage.Storage, state string, response []byte, accountID string, now time.Time) (Asserted, error)
}

// Ceremony is a started assertion.
type Ceremony struct {
	Options []byte // JSON for navigator.credentials.get ({"publicKey": …})
	State   string // sealed, for the browser's cookie
	Expires time.Time
}

// Asserted is a verified assertion.
type Asserted struct {
	Credential storage.Credential // the credential used (its account: Credential.AccountID)
	// AMR is what this credential proved this time (hwk or swk, user when
	// the authenticator verified its user); it goes in the factor.
	AMR []string
	// Record spends the ceremony and records the credential's use, in
	// transaction tx; ErrCeremonyGone or ErrReplayed when another
	// request got there first.
	Record func(ctx context.Context, tx storage.Storage) error
}

// Errors of an assertion. Each gets a page of its own.
var (
	ErrCeremonyGone      = errors.New("authn: the passkey request expired or was already answered")
	ErrWrongChallenge    = errors.New("authn: the passkey answered another request")
	ErrWrongOrigin       = errors.New("authn: the passkey answered another site")
	ErrUnknownCredential = errors.New("authn: this passkey is not registered")
	ErrOtherAccount      = errors.New("authn: this passkey belongs to another account")
	ErrUserNotVerified   = errors.New("authn: the passkey did not verify its user")
	ErrAssertionInvalid  = errors.New("authn: the passkey's answer does not verify")
)

// asserter returns the registered Asserter (one kind offers assertions).
func (s *Service) asserter() (Asserter, bool) {
	for _, m := range s.cfg.Registry.Methods() {
		if a, ok := m.(Asserter); ok {
			return a, true
		}
	}
	return nil, false
}

// AssertionKind is the kind of the method that signs challenges, "" when
// none is registered.
func (s *Service) AssertionKind() string {
	if a, ok := s.asserter(); ok {
		return a.Kind()
	}
	return ""
}

// PasswordlessOffered reports whether /login offers a sign-in without a
// password.
func (s *Service) PasswordlessOffered() bool {
	a, ok := s.asserter()
	return ok && a.Passwordless()
}

// HasAssertion reports whether the second step of challenge can be
// answered with a passkey (the account has one).
func (s *Service) HasAssertion(entries []Entry) bool {
	a, ok := s.asserter()
	if !ok {
		return false
	}
	for _, e := range entries {
		if e.Method.Kind() == a.Kind() {
			return true
		}
	}
	return false
}

// BeginAssertion starts a passkey ceremony: the second step of the sign-in
// challenge names, or with challenge empty a passwordless sign-in.
func (s *Service) BeginAssertion(ctx context.Context, challenge string) (Ceremony, error) {
	as, ok := s.asserter()
	if !ok {
		return Ceremony{}, ErrUnknownMethod
	}
	if challenge == "" {
		if !as.Passwordless() {
			return Ceremony{}, ErrUnknownMethod
		}
		return as.BeginAssertion(ctx, "", nil)
	}
	t, err := s.challengeToken(ctx, s.cfg.Store, challenge)
	if err != nil {
		return Ceremony{}, err
	}
	creds, err := s.cfg.Store.ListCredentials(ctx, t.AccountID)
	if err != nil {
		return Ceremony{}, err
	}
	var own []storage.Credential
	for _, c := range creds {
		if c.Kind == as.Kind() {
			own = append(own, c)
		}
	}
	if len(own) == 0 {
		return Ceremony{}, ErrUnknownMethod
	}
	return as.BeginAssertion(ctx, t.AccountID, own)
}

// VerifyAssertion completes the second step of challenge with a passkey:
// Verify's rules (a live challenge, a usable account not locked for this
// browser, a failure counted like a wrong password, the challenge spent in
// the same transaction as the credential's counter).
func (s *Service) VerifyAssertion(ctx context.Context, challenge, state string, response []byte, m account.Meta) (Result, error) {
	as, ok := s.asserter()
	if !ok {
		return Result{}, ErrUnknownMethod
	}
	t, err := s.challengeToken(ctx, s.cfg.Store, challenge)
	if err != nil {
		return Result{}, err
	}
	a, err := s.cfg.Store.GetAccount(ctx, t.AccountID)
	if err != nil {
		return Result{}, fmt.Errorf("second step: %w", err)
	}
	if a.Disabled {
		return Result{Account: a}, account.ErrDisabled
	}
	if err := s.cfg.Accounts.SecondFactorLocked(ctx, a, m); err != nil {
		return Result{Account: a}, err
	}
	now := s.now()
	got, err := as.VerifyAssertion(ctx, s.cfg.Store, state, response, a.ID, now)
	var factors []storage.AuthFactor
	if err == nil {
		f := Factor(as.Kind(), now)
		f.AMR = got.AMR
		factors = []storage.AuthFactor{Factor(MethodPassword, t.CreatedAt), f}
		// The passkey's counter, the spent challenge and the sign-in's
		// bookkeeping (with the session, when m starts one) commit once.
		err = s.cfg.Store.InTx(ctx, func(tx storage.Storage) error {
			if err := got.Record(ctx, tx); err != nil {
				return err
			}
			if err := spendChallenge(ctx, tx, t.Hash, now); err != nil {
				return err
			}
			m.Factors = factors
			return s.cfg.Accounts.CompleteLoginIn(ctx, tx, a, m)
		})
	}
	switch {
	case err == nil:
	case errors.Is(err, ErrChallengeGone), errors.Is(err, ErrCeremonyGone):
		return Result{Account: a}, err
	case isAssertionFailure(err):
		s.event(ctx, nil, m, storage.Event{Kind: audit.MFAFailure, AccountID: a.ID, Email: a.Email, Reason: assertionReason(err)})
		if ferr := s.cfg.Accounts.SecondFactorFailed(ctx, a, m); !errors.Is(ferr, account.ErrInvalidCredentials) {
			return Result{Account: a}, ferr
		}
		return Result{Account: a}, err
	default:
		return Result{Account: a}, err
	}
	return Result{Account: a, Method: as, Factors: factors}, nil
}

// SignInWithAssertion is a passwordless sign-in: the passkey's user
// handle names the account, and the account then gets exactly the
// answers a right password gets (disabled, not activated, locked for this
// browser). A failed assertion is audited but not counted towards the
// account's lock: without the private key nobody can guess one, and
// counting would let anyone holding a public credential ID lock its owner
// out.
func (s *Service) SignInWithAssertion(ctx context.Context, state string, response []byte, m account.Meta) (Result, error) {
	as, ok := s.asserter()
	if !ok || !as.Passwordless() {
		return Result{}, ErrUnknownMethod
	}
	now := s.now()
	var a storage.Account
	var factors []storage.AuthFactor
	got, err := as.VerifyAssertion(ctx, s.cfg.Store, state, response, "", now)
	if err == nil {
		f := Factor(as.Kind(), now)
		f.AMR = got.AMR
		factors = []storage.AuthFactor{f}
		err = func() error {
			var err error
			if a, err = s.cfg.Store.GetAccount(ctx, got.Credential.AccountID); err != nil {
				return err
			}
			// The account's state is checked before anything is
			// written: a refused sign-in leaves the credential unused.
			switch {
			case a.Disabled:
				return account.ErrDisabled
			case !a.Activated():
				return account.ErrNotActivated
			}
			if err := s.cfg.Accounts.SecondFactorLocked(ctx, a, m); err != nil {
				return err
			}
			// The passkey's counter and the sign-in's bookkeeping (with
			// the session, when m starts one) commit once.
			return s.cfg.Store.InTx(ctx, func(tx storage.Storage) error {
				if err := got.Record(ctx, tx); err != nil {
					return err
				}
				m.Factors = factors
				return s.cfg.Accounts.CompleteLoginIn(ctx, tx, a, m)
			})
		}()
	}
	var locked *account.LockedError
	switch {
	case err == nil:
	case errors.Is(err, account.ErrDisabled), errors.Is(err, account.ErrNotActivated), errors.As(err, &locked):
		reason := "locked"
		if errors.Is(err, account.ErrDisabled) {
			reason = "disabled"
		} else if errors.Is(err, account.ErrNotActivated) {
			reason = "not_activated"
		}
		s.event(ctx, nil, m, storage.Event{Kind: audit.LoginFailure, AccountID: a.ID, Email: a.Email, Reason: reason, Ref: m.Ref})
		return Result{Account: a}, err
	case isAssertionFailure(err):
		s.event(ctx, nil, m, storage.Event{Kind: audit.LoginFailure, AccountID: got.Credential.AccountID, Reason: assertionReason(err)})
		return Result{}, err
	default:
		return Result{}, err
	}
	return Result{Account: a, Method: as, Factors: factors}, nil
}

func isAssertionFailure(err error) bool {
	for _, e := range []error{ErrWrongChallenge, ErrWrongOrigin, ErrUnknownCredential, ErrOtherAccount, ErrUserNotVerified, ErrReplayed, ErrAssertionInvalid} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// assertionReason names an assertion failure in the audit log.
func assertionReason(err error) string {
	switch {
	case errors.Is(err, ErrWrongChallenge):
		return "passkey_wrong_challenge"
	case errors.Is(err, ErrWrongOrigin):
		return "passkey_wrong_origin"
	case errors.Is(err, ErrUnknownCredential):
		return "passkey_unknown"
	case errors.Is(err, ErrOtherAccount):
		return "passkey_other_account"
	case errors.Is(err, ErrUserNotVerified):
		return "passkey_user_not_verified"
	case errors.Is(err, ErrReplayed):
		return "passkey_counter_replayed"
	}
	return "passkey_invalid"
}
