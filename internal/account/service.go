// Package account holds the rules of a local account's life: registration,
// activation, login with lockout and throttling, password recovery and
// change, profile and e-mail changes, and the operator actions.
//
// The web layer and the command line call a Service; neither holds a rule of
// its own. Every outcome a person may need explained is a distinct error
// value, but the account-specific ones (not activated, locked, expired,
// disabled) are only returned after the right password: before that, unknown
// and known addresses get the same answer and cost the same work.
package account

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/portti/portti/internal/audit"
	"github.com/portti/portti/internal/mail"
	"github.com/portti/portti/internal/password"
	"github.com/portti/portti/internal/secret"
	"github.com/portti/portti/internal/storage"
)

// Config holds a Service's dependencies and settings.
type Config struct {
	Store  storage.Storage
	Hasher *password.Hasher
	Policy password.Policy
	Outbox *mail.Outbox
	Audit  *audit.Recorder
	Logger *slog.Logger

	PublicURL string // absolute base for links in e-mails, no trailing slash

	ActivationTTL    time.Duration
	RecoveryTTL      time.Duration
	EmailChangeTTL   time.Duration
	LockoutThreshold int
	LockoutDuration  time.Duration
	PasswordMaxAge   time.Duration // 0: passwords never expire
	TermsVersion     string

	// ThrottleLimit failed logins per client address per ThrottleWindow
	// slow down password spraying from one network address.
	ThrottleLimit  int
	ThrottleWindow time.Duration

	// OnSessionsEnded is told the IDs of sessions the rules ended (a
	// password reset or change, a disabled account), after they are gone,
	// so that the applications signed in through them hear of it
	// (back-channel logout). Optional.
	OnSessionsEnded func(ctx context.Context, sessionIDs []string)

	// SecondStep tells Login whether account a's sign-in needs a second
	// factor after its password (package authn); Login then returns
	// ErrSecondStep and CompleteLogin finishes the sign-in later. Nil:
	// never.
	SecondStep func(ctx context.Context, a storage.Account) (bool, error)

	// RegistryOnly reports whether accounts with this (normalised)
	// address come only from a registry (package provision): Register
	// refuses them, saying so, before anything else happens. The answer
	// depends on the address's pattern alone, never on whether an
	// account exists. Nil: none.
	RegistryOnly func(email string) bool

	// Activation configures the activation of provisioned accounts
	// (invitation.go).
	Activation ActivationConfig

	Now    func() time.Time // injected so tests control expiry
	Random io.Reader        // injected so tests can be deterministic; crypto/rand by default
}

// Service implements the account rules.
type Service struct {
	cfg               Config
	taskWake          chan struct{} // wakes RunTasks when a request queues a task
	taskWakeScheduled atomic.Bool   // a wake-up is on its way
}

// New returns a Service. Zero durations and limits take the documented defaults.
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
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.ActivationTTL, 30*time.Minute)
	def(&cfg.RecoveryTTL, 30*time.Minute)
	def(&cfg.EmailChangeTTL, 24*time.Hour)
	def(&cfg.LockoutDuration, 24*time.Hour)
	def(&cfg.ThrottleWindow, 15*time.Minute)
	if cfg.LockoutThreshold <= 0 {
		cfg.LockoutThreshold = 5
	}
	if cfg.ThrottleLimit <= 0 {
		cfg.ThrottleLimit = 100
	}
	return &Service{cfg: cfg, taskWake: make(chan struct{}, 1)}
}

// Settings returns the effective configuration (for pages that explain the
// rules, such as "the link is valid for 30 minutes").
func (s *Service) Settings() Config { return s.cfg }

// Meta describes the request an action comes from, for the audit log,
// known-device lockout and the language of e-mails.
type Meta struct {
	ClientIP  string
	UserAgent string
	DeviceID  string // hex SHA-256 of the browser's device cookie; empty if none
	Lang      string // the page's language: fi, sv or en
	// Ref is the reference code the person is shown if this request ends
	// on a page that shows one (a disabled account); the audit event that
	// explains that page carries it, so the helpdesk finds it by the code.
	Ref string

	// StartSession, when set, starts the browser session of a sign-in
	// that completes (CompleteLogin, or Login without a second step) in
	// the transaction that records it, so that a sign-in commits once
	// (issue 8). It gets that transaction, the account and Factors. Its
	// error fails the sign-in and undoes the bookkeeping.
	StartSession func(ctx context.Context, tx storage.Storage, a storage.Account, factors []storage.AuthFactor) error
	// Factors are what the sign-in proved (package authn), for
	// StartSession: set by whoever verified them.
	Factors []storage.AuthFactor
}

