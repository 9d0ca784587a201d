package authn

import (
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"slices"
	"time"

	"github.com/portti/portti/internal/account"
	"github.com/portti/portti/internal/audit"
	"github.com/portti/portti/internal/mail"
	"github.com/portti/portti/internal/secret"
	"github.com/portti/portti/internal/storage"
)

// Backup is a method that stands in for the others when they are lost
// (recovery codes): it does not turn multi-factor sign-in on by itself,
// is made when the first other method is added, and goes with the last.
type Backup interface {
	Backup() bool
	// Generate makes a new set for account a, returning the credential to
	// store (replacing any older set) and the codes to show once.
	Generate(a storage.Account, now time.Time) (storage.Credential, []string, error)
}

// Config holds a Service's dependencies.
type Config struct {
	Store    storage.Storage
	Registry *Registry
	Accounts *account.Service
	Outbox   *mail.Outbox
	Audit    *audit.Recorder
	Logger   *slog.Logger
	Policy   Policy
	// UserType returns an account's user type for Policy's per-type
	// rules (package provision's Directory.UserType; "" for none or on
	// error, when the domain patterns decide). Looked up only when the
	// policy names types. Nil: none.
	UserType func(a storage.Account) string

	PublicURL string // absolute base for links in e-mails

	// ChallengeTTL is how long the second step waits after the password
	// (10 min); FreshFor how recent a factor must be to add or remove a
	// method or make new recovery codes (5 min).
	ChallengeTTL time.Duration
	FreshFor     time.Duration

	// RememberBrowser is how long "don't ask again in this browser"
	// lasts (remember.go); 0: the box is not offered.
	RememberBrowser time.Duration

	// ACR names the acr values told and accepted (factors.go).
	ACR ACRNames
	// EnrolmentGrace is how long a person the policy requires a second
	// factor of may put off setting one up (grace.go); 0: not at all.
	EnrolmentGrace time.Duration

	// OnSessionsEnded is told the sessions an operator's reset ended.
	OnSessionsEnded func(ctx context.Context, ids []string)

	Now    func() time.Time
	Random io.Reader
}

// Service holds the rules of multi-factor sign-in and its settings.
type Service struct {
	cfg Config
}

// Errors of the flows. Pages explain each.
var (
	// ErrChallengeGone: the second step's sign-in expired, was finished
	// (another tab), or replaced by a newer sign-in.
	ErrChallengeGone = errors.New("authn: this sign-in step has expired")
	// ErrWrongCode: no method accepted the code (counted like a wrong
	// password).
	ErrWrongCode = errors.New("authn: wrong code")
	// ErrNotFresh: the action needs a recent sign-in with every factor.
	ErrNotFresh = errors.New("authn: sign in again to do this")
	// ErrUnknownMethod: no such method or credential.
	ErrUnknownMethod = errors.New("authn: unknown method")
)

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
	if cfg.ChallengeTTL <= 0 {
		cfg.ChallengeTTL = 10 * time.Minute
	}
	if cfg.FreshFor <= 0 {
		cfg.FreshFor = 5 * time.Minute
	}
	return &Service{cfg: cfg}
}

// Registry returns the methods offered.
func (s *Service) Registry() *Registry { return s.cfg.Registry }

// Policy returns the policy.
func (s *Service) Policy() Policy { return s.cfg.Policy }

func (s *Service) now() time.Time { return s.cfg.Now().UTC() }

func (s *Service) event(ctx context.Context, st storage.Storage, m account.Meta, e storage.Event) {
	e.ClientIP, e.UserAgent = m.ClientIP, m.UserAgent
	_ = s.cfg.Audit.Record(ctx, st, e)
}

// Entry is one credential with its method, for lists.
type Entry struct {
	Credential storage.Credential
	Method     Method
}

// Backup reports whether the entry is a backup (recovery codes).
func (e Entry) Backup() bool { return isBackup(e.Method) }

func isBackup(m Method) bool {
	b, ok := m.(Backup)
	return ok && b.Backup()
}

