package provision

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/portti/portti/internal/provision/scim"
	"github.com/portti/portti/internal/storage"
)

// The rules by which a registry's word becomes an account, shared by the
// SCIM handlers and the CSV import so that both sources create, change
// and disable accounts the same way: createAccount, nextRecord with
// applyAccount, and bindIdentifier. Each runs inside the caller's
// transaction.

// IdentifierHasher turns a registry identifier into the keyed hash kept
// in account_identities (proofing.Hasher); nil when no key encryption key
// is configured, and then an identifier is refused rather than dropped.
type IdentifierHasher interface {
	Hash(identifier string) (string, error)
}

// ProviderRegistry is the Provider of an identity a registry bound.
const ProviderRegistry = "registry"

// errNoHasher: an identifier was sent but cannot be stored.
var errNoHasher = scim.Errorf(http.StatusBadRequest, scim.InvalidValue,
	"%s:registryIdentifier cannot be stored: portti has no key_encryption_key to hash it with", scim.PorttiSchema)

// createAccount creates the account and its registry record from f.
func (s *Server) createAccount(ctx context.Context, tx storage.Storage, f userFields, source string, now time.Time) (storage.ProvisionedAccount, error) {
	if err := checkUnique(ctx, tx, "", f); err != nil {
		return storage.ProvisionedAccount{}, err
	}
	id := newID()
	a := storage.Account{ID: id, Email: f.email, GivenName: f.givenName, FamilyName: f.familyName,
		Locale: f.locale, Disabled: !f.active, CreatedAt: now, UpdatedAt: now}
	if err := tx.CreateAccount(ctx, a); err != nil {
		if errors.Is(err, storage.ErrConflict) {
			return storage.ProvisionedAccount{}, conflict("userName is taken")
		}
		return storage.ProvisionedAccount{}, err
	}
	p := f.p
	p.AccountID, p.Extra, p.CreatedAt, p.UpdatedAt = id, f.extra, now, now
	p.State = s.cfg.Policy.State(f.active, p.StartsAt, p.EndsAt, now)
	p.Source, p.DueAt = source, s.cfg.Policy.Due(p)
	if err := tx.CreateProvisioned(ctx, p); err != nil {
		if errors.Is(err, storage.ErrConflict) {
			return storage.ProvisionedAccount{}, conflict("externalId is taken")
		}
		return storage.ProvisionedAccount{}, err
	}
	p.Version = 1
	if err := s.bindIdentifier(ctx, tx, id, f.identifier, now); err != nil {
		return storage.ProvisionedAccount{}, err
	}
	if s.cfg.Invite != nil {
		if err := s.cfg.Invite(ctx, tx, a, p); err != nil {
			return storage.ProvisionedAccount{}, err
		}
	}
	return storage.ProvisionedAccount{Account: a, Provisioned: p}, nil
}

// nextRecord is the registry record f makes of cur: the lifecycle's own
// marks stay; the state and what is due follow the new flag and dates.
func (s *Server) nextRecord(id string, cur storage.Provisioned, f userFields, source string, now time.Time) storage.Provisioned {
	p := f.p
	p.AccountID, p.Extra = id, f.extra
	p.State = s.cfg.Policy.State(f.active, f.p.StartsAt, f.p.EndsAt, now)
	p.CreatedAt, p.UpdatedAt = cur.CreatedAt, now
	p.EndNoticeAt, p.DeletedAt = cur.EndNoticeAt, cur.DeletedAt
	p.Source, p.DueAt = source, s.cfg.Policy.Due(p)
	return p
}

// applyAccount changes the account as f says after its record went from
// oldState to newState: the login name and names, and the registry's own
// disabling (an operator's stays). A newly disabled account's sessions
// end. It binds f's identifier, if any.
func (s *Server) applyAccount(ctx context.Context, tx storage.Storage, id string, f userFields, oldState, newState string, now time.Time) (storage.Account, error) {
	wasDisabled := oldState == storage.ProvisionDisabled
	a, err := tx.UpdateAccount(ctx, id, func(a storage.Account) (storage.Account, error) {
		if a.Email != f.email {
			// The login name changes at once: the registry is the
			// source of truth for a provisioned address.
			a.PendingEmail = ""
		}
		a.Email, a.GivenName, a.FamilyName = f.email, f.givenName, f.familyName
		if f.locale != "" {
			a.Locale = f.locale
		}
		if newState == storage.ProvisionDisabled && !wasDisabled {
			a.Disabled = true
		} else if newState != storage.ProvisionDisabled && wasDisabled {
			a.Disabled = false
		}
		a.UpdatedAt = now
		return a, nil
	})
	if errors.Is(err, storage.ErrConflict) {
		return a, conflict("userName is taken")
	}
	if err != nil {
		return a, err
	}
	if newState == storage.ProvisionDisabled && !wasDisabled {
		// A disabled account's browsers are signed out. Telling the
		// applications (back-channel logout) is not built yet.
		if _, err := tx.DeleteSessions(ctx, id, ""); err != nil {
			return a, err
		}
	}
	return a, s.bindIdentifier(ctx, tx, id, f.identifier, now)
}

// bindIdentifier stores the registry identifier as proofing's keyed hash
// (never the identifier itself); "" leaves the binding as it is.
func (s *Server) bindIdentifier(ctx context.Context, tx storage.Storage, id, identifier string, now time.Time) error {
	if identifier == "" {
		return nil
	}
	if s.cfg.Identifiers == nil {
		return errNoHasher
	}
	h, err := s.cfg.Identifiers.Hash(identifier)
	if err != nil {
		return scim.BadRequest(scim.InvalidValue, "%s:registryIdentifier: %v", scim.PorttiSchema, err)
	}
	if cur, err := tx.GetIdentity(ctx, id); err == nil && cur.Identity == h {
		return nil
	} else if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return err
	}
	return tx.BindIdentity(ctx, storage.ProofedIdentity{AccountID: id, Identity: h, Provider: ProviderRegistry, BoundAt: now})
}

// inviteOnChange invites the person (Config.Invite) when a change makes
// a pending or disabled account usable.
func (s *Server) inviteOnChange(ctx context.Context, tx storage.Storage, a storage.Account, p storage.Provisioned, oldState, newState string) error {
	if s.cfg.Invite == nil || !Usable(newState) || (oldState != storage.ProvisionPending && oldState != storage.ProvisionDisabled) {
		return nil
	}
	return s.cfg.Invite(ctx, tx, a, p)
}

// Usable: an account in this state can be signed in to.
func Usable(state string) bool {
	return state == storage.ProvisionActive || state == storage.ProvisionGrace
}
