// Package guests invites people from outside the organisation as guests
// (issue 10, point 5): a staff member with the guest-inviter role (or an
// admin, or an operator at the command line) invites an e-mail address
// until a date with a note; the address gets a single-use link; following
// it, the guest chooses a password (the link proved the address, so the
// account is active at once). The account has user type guest and the
// invitation's date as its end, in provision's registry record, so the
// lifecycle ends it on that date like any other account with an end.
package guests

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/portti/portti/internal/account"
	"github.com/portti/portti/internal/audit"
	"github.com/portti/portti/internal/mail"
	"github.com/portti/portti/internal/storage"
)

// Audit event kinds.
const (
	EventInvited  = "guest.invited"
	EventAccepted = "guest.accepted"
)

// TypeGuest is the user type of an invited account (provision.TypeGuest;
// spelled here so this package needs nothing of provision's).
const TypeGuest = "guest"

// Errors of Invite and Accept. Each becomes a translated message.
var (
	ErrInvalidEmail = errors.New("guests: not an e-mail address")
	ErrUntilPast    = errors.New("guests: the end date is in the past")
	ErrUntilFar     = errors.New("guests: the end date is too far away")
	ErrNoteTooLong  = errors.New("guests: the note is too long")
	ErrNotInviter   = errors.New("guests: only a guest inviter or an admin invites")
	// ErrLinkInvalid: no such link, or it expired, or it was used. One
	// error for all three: the page says the same for each.
	ErrLinkInvalid = errors.New("guests: the invitation link is not valid")
	// ErrHasAccount: the invited address has an account already; the
	// invitation creates no second one, the person signs in.
	ErrHasAccount = errors.New("guests: the address has an account")
)

// MaxNote is the longest note, in characters.
const MaxNote = 500

// Config holds a Service's dependencies and limits.
type Config struct {
	Store     storage.Storage
	Accounts  *account.Service // its password policy and hasher
	Outbox    *mail.Outbox
	Audit     *audit.Recorder
	PublicURL string // without trailing slash
	// LinkTTL is how long an invitation link works (default 14 days);
	// MaxDuration how far away the end date may be (default 366 days).
	LinkTTL     time.Duration
	MaxDuration time.Duration
	Logger      *slog.Logger
	Now         func() time.Time
}

// Service invites guests and accepts invitations.
type Service struct{ cfg Config }

// New returns a Service.
func New(cfg Config) *Service {
	cfg.LinkTTL = cmp.Or(cfg.LinkTTL, 14*24*time.Hour)
	cfg.MaxDuration = cmp.Or(cfg.MaxDuration, 366*24*time.Hour)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Service{cfg: cfg}
}

func (s *Service) now() time.Time { return s.cfg.Now().UTC() }

// Inviter is who invites: an account holding the guest-inviter or admin
// role, or the operator at the command line (AccountID "", Email "cli").
type Inviter struct {
	AccountID string
	Email     string
}

// MayInvite reports whether roles allow inviting guests.
func MayInvite(roles []string) bool {
	for _, r := range roles {
		if r == storage.RoleGuestInviter || r == storage.RoleAdmin {
			return true
		}
	}
	return false
}

// Helsinki is the zone an end date given as a day is read in.
var Helsinki = func() *time.Location {
	loc, err := time.LoadLocation("Europe/Helsinki")
	if err != nil {
		return time.FixedZone("EET", 2*3600)
	}
	return loc
}()

// ParseUntil reads an end date: a day (2027-03-31, the account works to
// the end of that day in Helsinki) or an RFC 3339 time.
func ParseUntil(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if d, err := time.ParseInLocation("2006-01-02", s, Helsinki); err == nil {
		return d.AddDate(0, 0, 1).Add(-time.Second).UTC(), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not a date like 2027-03-31", s)
	}
	return t.UTC(), nil
}