// Entries lists an account's credentials of registered methods, the last
// used first (then the newest): the order the second step offers them.
func (s *Service) Entries(ctx context.Context, accountID string) ([]Entry, error) {
	creds, err := s.cfg.Store.ListCredentials(ctx, accountID)
	if err != nil {
		return nil, err
	}
	var out []Entry
	for _, c := range creds {
		if m, ok := s.cfg.Registry.Get(c.Kind); ok {
			out = append(out, Entry{Credential: c, Method: m})
		}
	}
	slices.SortStableFunc(out, func(a, b Entry) int {
		if a.Backup() != b.Backup() {
			if a.Backup() {
				return 1
			}
			return -1
		}
		return cmp.Or(b.Credential.LastUsedAt.Compare(a.Credential.LastUsedAt), b.Credential.CreatedAt.Compare(a.Credential.CreatedAt))
	})
	return out, nil
}

// Enabled reports whether entries turn multi-factor sign-in on: a second
// factor other than a backup.
func Enabled(entries []Entry) bool {
	for _, e := range entries {
		if e.Method.SecondFactor() && !e.Backup() {
			return true
		}
	}
	return false
}

// SecondStepNeeded tells account.Login whether a's sign-in needs a second
// factor: whenever the account has one. A password reset, activation or
// e-mail change never changes this (no bypass).
func (s *Service) SecondStepNeeded(ctx context.Context, a storage.Account) (bool, error) {
	entries, err := s.Entries(ctx, a.ID)
	if err != nil {
		return false, err
	}
	return Enabled(entries), nil
}

// RequiredFor reports whether policy requires a's sign-ins to use a
// second factor (clients may require it too; see package oidc).
func (s *Service) RequiredFor(a storage.Account) bool {
	if s.cfg.UserType != nil && s.cfg.Policy.ByType() {
		return s.cfg.Policy.RequiredForType(s.cfg.UserType(a), a.Email)
	}
	return s.cfg.Policy.RequiredFor(a.Email)
}

// BeginChallenge starts the second step for account a, whose password was
// just right: a single-use secret for the second step's form, stored
// hashed. A newer sign-in of the account replaces older pending ones.
func (s *Service) BeginChallenge(ctx context.Context, a storage.Account) (string, error) {
	code, hash, err := secret.New(s.cfg.Random)
	if err != nil {
		return "", err
	}
	now := s.now()
	err = s.cfg.Store.InTx(ctx, func(tx storage.Storage) error {
		if _, err := tx.DeleteTokens(ctx, a.ID, storage.TokenMFAChallenge); err != nil {
			return err
		}
		return tx.CreateToken(ctx, storage.Token{
			Hash: hash, Kind: storage.TokenMFAChallenge, AccountID: a.ID, Email: a.Email,
			CreatedAt: now, ExpiresAt: now.Add(s.cfg.ChallengeTTL),
		})
	})
	if err != nil {
		return "", fmt.Errorf("begin second step: %w", err)
	}
	return code, nil
}

// Challenge returns the account of a pending second step, for its page.
func (s *Service) Challenge(ctx context.Context, challenge string) (storage.Account, error) {
	t, err := s.challengeToken(ctx, s.cfg.Store, challenge)
	if err != nil {
		return storage.Account{}, err
	}
	return s.cfg.Store.GetAccount(ctx, t.AccountID)
}

func (s *Service) challengeToken(ctx context.Context, st storage.Storage, challenge string) (storage.Token, error) {
	if !secret.Plausible(challenge) {
		return storage.Token{}, ErrChallengeGone
	}
	t, err := st.GetToken(ctx, secret.Hash(challenge))
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return t, ErrChallengeGone
	case err != nil:
		return t, err
	case t.Kind != storage.TokenMFAChallenge || !t.UsedAt.IsZero() || !s.now().Before(t.ExpiresAt):
		return t, ErrChallengeGone
	}
	return t, nil
}

// Result is a completed second step.
type Result struct {
	Account storage.Account
	Method  Method
	Factors []storage.AuthFactor // for the session: password, then this method
}