func (s *Service) now() time.Time { return s.cfg.Now().UTC() }

// event fills the request fields of an audit event and records it.
func (s *Service) event(ctx context.Context, st storage.Storage, m Meta, e storage.Event) {
	e.ClientIP, e.UserAgent = m.ClientIP, m.UserAgent
	_ = s.cfg.Audit.Record(ctx, st, e)
}

// newSecret returns a random link secret and the hash under which it is stored.
func (s *Service) newSecret() (code, hash string, err error) {
	return secret.New(s.cfg.Random)
}

// link builds an absolute URL for an e-mail.
func (s *Service) link(path string, q url.Values) string {
	u := s.cfg.PublicURL + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u
}

// issueToken stores a new single-use link token and returns the secret.
func (s *Service) issueToken(ctx context.Context, st storage.Storage, kind storage.TokenKind, a storage.Account, email string, ttl time.Duration) (string, error) {
	code, hash, err := s.newSecret()
	if err != nil {
		return "", err
	}
	now := s.now()
	err = st.CreateToken(ctx, storage.Token{
		Hash: hash, Kind: kind, AccountID: a.ID, Email: email,
		CreatedAt: now, ExpiresAt: now.Add(ttl),
	})
	if err != nil {
		return "", fmt.Errorf("store %s token: %w", kind, err)
	}
	return code, nil
}

// LinkError explains why an e-mailed link cannot be used.
type LinkError struct {
	Reason LinkReason
	Token  storage.Token // zero when the link is unknown
}

// LinkReason is why a link failed.
type LinkReason string

// Link failure reasons.
const (
	LinkUnknown LinkReason = "unknown" // never issued, tampered, or long gone
	LinkUsed    LinkReason = "used"
	LinkExpired LinkReason = "expired"
)

func (e *LinkError) Error() string { return "link " + string(e.Reason) }

// useToken marks a link token used, inside st's transaction, and returns it.
func (s *Service) useToken(ctx context.Context, st storage.Storage, kind storage.TokenKind, code string) (storage.Token, error) {
	if !secret.Plausible(code) {
		return storage.Token{}, &LinkError{Reason: LinkUnknown}
	}
	now := s.now()
	t, err := st.UpdateToken(ctx, secret.Hash(code), func(t storage.Token) (storage.Token, error) {
		switch {
		case t.Kind != kind:
			return t, &LinkError{Reason: LinkUnknown}
		case !t.UsedAt.IsZero():
			return t, &LinkError{Reason: LinkUsed, Token: t}
		case !now.Before(t.ExpiresAt):
			return t, &LinkError{Reason: LinkExpired, Token: t}
		}
		t.UsedAt = now
		return t, nil
	})
	if errors.Is(err, storage.ErrNotFound) {
		return t, &LinkError{Reason: LinkUnknown}
	}
	return t, err
}

// peekToken checks a link without using it (to show the form a link opens).
func (s *Service) peekToken(ctx context.Context, kind storage.TokenKind, code string) (storage.Token, error) {
	if !secret.Plausible(code) {
		return storage.Token{}, &LinkError{Reason: LinkUnknown}
	}
	t, err := s.cfg.Store.GetToken(ctx, secret.Hash(code))
	switch {
	case errors.Is(err, storage.ErrNotFound) || (err == nil && t.Kind != kind):
		return storage.Token{}, &LinkError{Reason: LinkUnknown}
	case err != nil:
		return t, err
	case !t.UsedAt.IsZero():
		return t, &LinkError{Reason: LinkUsed, Token: t}
	case !s.now().Before(t.ExpiresAt):
		return t, &LinkError{Reason: LinkExpired, Token: t}
	}
	return t, nil
}