// Invite stores an invitation of email until until with note, audits it
// and queues the e-mail in lang, all in one transaction. A refusal is
// ErrInvalidEmail, ErrUntilPast, ErrUntilFar, ErrNoteTooLong, or several
// of them joined.
func (s *Service) Invite(ctx context.Context, by Inviter, email string, until time.Time, note, lang string, m account.Meta) (storage.Invitation, error) {
	// Every problem at once (errors.Join), so a form names each field.
	var bad []error
	normalized, err := account.NormalizeEmail(email)
	if err != nil {
		bad = append(bad, ErrInvalidEmail)
	}
	now := s.now()
	switch {
	case !until.After(now):
		bad = append(bad, ErrUntilPast)
	case until.Sub(now) > s.cfg.MaxDuration:
		bad = append(bad, ErrUntilFar)
	}
	note = strings.Join(strings.Fields(note), " ")
	if !utf8.ValidString(note) || utf8.RuneCountInString(note) > MaxNote {
		bad = append(bad, ErrNoteTooLong)
	}
	if len(bad) > 0 {
		return storage.Invitation{}, errors.Join(bad...)
	}
	switch lang {
	case "fi", "sv", "en":
	default:
		lang = "en"
	}
	code, hash, err := newSecret()
	if err != nil {
		return storage.Invitation{}, err
	}
	id, _, err := newSecret()
	if err != nil {
		return storage.Invitation{}, err
	}
	inv := storage.Invitation{
		ID: id[:16], TokenHash: hash, Email: normalized, Locale: lang, Note: note,
		InvitedBy: by.AccountID, Inviter: cmp.Or(by.Email, "cli"),
		EndsAt: until.UTC(), ExpiresAt: now.Add(s.cfg.LinkTTL), CreatedAt: now,
	}
	inviter := inv.Inviter
	if by.AccountID == "" {
		// The command line: the service itself invites, named by its host.
		inviter = s.cfg.PublicURL
		if u, err := url.Parse(s.cfg.PublicURL); err == nil && u.Host != "" {
			inviter = u.Host
		}
	}
	msg := mail.GuestInvitation{Inviter: inviter, Note: note, EndsAt: inv.EndsAt,
		Link: s.cfg.PublicURL + "/guests/accept?code=" + code, ExpiresIn: s.cfg.LinkTTL}
	err = s.cfg.Store.InTx(ctx, func(tx storage.Storage) error {
		if err := tx.CreateInvitation(ctx, inv); err != nil {
			return err
		}
		// The event names the invitation and the inviter; the invited
		// address is in Email, as for every event about an address.
		if err := s.cfg.Audit.Record(ctx, tx, storage.Event{Kind: EventInvited, Email: normalized, AccountID: by.AccountID,
			Reason:   "by " + inv.Inviter + ": invitation " + inv.ID + " until " + inv.EndsAt.Format(time.DateOnly),
			ClientIP: m.ClientIP, UserAgent: m.UserAgent}); err != nil {
			return err
		}
		if s.cfg.Outbox == nil {
			return nil
		}
		return s.cfg.Outbox.Enqueue(ctx, tx, normalized, lang, msg)
	})
	if err != nil {
		return storage.Invitation{}, fmt.Errorf("guests: invite: %w", err)
	}
	if s.cfg.Outbox != nil {
		s.cfg.Outbox.Wake()
	}
	return inv, nil
}

// Invitations lists the newest invitations, by one inviter unless
// accountID is "".
func (s *Service) Invitations(ctx context.Context, accountID string) ([]storage.Invitation, error) {
	return s.cfg.Store.ListInvitations(ctx, accountID, 50)
}

// Lookup returns the usable invitation of a link's code: ErrLinkInvalid
// when there is none, it expired or it was used.
func (s *Service) Lookup(ctx context.Context, code string) (storage.Invitation, error) {
	if code == "" || len(code) > 100 {
		return storage.Invitation{}, ErrLinkInvalid
	}
	// The stored value is the hash of a 256-bit secret: looking it up
	// by index reveals nothing about other links.
	return s.LookupHash(ctx, hashCode(code))
}

// State is what became of an invitation at now: "open", "accepted" or
// "expired" (its link).
func State(inv storage.Invitation, now time.Time) string {
	switch {
	case !inv.AcceptedAt.IsZero():
		return "accepted"
	case !now.Before(inv.ExpiresAt):
		return "expired"
	}
	return "open"
}

