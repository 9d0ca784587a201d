// Package accesspass is the helpdesk's temporary access pass: a one-time
// code the helpdesk reads out on the phone after checking who is calling,
// with which the person adds one new second factor after their password.
//
// The pass never signs anyone in. The team rule is that no recovery path
// skips a second factor silently, and a session with only a password
// would be accepted by every application that does not itself demand a
// second factor. So a right pass, typed on the second step of a sign-in
// whose password was just right, turns into an enrolment grant: a
// short-lived single-use secret that opens the enrolment of one method and
// nothing else (no session, no cookie any page accepts). The person then
// signs in with the method they added, which gives a session with its real
// factors.
//
// Both the pass and the grant are tokens (storage.Token) stored as their
// SHA-256 only. Issuing a pass replaces the account's older pass; the
// first right use spends it. A wrong pass counts like a wrong code towards
// the account's lock (account.Service.SecondFactorFailed). The owner is
// told by e-mail when a pass is issued, when it is used, and (authn) when
// the method is added.
package accesspass

import (
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/url"
	"strings"
	"time"

	"github.com/portti/portti/internal/account"
	"github.com/portti/portti/internal/audit"
	"github.com/portti/portti/internal/authn"
	"github.com/portti/portti/internal/mail"
	"github.com/portti/portti/internal/secret"
	"github.com/portti/portti/internal/storage"
)

// Token kinds of the pass and of the grant it turns into.
const (
	TokenPass  storage.TokenKind = "access_pass"
	TokenGrant storage.TokenKind = "enrol_grant"
)

// Audit event kinds.
const (
	EventUsed  = "access_pass.used"
	EventWrong = audit.MFAFailure // counted with wrong codes; reason "wrong_access_pass"
)

// A pass is Digits decimal digits (log2(10^20) ≈ 66 bits), shown in
// groups of four: digits read out the same way in Finnish, Swedish and
// English, and no letter is mistaken for another on the phone.
const (
	Digits = 20
	group  = 4
)

// Limits of the pass's validity (config helpdesk.access_pass_ttl).
const (
	DefaultTTL = 8 * time.Hour
	MaxTTL     = 72 * time.Hour
	// GrantTTL is how long the person has to add the method once the
	// pass was accepted.
	GrantTTL = 15 * time.Minute
)

// Errors. The pages explain each.
var (
	// ErrWrongPass: not this account's live pass (wrong, spent, expired,
	// another account's): one answer for all, counted as a failure.
	ErrWrongPass = errors.New("accesspass: wrong pass")
	// ErrMalformed: not twenty digits; not counted.
	ErrMalformed = errors.New("accesspass: not a pass")
	// ErrGrantGone: the enrolment grant expired or was used.
	ErrGrantGone = errors.New("accesspass: the enrolment grant is gone")
)

// Config holds a Service's dependencies.
type Config struct {
	Store     storage.Storage
	Accounts  *account.Service
	MFA       *authn.Service
	Outbox    *mail.Outbox
	Audit     *audit.Recorder
	Logger    *slog.Logger
	PublicURL string        // absolute base of links in e-mails
	TTL       time.Duration // how long a pass is valid (DefaultTTL)
	Now       func() time.Time
	Random    io.Reader
}

// Service issues and redeems passes.
type Service struct{ cfg Config }

// New returns a Service.
func New(cfg Config) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Random == nil {
		cfg.Random = rand.Reader
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Audit == nil {
		cfg.Audit = audit.NewRecorder(cfg.Store, cfg.Logger, cfg.Now)
	}
	if cfg.TTL <= 0 {
		cfg.TTL = DefaultTTL
	}
	cfg.TTL = min(cfg.TTL, MaxTTL)
	return &Service{cfg: cfg}
}

func (s *Service) now() time.Time { return s.cfg.Now().UTC() }

// newPass returns a random pass, grouped for reading out.
func newPass(random io.Reader) (string, error) {
	var b strings.Builder
	ten := big.NewInt(10)
	for i := range Digits {
		if i > 0 && i%group == 0 {
			b.WriteByte(' ')
		}
		d, err := rand.Int(random, ten)
		if err != nil {
			return "", fmt.Errorf("random: %w", err)
		}
		b.WriteByte(byte('0' + d.Int64()))
	}
	return b.String(), nil
}

