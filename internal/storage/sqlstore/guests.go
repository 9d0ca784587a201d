package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/portti/portti/internal/storage"
)

// Guest invitations (storage.GuestStorage). Error messages name an
// invitation by its ID, never by its token hash or address.

const (
	invitationColumns = `id, token_hash, email, locale, note, invited_by, inviter, ends_at, expires_at, created_at, accepted_at, account_id`
	insertInvitation  = `INSERT INTO guest_invitations (` + invitationColumns + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`
	selectInvitation  = `SELECT ` + invitationColumns + ` FROM guest_invitations WHERE token_hash = $1`
	// The accepted_at = 0 guard makes the link single use even when two
	// requests race: only one UPDATE matches.
	acceptInvitation   = `UPDATE guest_invitations SET accepted_at = $2, account_id = $3 WHERE id = $1 AND accepted_at = 0`
	invitationExists   = `SELECT COUNT(*) FROM guest_invitations WHERE id = $1`
	listInvitationsAll = `SELECT ` + invitationColumns + ` FROM guest_invitations ORDER BY created_at DESC, id LIMIT $1`
	listInvitationsBy  = `SELECT ` + invitationColumns + ` FROM guest_invitations WHERE invited_by = $2 ORDER BY created_at DESC, id LIMIT $1`
)

func scanInvitation(r scanner) (storage.Invitation, error) {
	var (
		inv                              storage.Invitation
		ends, expires, created, accepted int64
	)
	if err := r.Scan(&inv.ID, &inv.TokenHash, &inv.Email, &inv.Locale, &inv.Note, &inv.InvitedBy, &inv.Inviter,
		&ends, &expires, &created, &accepted, &inv.AccountID); err != nil {
		return storage.Invitation{}, classify(err)
	}
	inv.EndsAt, inv.ExpiresAt, inv.CreatedAt, inv.AcceptedAt = goTime(ends), goTime(expires), goTime(created), goTime(accepted)
	return inv, nil
}

// CreateInvitation implements storage.GuestStorage.
func (s *Store) CreateInvitation(ctx context.Context, inv storage.Invitation) error {
	if inv.ID == "" || inv.TokenHash == "" || inv.Email == "" || inv.EndsAt.IsZero() || inv.ExpiresAt.IsZero() {
		return fmt.Errorf("sqlstore: create invitation: id, token hash, email, end and expiry are required")
	}
	if _, err := s.exec(ctx, insertInvitation, inv.ID, inv.TokenHash, inv.Email, inv.Locale, inv.Note, inv.InvitedBy, inv.Inviter,
		dbTime(inv.EndsAt), dbTime(inv.ExpiresAt), dbTime(inv.CreatedAt), dbTime(inv.AcceptedAt), inv.AccountID); err != nil {
		return fmt.Errorf("sqlstore: create invitation %q: %w", inv.ID, err)
	}
	return nil
}

// GetInvitationByToken implements storage.GuestStorage.
func (s *Store) GetInvitationByToken(ctx context.Context, hash string) (storage.Invitation, error) {
	inv, err := scanInvitation(s.q.QueryRowContext(ctx, selectInvitation, hash))
	if err != nil {
		return inv, fmt.Errorf("sqlstore: invitation by link: %w", err)
	}
	return inv, nil
}

// AcceptInvitation implements storage.GuestStorage.
func (s *Store) AcceptInvitation(ctx context.Context, id, accountID string, at time.Time) error {
	if accountID == "" || at.IsZero() {
		return fmt.Errorf("sqlstore: accept invitation %q: account and time are required", id)
	}
	n, err := s.exec(ctx, acceptInvitation, id, dbTime(at), accountID)
	if err != nil {
		return fmt.Errorf("sqlstore: accept invitation %q: %w", id, err)
	}
	if n == 1 {
		return nil
	}
	var count int
	if err := s.q.QueryRowContext(ctx, invitationExists, id).Scan(&count); err != nil {
		return fmt.Errorf("sqlstore: accept invitation %q: %w", id, classify(err))
	}
	if count == 0 {
		return fmt.Errorf("sqlstore: accept invitation %q: %w", id, storage.ErrNotFound)
	}
	return fmt.Errorf("sqlstore: accept invitation %q: used already: %w", id, storage.ErrConflict)
}

// ListInvitations implements storage.GuestStorage.
func (s *Store) ListInvitations(ctx context.Context, invitedBy string, limit int) ([]storage.Invitation, error) {
	if limit <= 0 {
		limit = 100
	}
	var (
		out []storage.Invitation
		err error
	)
	if invitedBy == "" {
		out, err = queryAll(ctx, s.q, scanInvitation, listInvitationsAll, limit)
	} else {
		out, err = queryAll(ctx, s.q, scanInvitation, listInvitationsBy, limit, invitedBy)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list invitations: %w", err)
	}
	return out, nil
}