// Verify completes a second step with a typed code. The order matters:
// the challenge must be live, the account usable and not locked (for this
// browser) before any code is tried; a wrong code is counted like a wrong
// password; a right code spends the challenge and the code in one
// transaction, so a second tab or a replay finds both gone.
func (s *Service) Verify(ctx context.Context, challenge, rawCode string, m account.Meta) (Result, error) {
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
	code, err := NormalizeCode(rawCode)
	if err != nil {
		return Result{Account: a}, err
	}
	entries, err := s.Entries(ctx, a.ID)
	if err != nil {
		return Result{}, fmt.Errorf("second step: %w", err)
	}
	now := s.now()
	var used *Entry
	var remaining storage.Credential
	err = s.cfg.Store.InTx(ctx, func(tx storage.Storage) error {
		for i := range entries {
			e := entries[i]
			v, ok := e.Method.(CodeVerifier)
			if !ok || !e.Method.SecondFactor() {
				continue
			}
			c, err := v.VerifyCode(ctx, tx, e.Credential, code, now)
			if errors.Is(err, ErrMismatch) {
				continue
			}
			if err != nil {
				return err
			}
			used, remaining = &e, c
			break
		}
		if used == nil {
			return ErrWrongCode
		}
		if err := spendChallenge(ctx, tx, t.Hash, now); err != nil {
			return err
		}
		// The code, the spent challenge and the sign-in's bookkeeping
		// (with the session, when m starts one) commit once.
		m.Factors = []storage.AuthFactor{Factor(MethodPassword, t.CreatedAt), Factor(used.Method.Kind(), now)}
		return s.cfg.Accounts.CompleteLoginIn(ctx, tx, a, m)
	})
	switch {
	case errors.Is(err, ErrWrongCode), errors.Is(err, ErrReplayed):
		s.event(ctx, nil, m, storage.Event{Kind: audit.MFAFailure, AccountID: a.ID, Email: a.Email, Reason: reasonOf(err)})
		if ferr := s.cfg.Accounts.SecondFactorFailed(ctx, a, m); !errors.Is(ferr, account.ErrInvalidCredentials) {
			return Result{Account: a}, ferr
		}
		return Result{Account: a}, err
	case err != nil:
		return Result{Account: a}, err
	}
	if used.Backup() {
		s.recoveryUsed(ctx, a, remaining, m)
	}
	return Result{Account: a, Method: used.Method, Factors: m.Factors}, nil
}

func reasonOf(err error) string {
	if errors.Is(err, ErrReplayed) {
		return "code_already_used"
	}
	return "wrong_code"
}

// Fresh reports whether session se may add or remove methods now: its
// newest second factor (or, for an account without one, its password) is
// younger than FreshFor.
func (s *Service) Fresh(se storage.Session, enabled bool) bool {
	var at time.Time
	if enabled {
		at = s.cfg.Registry.SecondFactorAt(se.Factors)
	} else {
		for _, f := range se.Factors {
			if f.At.After(at) {
				at = f.At
			}
		}
		if len(se.Factors) == 0 {
			at = se.CreatedAt // a session from before factors were recorded
		}
	}
	return !at.IsZero() && s.now().Sub(at) <= s.cfg.FreshFor
}

// BeginEnrol starts adding a credential of kind to the account of session
// se.
func (s *Service) BeginEnrol(ctx context.Context, se storage.Session, a storage.Account, kind string) (Enrolment, error) {
	en, err := s.enroller(ctx, se, a, kind)
	if err != nil {
		return Enrolment{}, err
	}
	return en.Begin(ctx, a)
}

func (s *Service) enroller(ctx context.Context, se storage.Session, a storage.Account, kind string) (Enroller, error) {
	m, ok := s.cfg.Registry.Get(kind)
	en, isEnroller := m.(Enroller)
	if !ok || !isEnroller {
		return nil, ErrUnknownMethod
	}
	entries, err := s.Entries(ctx, a.ID)
	if err != nil {
		return nil, err
	}
	if !s.Fresh(se, Enabled(entries)) {
		return nil, ErrNotFresh
	}
	return en, nil
}

// Enrolled is a credential just added.
type Enrolled struct {
	Entry         Entry
	RecoveryCodes []string // set when this was the first method: show once
}