// lang picks the language of a message to an account's owner.
func lang(a storage.Account, m Meta) string {
	if a.Locale != "" {
		return a.Locale
	}
	if m.Lang != "" {
		return m.Lang
	}
	return "en"
}

// displayName is how e-mails greet the owner.
func displayName(a storage.Account) string {
	if a.GivenName != "" {
		return a.GivenName
	}
	return a.Email
}

// ValidationError lists what is wrong with a submitted form, field by field.
type ValidationError []FieldError

// FieldError is one problem with one form field. Code is a translation key.
type FieldError struct {
	Field string
	Code  string
	Args  map[string]any
}

func (v ValidationError) Error() string {
	return fmt.Sprintf("%d invalid fields", len(v))
}

// For returns the problems with one field.
func (v ValidationError) For(field string) []FieldError {
	var out []FieldError
	for _, e := range v {
		if e.Field == field {
			out = append(out, e)
		}
	}
	return out
}

func (v *ValidationError) add(field, code string, args map[string]any) {
	*v = append(*v, FieldError{Field: field, Code: code, Args: args})
}

// checkPassword applies the password policy and the confirmation match.
func (s *Service) checkPassword(v *ValidationError, field, pw, confirmField, confirm string, personal ...string) {
	if pw == "" {
		v.add(field, "field.required", nil)
	} else {
		for _, p := range s.cfg.Policy.Check(pw, personal...) {
			v.add(field, p.Code, p.Args)
		}
	}
	switch {
	case confirmField == "":
	case confirm == "":
		v.add(confirmField, "field.required", nil)
	case pw != "" && pw != confirm:
		v.add(confirmField, "password.mismatch", nil)
	}
}

// Why a browser was signed out from elsewhere (storage.EndedSession.Reason):
// the browser is told on its next page.
const (
	EndedPasswordChanged = "password_changed"     // a password change or reset
	EndedElsewhere       = "signed_out_elsewhere" // from another browser's account page
	EndedOther           = "ended"                // anything else (the helpdesk, an operator)
)

// endSessions ends an account's sessions but keep, inside tx, and returns
// the IDs it ended for sessionsEnded.
func (s *Service) endSessions(ctx context.Context, tx storage.Storage, accountID, keep string) ([]string, error) {
	return s.endSessionsBecause(ctx, tx, accountID, keep, EndedOther)
}

// endSessionsBecause is endSessions that leaves each ended browser a note
// saying why (reason), read on its next page.
func (s *Service) endSessionsBecause(ctx context.Context, tx storage.Storage, accountID, keep, reason string) ([]string, error) {
	all, err := tx.ListSessions(ctx, accountID)
	if err != nil {
		return nil, err
	}
	if _, err := tx.DeleteSessions(ctx, accountID, keep); err != nil {
		return nil, err
	}
	// Browsers remembered for the second step (package authn) go with
	// the sessions: a password change or reset must not leave a stranger's
	// browser skipping it.
	if _, err := tx.DeleteTokens(ctx, accountID, storage.TokenMFABrowser); err != nil {
		return nil, err
	}
	var ended []string
	var notes []storage.EndedSession
	now := s.now()
	for _, se := range all {
		if se.ID != keep {
			ended = append(ended, se.ID)
			notes = append(notes, storage.EndedSession{ID: se.ID, Reason: reason, EndedAt: now, ExpiresAt: se.ExpiresAt})
		}
	}
	if err := tx.NoteEndedSessions(ctx, notes, now); err != nil {
		return nil, err
	}
	return ended, nil
}

// sessionsEnded passes ended sessions to the OnSessionsEnded hook, once
// the transaction that ended them has committed.
func (s *Service) sessionsEnded(ctx context.Context, ids []string) {
	if s.cfg.OnSessionsEnded != nil && len(ids) > 0 {
		s.cfg.OnSessionsEnded(ctx, ids)
	}
}

// inTx runs fn in one transaction and, once it has committed, wakes the
// mail worker: messages enqueued inside fn go out at once instead of at
// the worker's next look.
func (s *Service) inTx(ctx context.Context, fn func(tx storage.Storage) error) error {
	if err := s.cfg.Store.InTx(ctx, fn); err != nil {
		return err
	}
	s.cfg.Outbox.Wake()
	return nil
}
