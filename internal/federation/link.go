package federation

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"
	"unicode/utf8"

	"github.com/portti/portti/internal/account"
	"github.com/portti/portti/internal/mail"
	"github.com/portti/portti/internal/storage"
)

// Errors of Link.
var (
	ErrLinkedHere      = errors.New("federation: this identity is already linked to this account")
	ErrLinkedElsewhere = errors.New("federation: this identity is linked to another account")
	ErrBadSubject      = errors.New("federation: the provider and subject must be 1–255 characters without control characters")
)

// Link binds an upstream identity to account a, on purpose: by the
// owner ("self"), an operator ("operator") or an invitation.
func (s *Service) Link(ctx context.Context, a storage.Account, provider, subject, by string, m account.Meta) error {
	name := provider
	if p, ok := s.providers[provider]; ok {
		name = p.DisplayName(langOf(a, m))
	}
	return Link(ctx, s.cfg.Store, a, provider, subject, by, m, s.cfg.Now(),
		&Notice{Outbox: s.cfg.Outbox, PublicURL: s.cfg.PublicURL, ProviderName: name})
}

// Notice is how the owner is told of a new link: from then on that
// identity opens the account, so a link the owner did not make must be
// reported at once (NIST SP 800-63B: a new authenticator is notified
// through another channel, with how to repudiate it).
type Notice struct {
	Outbox       *mail.Outbox
	PublicURL    string // without trailing slash
	ProviderName string // in the owner's language
}

// Link records the link, its audit event and the owner's e-mail (when
// n has an outbox) in one transaction. The provider need not be
// configured yet (an operator may pre-link before it is). An identity
// opens one account only: ErrLinkedHere or ErrLinkedElsewhere when it is
// linked already.
func Link(ctx context.Context, st storage.Storage, a storage.Account, provider, subject, by string, m account.Meta, now time.Time, n *Notice) error {
	if !plain(provider) || !plain(subject) {
		return ErrBadSubject
	}
	now = now.UTC()
	return st.InTx(ctx, func(tx storage.Storage) error {
		old, err := tx.GetFederatedLink(ctx, provider, subject)
		switch {
		case err == nil && old.AccountID == a.ID:
			return ErrLinkedHere
		case err == nil:
			return ErrLinkedElsewhere
		case !errors.Is(err, storage.ErrNotFound):
			return err
		}
		if err := tx.CreateFederatedLink(ctx, storage.FederatedLink{Provider: provider, Subject: subject, AccountID: a.ID, LinkedBy: by, LinkedAt: now}); err != nil {
			if errors.Is(err, storage.ErrConflict) {
				return ErrLinkedElsewhere
			}
			return fmt.Errorf("federation: link: %w", err)
		}
		e := storage.Event{Kind: EventLinked, AccountID: a.ID, Email: a.Email, Reason: by + ", " + provider,
			Time: now, ClientIP: m.ClientIP, UserAgent: m.UserAgent, Ref: m.Ref}
		if err := tx.AppendEvent(ctx, e); err != nil {
			return err
		}
		if n == nil || n.Outbox == nil {
			return nil
		}
		msg := mail.HomeOrganisationLinked{Name: a.GivenName, Provider: n.ProviderName, When: now,
			ResetLink: n.PublicURL + "/password/forgot?email=" + url.QueryEscape(a.Email)}
		return n.Outbox.Enqueue(ctx, tx, a.Email, langOf(a, m), msg)
	})
}

func langOf(a storage.Account, m account.Meta) string {
	switch {
	case a.Locale != "":
		return a.Locale
	case m.Lang != "":
		return m.Lang
	}
	return "en"
}

func plain(s string) bool {
	if s == "" || len(s) > 255 || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

func utf8Valid(s string) bool { return utf8.ValidString(s) }

func (s *Service) event(ctx context.Context, m account.Meta, e storage.Event) {
	e.Time, e.ClientIP, e.UserAgent, e.Ref = s.cfg.Now().UTC(), m.ClientIP, m.UserAgent, m.Ref
	if err := s.cfg.Store.AppendEvent(ctx, e); err != nil {
		s.cfg.Logger.ErrorContext(ctx, "audit event not recorded", "kind", e.Kind, "error", err)
	}
}