// FinishEnrol stores the credential the person just proved they hold, and
// adds its factor to session se (they have just used it). The first
// method also gets a set of recovery codes. The owner is told by e-mail.
func (s *Service) FinishEnrol(ctx context.Context, se storage.Session, a storage.Account, kind, pending string, form url.Values, m account.Meta) (Enrolled, error) {
	en, err := s.enroller(ctx, se, a, kind)
	if err != nil {
		return Enrolled{}, err
	}
	return s.finishEnrol(ctx, en, a, kind, pending, form, m, "", func(tx storage.Storage, now time.Time) error {
		_, err := tx.UpdateSession(ctx, se.ID, func(x storage.Session) (storage.Session, error) {
			x.Factors = append(x.Factors, Factor(kind, now))
			return x, nil
		})
		return err
	})
}

// BeginEnrolGranted starts adding a credential of kind to account a for a
// person who holds no session but an enrolment grant (a temporary access
// pass from the helpdesk, package authn/accesspass). The caller has
// checked the grant; FinishEnrolGranted spends it.
func (s *Service) BeginEnrolGranted(ctx context.Context, a storage.Account, kind string) (Enrolment, error) {
	m, ok := s.cfg.Registry.Get(kind)
	en, isEnroller := m.(Enroller)
	if !ok || !isEnroller {
		return Enrolment{}, ErrUnknownMethod
	}
	return en.Begin(ctx, a)
}

// FinishEnrolGranted is FinishEnrol for an enrolment grant: spend must
// spend the grant inside the transaction that stores the credential (so
// one grant adds one method), and no session gains a factor: the person
// signs in afterwards with the new method.
func (s *Service) FinishEnrolGranted(ctx context.Context, a storage.Account, kind, pending string, form url.Values, m account.Meta, spend func(tx storage.Storage, now time.Time) error) (Enrolled, error) {
	if spend == nil {
		return Enrolled{}, errors.New("authn: a granted enrolment must spend its grant")
	}
	meth, ok := s.cfg.Registry.Get(kind)
	en, isEnroller := meth.(Enroller)
	if !ok || !isEnroller {
		return Enrolled{}, ErrUnknownMethod
	}
	return s.finishEnrol(ctx, en, a, kind, pending, form, m, "access_pass", spend)
}

// finishEnrol stores a proved credential; also is run in the same
// transaction (the session's factor, or the grant spent).
func (s *Service) finishEnrol(ctx context.Context, en Enroller, a storage.Account, kind, pending string, form url.Values, m account.Meta, how string, also func(tx storage.Storage, now time.Time) error) (Enrolled, error) {
	now := s.now()
	c, err := en.Finish(ctx, a, pending, form, now)
	if err != nil {
		return Enrolled{}, err
	}
	var out Enrolled
	err = s.inTx(ctx, func(tx storage.Storage) error {
		before, err := tx.ListCredentials(ctx, a.ID)
		if err != nil {
			return err
		}
		if err := tx.CreateCredential(ctx, c); err != nil {
			if errors.Is(err, storage.ErrConflict) {
				return ErrAlreadyEnrolled
			}
			return err
		}
		out.Entry = Entry{Credential: c, Method: en}
		if !slices.ContainsFunc(before, func(x storage.Credential) bool { return s.isBackupKind(x.Kind) }) {
			codes, err := s.newBackup(ctx, tx, a, now)
			if err != nil {
				return err
			}
			out.RecoveryCodes = codes
		}
		if err := also(tx, now); err != nil {
			return err
		}
		reason := kind
		if how != "" {
			reason += " (" + how + ")"
		}
		s.event(ctx, tx, m, storage.Event{Kind: audit.MFAAdded, AccountID: a.ID, Email: a.Email, Reason: reason})
		return s.notify(ctx, tx, a, m, mail.MFAChanged{Change: mail.MFAMethodAdded, Method: kind, When: now})
	})
	return out, err
}

func (s *Service) isBackupKind(kind string) bool {
	m, ok := s.cfg.Registry.Get(kind)
	return ok && isBackup(m)
}

// backupMethod is the registered backup method, if any.
func (s *Service) backupMethod() (Backup, bool) {
	for _, m := range s.cfg.Registry.Methods() {
		if b, ok := m.(Backup); ok && b.Backup() {
			return b, true
		}
	}
	return nil, false
}