// Normalize reads a typed pass: digits, with any spaces or hyphens the
// person typed between them ignored.
func Normalize(raw string) (string, error) {
	var b strings.Builder
	for _, r := range raw {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == ' ' || r == '-' || r == '\t' || r == '\u00a0':
		default:
			return "", ErrMalformed
		}
	}
	if b.Len() != Digits {
		return "", ErrMalformed
	}
	return b.String(), nil
}

// hash is the stored form of a pass: bound to the account, so that a
// pass is no use on another account even before the account check.
func hash(accountID, pass string) string { return secret.Hash("access_pass:" + accountID + ":" + pass) }

// Issue makes a new pass for account a (replacing any older one) and
// returns it, to show once, and when it expires. The owner is e-mailed.
// The caller (the helpdesk console) checks who may issue and audits it.
func (s *Service) Issue(ctx context.Context, a storage.Account, m account.Meta) (string, time.Time, error) {
	pass, err := newPass(s.cfg.Random)
	if err != nil {
		return "", time.Time{}, err
	}
	n, _ := Normalize(pass)
	now := s.now()
	exp := now.Add(s.cfg.TTL)
	err = s.cfg.Store.InTx(ctx, func(tx storage.Storage) error {
		if _, err := tx.DeleteTokens(ctx, a.ID, TokenPass); err != nil {
			return err
		}
		if _, err := tx.DeleteTokens(ctx, a.ID, TokenGrant); err != nil {
			return err
		}
		if err := tx.CreateToken(ctx, storage.Token{Hash: hash(a.ID, n), Kind: TokenPass, AccountID: a.ID, Email: a.Email, CreatedAt: now, ExpiresAt: exp}); err != nil {
			return err
		}
		return s.tell(ctx, tx, a, mail.HelpdeskAccessPassIssued, now, m)
	})
	if err != nil {
		return "", time.Time{}, fmt.Errorf("issue access pass: %w", err)
	}
	s.wake()
	return pass, exp, nil
}

// Redeem checks a pass typed on the second step of a sign-in whose
// password was right (challenge, from authn.BeginChallenge). A right pass
// spends the pass and the challenge and returns an enrolment grant, for
// the enrolment form; no session starts. A wrong one counts towards the
// lock like a wrong code. The order is authn.Verify's: a live challenge,
// a usable account that is not locked, then the pass.
func (s *Service) Redeem(ctx context.Context, challenge, raw string, m account.Meta) (string, storage.Account, error) {
	a, err := s.cfg.MFA.Challenge(ctx, challenge)
	if err != nil {
		return "", a, err
	}
	if a.Disabled {
		return "", a, account.ErrDisabled
	}
	if err := s.cfg.Accounts.SecondFactorLocked(ctx, a, m); err != nil {
		return "", a, err
	}
	pass, err := Normalize(raw)
	if err != nil {
		return "", a, err
	}
	grant, grantHash, err := secret.New(s.cfg.Random)
	if err != nil {
		return "", a, err
	}
	now := s.now()
	want := hash(a.ID, pass)
	err = s.cfg.Store.InTx(ctx, func(tx storage.Storage) error {
		t, err := tx.GetToken(ctx, want)
		if errors.Is(err, storage.ErrNotFound) {
			return ErrWrongPass
		}
		if err != nil {
			return err
		}
		if !secret.Equal(t.Hash, want) || t.Kind != TokenPass || t.AccountID != a.ID || !t.UsedAt.IsZero() || !now.Before(t.ExpiresAt) {
			return ErrWrongPass
		}
		if err := spend(ctx, tx, t.Hash, now, ErrWrongPass); err != nil {
			return err
		}
		if err := spend(ctx, tx, secret.Hash(challenge), now, authn.ErrChallengeGone); err != nil {
			return err
		}
		if err := tx.CreateToken(ctx, storage.Token{Hash: grantHash, Kind: TokenGrant, AccountID: a.ID, Email: a.Email, CreatedAt: now, ExpiresAt: now.Add(GrantTTL)}); err != nil {
			return err
		}
		_ = s.cfg.Audit.Record(ctx, tx, storage.Event{Kind: EventUsed, AccountID: a.ID, Email: a.Email, ClientIP: m.ClientIP, UserAgent: m.UserAgent})
		return s.tell(ctx, tx, a, mail.HelpdeskAccessPassUsed, now, m)
	})
	if errors.Is(err, ErrWrongPass) {
		_ = s.cfg.Audit.Record(ctx, nil, storage.Event{Kind: EventWrong, AccountID: a.ID, Email: a.Email, ClientIP: m.ClientIP, UserAgent: m.UserAgent, Reason: "wrong_access_pass"})
		if ferr := s.cfg.Accounts.SecondFactorFailed(ctx, a, m); !errors.Is(ferr, account.ErrInvalidCredentials) {
			return "", a, ferr // the lock just closed (a *account.LockedError)
		}
		return "", a, ErrWrongPass
	}
	if err != nil {
		return "", a, err
	}
	s.wake()
	return grant, a, nil
}