// HasAccount reports whether the invited address has an account.
func (s *Service) HasAccount(ctx context.Context, inv storage.Invitation) (bool, error) {
	_, err := s.cfg.Store.GetAccountByEmail(ctx, inv.Email)
	if errors.Is(err, storage.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// AcceptWithPassword creates the guest account of the invitation whose
// link code is, with the password pw (the policy applies; confirm must
// match). The account is active at once: the link proved the address.
// account.ValidationError for a password the policy refuses.
func (s *Service) AcceptWithPassword(ctx context.Context, code, pw, confirm string, m account.Meta) (storage.Account, error) {
	inv, err := s.Lookup(ctx, code)
	if err != nil {
		return storage.Account{}, err
	}
	settings := s.cfg.Accounts.Settings()
	var v account.ValidationError
	if pw == "" {
		v = append(v, account.FieldError{Field: "password", Code: "field.required"})
	}
	for _, p := range settings.Policy.Check(pw, inv.Email) {
		if pw != "" {
			v = append(v, account.FieldError{Field: "password", Code: p.Code, Args: p.Args})
		}
	}
	switch {
	case confirm == "":
		v = append(v, account.FieldError{Field: "password_confirm", Code: "field.required"})
	case pw != "" && pw != confirm:
		v = append(v, account.FieldError{Field: "password_confirm", Code: "password.mismatch"})
	}
	if len(v) > 0 {
		return storage.Account{}, v
	}
	hash, err := settings.Hasher.Hash(pw)
	if err != nil {
		return storage.Account{}, err
	}
	return s.accept(ctx, inv, hash, "password", m)
}

// accept creates the account (with pwHash, which may be empty for a
// home-organisation sign-in), its registry record and marks the
// invitation used, in one transaction; link, when not nil, runs inside
// it with the new account (a home organisation's link).
func (s *Service) accept(ctx context.Context, inv storage.Invitation, pwHash, how string, m account.Meta, link ...func(tx storage.Storage, a storage.Account) error) (storage.Account, error) {
	id, _, err := newSecret()
	if err != nil {
		return storage.Account{}, err
	}
	now := s.now()
	a := storage.Account{ID: id[:26], Email: inv.Email, Locale: cmp.Or(m.Lang, inv.Locale),
		PasswordHash: pwHash, ActivatedAt: now, CreatedAt: now, UpdatedAt: now}
	if pwHash != "" {
		a.PasswordChangedAt = now
	}
	err = s.cfg.Store.InTx(ctx, func(tx storage.Storage) error {
		if err := tx.CreateAccount(ctx, a); errors.Is(err, storage.ErrConflict) {
			return ErrHasAccount
		} else if err != nil {
			return err
		}
		if err := tx.AcceptInvitation(ctx, inv.ID, a.ID, now); errors.Is(err, storage.ErrConflict) {
			return ErrLinkInvalid // used by a request that raced this one
		} else if err != nil {
			return err
		}
		if err := tx.CreateProvisioned(ctx, storage.Provisioned{
			AccountID: a.ID, UserType: TypeGuest, State: storage.ProvisionActive, EndsAt: inv.EndsAt,
			Source: storage.ProvisionSourceInvitation, DueAt: inv.EndsAt, Version: 1, CreatedAt: now, UpdatedAt: now,
		}); err != nil {
			return err
		}
		for _, fn := range link {
			if err := fn(tx, a); err != nil {
				return err
			}
		}
		return s.cfg.Audit.Record(ctx, tx, storage.Event{Kind: EventAccepted, AccountID: a.ID, Email: a.Email,
			Reason:   how + ", invitation " + inv.ID + " by " + inv.Inviter + " until " + inv.EndsAt.Format(time.DateOnly),
			ClientIP: m.ClientIP, UserAgent: m.UserAgent})
	})
	if err != nil {
		return storage.Account{}, err
	}
	return a, nil
}

func hashCode(code string) string {
	h := sha256.Sum256([]byte(code))
	return hex.EncodeToString(h[:])
}

// newSecret returns a 256-bit random code for a link and its hash.
func newSecret() (code, hash string, err error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", "", err
	}
	code = base64.RawURLEncoding.EncodeToString(b)
	return code, hashCode(code), nil
}

// ErrIdentityLinked: the home organisation's identity opens an account
// already; the person signs in with it instead.
var ErrIdentityLinked = errors.New("guests: that home organisation identity opens an account already")

// EventLinked is federation's event of a new link (federation.EventLinked).
const EventLinked = "federation.linked"

// LookupHash is Lookup for a token hash (a home organisation's flow
// carries the hash, never the code).
func (s *Service) LookupHash(ctx context.Context, hash string) (storage.Invitation, error) {
	inv, err := s.cfg.Store.GetInvitationByToken(ctx, hash)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return inv, ErrLinkInvalid
	case err != nil:
		return inv, err
	case !inv.AcceptedAt.IsZero() || !s.now().Before(inv.ExpiresAt) || !s.now().Before(inv.EndsAt):
		return inv, ErrLinkInvalid
	}
	return inv, nil
}

// AcceptWithHome creates the guest account of the invitation whose token
// hash is hash, without a password, linked to the home organisation's
// identity (provider, subject) that just signed in: from then on the
// guest signs in there (and does their second step there).
func (s *Service) AcceptWithHome(ctx context.Context, hash, provider, subject string, m account.Meta) (storage.Account, error) {
	inv, err := s.LookupHash(ctx, hash)
	if err != nil {
		return storage.Account{}, err
	}
	return s.accept(ctx, inv, "", "home organisation "+provider, m, func(tx storage.Storage, a storage.Account) error {
		if _, err := tx.GetFederatedLink(ctx, provider, subject); err == nil {
			return ErrIdentityLinked
		} else if !errors.Is(err, storage.ErrNotFound) {
			return err
		}
		now := s.now()
		if err := tx.CreateFederatedLink(ctx, storage.FederatedLink{Provider: provider, Subject: subject, AccountID: a.ID, LinkedBy: "invitation", LinkedAt: now}); errors.Is(err, storage.ErrConflict) {
			return ErrIdentityLinked
		} else if err != nil {
			return err
		}
		// No "linked" e-mail: the guest made this link a moment ago,
		// and the invitation e-mail already went to this address.
		return s.cfg.Audit.Record(ctx, tx, storage.Event{Kind: EventLinked, AccountID: a.ID, Email: a.Email,
			Reason: "invitation, " + provider, ClientIP: m.ClientIP, UserAgent: m.UserAgent})
	})
}