// newBackup replaces a's recovery codes with a new set, inside tx.
func (s *Service) newBackup(ctx context.Context, tx storage.Storage, a storage.Account, now time.Time) ([]string, error) {
	b, ok := s.backupMethod()
	if !ok {
		return nil, nil
	}
	c, codes, err := b.Generate(a, now)
	if err != nil {
		return nil, err
	}
	if _, err := tx.DeleteCredentials(ctx, a.ID, c.Kind); err != nil {
		return nil, err
	}
	if err := tx.CreateCredential(ctx, c); err != nil {
		return nil, err
	}
	s.event(ctx, tx, account.Meta{}, storage.Event{Kind: audit.MFARecoveryGenerated, AccountID: a.ID, Email: a.Email})
	return codes, nil
}

// RegenerateRecovery replaces the recovery codes (the old set dies) and
// returns the new ones, to show once.
func (s *Service) RegenerateRecovery(ctx context.Context, se storage.Session, a storage.Account, m account.Meta) ([]string, error) {
	entries, err := s.Entries(ctx, a.ID)
	if err != nil {
		return nil, err
	}
	if !Enabled(entries) {
		return nil, ErrUnknownMethod
	}
	if !s.Fresh(se, true) {
		return nil, ErrNotFresh
	}
	var codes []string
	now := s.now()
	err = s.inTx(ctx, func(tx storage.Storage) error {
		var err error
		if codes, err = s.newBackup(ctx, tx, a, now); err != nil {
			return err
		}
		return s.notify(ctx, tx, a, m, mail.MFAChanged{Change: mail.MFARecoveryGenerated, When: now})
	})
	return codes, err
}

// Remove deletes one of a's credentials. Removing the last method that
// turns multi-factor sign-in on removes the recovery codes with it.
func (s *Service) Remove(ctx context.Context, se storage.Session, a storage.Account, id string, m account.Meta) error {
	entries, err := s.Entries(ctx, a.ID)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(entries, func(e Entry) bool { return e.Credential.ID == id && !e.Backup() })
	if i < 0 {
		return ErrUnknownMethod
	}
	if !s.Fresh(se, Enabled(entries)) {
		return ErrNotFresh
	}
	gone := entries[i]
	now := s.now()
	return s.inTx(ctx, func(tx storage.Storage) error {
		if err := tx.DeleteCredential(ctx, id); err != nil {
			if errors.Is(err, storage.ErrNotFound) {
				return ErrUnknownMethod
			}
			return err
		}
		if err := ForgetBrowsers(ctx, tx, a.ID); err != nil {
			return err
		}
		rest := slices.Delete(slices.Clone(entries), i, i+1)
		if !Enabled(rest) {
			for _, e := range rest {
				if e.Backup() {
					if _, err := tx.DeleteCredentials(ctx, a.ID, e.Credential.Kind); err != nil {
						return err
					}
				}
			}
		}
		s.event(ctx, tx, m, storage.Event{Kind: audit.MFARemoved, AccountID: a.ID, Email: a.Email, Reason: gone.Method.Kind()})
		return s.notify(ctx, tx, a, m, mail.MFAChanged{Change: mail.MFAMethodRemoved, Method: gone.Method.Kind(), When: now})
	})
}

// Reset is the operator's: every method of the account goes, its
// sessions end, the owner is told and the reason is audited.
func (s *Service) Reset(ctx context.Context, email, reason string, m account.Meta) (storage.Account, int, error) {
	return s.reset(ctx, email, reason, mail.MFAReset, m)
}

// ResetProofed is Reset done by the owner after proving their identity
// through strong identification (package proofing); the owner's e-mail
// says so instead of naming an operator.
func (s *Service) ResetProofed(ctx context.Context, email, reason string, m account.Meta) (storage.Account, int, error) {
	return s.reset(ctx, email, reason, mail.MFAResetProofed, m)
}

// ResetByHelpdesk is Reset done by the helpdesk: the owner's message says
// the helpdesk did it, not an administrator.
func (s *Service) ResetByHelpdesk(ctx context.Context, email, reason string, m account.Meta) (storage.Account, int, error) {
	return s.reset(ctx, email, reason, mail.MFAResetByHelpdesk, m)
}