// Grant returns the account of a live enrolment grant.
func (s *Service) Grant(ctx context.Context, grant string) (storage.Account, error) {
	t, err := s.grantToken(ctx, s.cfg.Store, grant)
	if err != nil {
		return storage.Account{}, err
	}
	a, err := s.cfg.Store.GetAccount(ctx, t.AccountID)
	if err != nil {
		return a, err
	}
	if a.Disabled {
		return a, ErrGrantGone
	}
	return a, nil
}

func (s *Service) grantToken(ctx context.Context, st storage.Storage, grant string) (storage.Token, error) {
	if !secret.Plausible(grant) {
		return storage.Token{}, ErrGrantGone
	}
	t, err := st.GetToken(ctx, secret.Hash(grant))
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return t, ErrGrantGone
	case err != nil:
		return t, err
	case t.Kind != TokenGrant || !t.UsedAt.IsZero() || !s.now().Before(t.ExpiresAt):
		return t, ErrGrantGone
	}
	return t, nil
}

// Enrol adds the method of kind with the grant: authn checks the
// person's answer and stores the credential, and the grant is spent in
// the same transaction (a second post finds it gone). No session gains
// anything.
func (s *Service) Enrol(ctx context.Context, grant, kind, pending string, form url.Values, m account.Meta) (storage.Account, authn.Enrolled, error) {
	a, err := s.Grant(ctx, grant)
	if err != nil {
		return a, authn.Enrolled{}, err
	}
	res, err := s.cfg.MFA.FinishEnrolGranted(ctx, a, kind, pending, form, m, func(tx storage.Storage, now time.Time) error {
		return spend(ctx, tx, secret.Hash(grant), now, ErrGrantGone)
	})
	return a, res, err
}

// spend marks a token used inside tx: gone when it already was.
func spend(ctx context.Context, tx storage.Storage, h string, now time.Time, gone error) error {
	_, err := tx.UpdateToken(ctx, h, func(t storage.Token) (storage.Token, error) {
		if !t.UsedAt.IsZero() {
			return t, gone
		}
		t.UsedAt = now
		return t, nil
	})
	if errors.Is(err, storage.ErrNotFound) {
		return gone
	}
	return err
}

// tell e-mails the owner, in tx: the pass is not issued or used unless
// the owner will hear of it.
func (s *Service) tell(ctx context.Context, tx storage.Storage, a storage.Account, change mail.HelpdeskChange, now time.Time, m account.Meta) error {
	if s.cfg.Outbox == nil {
		return nil
	}
	msg := mail.HelpdeskAction{Name: a.GivenName, Change: change, When: now,
		ResetLink: s.cfg.PublicURL + "/password/forgot?" + url.Values{"email": {a.Email}}.Encode()}
	return s.cfg.Outbox.Enqueue(ctx, tx, a.Email, cmp.Or(a.Locale, m.Lang, "en"), msg)
}

func (s *Service) wake() {
	if s.cfg.Outbox != nil {
		s.cfg.Outbox.Wake()
	}
}