func (s *Service) reset(ctx context.Context, email, reason string, change mail.MFAChange, m account.Meta) (storage.Account, int, error) {
	a, err := s.cfg.Accounts.Find(ctx, email)
	if err != nil {
		return a, 0, err
	}
	var n int
	var ended []string
	now := s.now()
	err = s.inTx(ctx, func(tx storage.Storage) error {
		var err error
		if n, err = tx.DeleteCredentials(ctx, a.ID, ""); err != nil {
			return err
		}
		all, err := tx.ListSessions(ctx, a.ID)
		if err != nil {
			return err
		}
		if _, err := tx.DeleteSessions(ctx, a.ID, ""); err != nil {
			return err
		}
		if err := ForgetBrowsers(ctx, tx, a.ID); err != nil {
			return err
		}
		for _, se := range all {
			ended = append(ended, se.ID)
		}
		s.event(ctx, tx, m, storage.Event{Kind: audit.MFAReset, AccountID: a.ID, Email: a.Email, Reason: reason})
		return s.notify(ctx, tx, a, m, mail.MFAChanged{Change: change, When: now})
	})
	if err != nil {
		return a, 0, err
	}
	if s.cfg.OnSessionsEnded != nil && len(ended) > 0 {
		s.cfg.OnSessionsEnded(ctx, ended)
	}
	return a, n, nil
}

func (s *Service) recoveryUsed(ctx context.Context, a storage.Account, c storage.Credential, m account.Meta) {
	left := 0
	if d, ok := s.cfg.Registry.Get(c.Kind); ok {
		if cl, ok := d.(interface{ Left(storage.Credential) int }); ok {
			left = cl.Left(c)
		}
	}
	now := s.now()
	err := s.inTx(ctx, func(tx storage.Storage) error {
		s.event(ctx, tx, m, storage.Event{Kind: audit.MFARecoveryUsed, AccountID: a.ID, Email: a.Email, Reason: fmt.Sprintf("%d left", left)})
		return s.notify(ctx, tx, a, m, mail.MFAChanged{Change: mail.MFARecoveryUsed, When: now, CodesLeft: left})
	})
	if err != nil {
		s.cfg.Logger.ErrorContext(ctx, "recovery code notification", "account_id", a.ID, "error", err)
	}
}

// notify e-mails the owner about a change to their sign-in methods, with
// the way to report "this was not me" (reset the password, which ends
// every session).
func (s *Service) notify(ctx context.Context, tx storage.Storage, a storage.Account, m account.Meta, msg mail.MFAChanged) error {
	if s.cfg.Outbox == nil {
		return nil
	}
	msg.Name = a.GivenName
	if msg.Name == "" {
		msg.Name = a.Email
	}
	msg.SettingsLink = s.cfg.PublicURL + "/account/mfa"
	msg.ResetLink = s.cfg.PublicURL + "/password/forgot?" + url.Values{"email": {a.Email}}.Encode()
	msg.IP = m.ClientIP
	lang := a.Locale
	if lang == "" {
		lang = cmp.Or(m.Lang, "en")
	}
	return s.cfg.Outbox.Enqueue(ctx, tx, a.Email, lang, msg)
}

func (s *Service) inTx(ctx context.Context, fn func(tx storage.Storage) error) error {
	if err := s.cfg.Store.InTx(ctx, fn); err != nil {
		return err
	}
	if s.cfg.Outbox != nil {
		s.cfg.Outbox.Wake()
	}
	return nil
}

// spendChallenge marks a second step's challenge token used, inside the
// transaction that records the factor: ErrChallengeGone when another
// tab or request spent it first (or it is gone).
func spendChallenge(ctx context.Context, tx storage.Storage, hash string, now time.Time) error {
	_, err := tx.UpdateToken(ctx, hash, func(t storage.Token) (storage.Token, error) {
		if !t.UsedAt.IsZero() {
			return t, ErrChallengeGone
		}
		t.UsedAt = now
		return t, nil
	})
	if errors.Is(err, storage.ErrNotFound) {
		return ErrChallengeGone
	}
	return err
}
