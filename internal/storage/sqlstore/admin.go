package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/portti/portti/internal/storage"
)

// The helpdesk console's tables (storage.AdminStorage): staff roles,
// notices, staff sessions' last console use, and its look-ups of accounts
// and events.

const (
	insertRole = `INSERT INTO staff_roles (account_id, role, granted_at, granted_by)
	VALUES ($1, $2, $3, $4) ON CONFLICT (account_id, role) DO NOTHING`
	deleteRole       = `DELETE FROM staff_roles WHERE account_id = $1 AND role = $2`
	roleColumns      = `account_id, role, granted_at, granted_by`
	listRoles        = `SELECT ` + roleColumns + ` FROM staff_roles ORDER BY account_id, role`
	listAccountRoles = `SELECT ` + roleColumns + ` FROM staff_roles WHERE account_id = $1 ORDER BY role`

	noticeColumns = `id, starts_at, ends_at, text_fi, text_sv, text_en, created_at, created_by`
	insertNotice  = `INSERT INTO notices (` + noticeColumns + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`
	listNotices   = `SELECT ` + noticeColumns + ` FROM notices ORDER BY starts_at, id`
	activeNotices = `SELECT ` + noticeColumns + ` FROM notices
	WHERE starts_at <= $1 AND ends_at > $1 ORDER BY starts_at, id`
	deleteNotice = `DELETE FROM notices WHERE id = $1`

	// LOWER on both sides: SQLite's LIKE ignores ASCII case, PostgreSQL's
	// does not. The pattern comes lower-cased and escaped from Go.
	searchAccounts = `SELECT ` + accountColumns + ` FROM accounts
	WHERE email LIKE $1 ESCAPE '\'
	   OR LOWER(given_name) LIKE $1 ESCAPE '\'
	   OR LOWER(family_name) LIKE $1 ESCAPE '\'
	   OR LOWER(given_name || ' ' || family_name) LIKE $1 ESCAPE '\'
	ORDER BY email LIMIT $2`
	selectEventByRef = `SELECT ` + eventColumns + ` FROM events WHERE ref = $1 ORDER BY id DESC LIMIT 1`
	listEventsBefore = `SELECT ` + eventColumns + ` FROM events WHERE account_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3`
	selectStaffSeen  = `SELECT seen_at FROM staff_sessions WHERE session_id = $1`
	upsertStaffSeen  = `INSERT INTO staff_sessions (session_id, seen_at) VALUES ($1, $2)
	ON CONFLICT (session_id) DO UPDATE SET seen_at = excluded.seen_at`
	maxEventID = int64(1<<63 - 1)
)

// GrantRole implements storage.AdminStorage.
func (s *Store) GrantRole(ctx context.Context, r storage.StaffRole) error {
	if _, err := s.exec(ctx, insertRole, r.AccountID, r.Role, dbTime(r.GrantedAt), r.GrantedBy); err != nil {
		// An unknown account is a foreign key violation: ErrNotFound.
		return fmt.Errorf("sqlstore: grant role %q to account %q: %w", r.Role, r.AccountID, err)
	}
	return nil
}

// RevokeRole implements storage.AdminStorage.
func (s *Store) RevokeRole(ctx context.Context, accountID, role string) error {
	n, err := s.exec(ctx, deleteRole, accountID, role)
	if err == nil && n == 0 {
		err = storage.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("sqlstore: revoke role %q of account %q: %w", role, accountID, err)
	}
	return nil
}

func scanRole(r scanner) (storage.StaffRole, error) {
	var (
		sr storage.StaffRole
		at int64
	)
	if err := r.Scan(&sr.AccountID, &sr.Role, &at, &sr.GrantedBy); err != nil {
		return sr, classify(err)
	}
	sr.GrantedAt = goTime(at)
	return sr, nil
}

// ListRoles implements storage.AdminStorage.
func (s *Store) ListRoles(ctx context.Context, accountID string) ([]storage.StaffRole, error) {
	var (
		out []storage.StaffRole
		err error
	)
	if accountID == "" {
		out, err = queryAll(ctx, s.q, scanRole, listRoles)
	} else {
		out, err = queryAll(ctx, s.q, scanRole, listAccountRoles, accountID)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list roles: %w", err)
	}
	return out, nil
}

func scanNotice(r scanner) (storage.Notice, error) {
	var (
		n                   storage.Notice
		start, end, created int64
	)
	if err := r.Scan(&n.ID, &start, &end, &n.TextFI, &n.TextSV, &n.TextEN, &created, &n.CreatedBy); err != nil {
		return n, classify(err)
	}
	n.StartsAt, n.EndsAt, n.CreatedAt = goTime(start), goTime(end), goTime(created)
	return n, nil
}

// CreateNotice implements storage.AdminStorage.
func (s *Store) CreateNotice(ctx context.Context, n storage.Notice) error {
	_, err := s.exec(ctx, insertNotice, n.ID, dbTime(n.StartsAt), dbTime(n.EndsAt),
		n.TextFI, n.TextSV, n.TextEN, dbTime(n.CreatedAt), n.CreatedBy)
	if err != nil {
		return fmt.Errorf("sqlstore: create notice %q: %w", n.ID, err)
	}
	return nil
}

// ListNotices implements storage.AdminStorage.
func (s *Store) ListNotices(ctx context.Context) ([]storage.Notice, error) {
	out, err := queryAll(ctx, s.q, scanNotice, listNotices)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list notices: %w", err)
	}
	return out, nil
}

// ActiveNotices implements storage.AdminStorage.
func (s *Store) ActiveNotices(ctx context.Context, now time.Time) ([]storage.Notice, error) {
	out, err := queryAll(ctx, s.q, scanNotice, activeNotices, dbTime(now))
	if err != nil {
		return nil, fmt.Errorf("sqlstore: active notices: %w", err)
	}
	return out, nil
}

// DeleteNotice implements storage.AdminStorage.
func (s *Store) DeleteNotice(ctx context.Context, id string) error {
	n, err := s.exec(ctx, deleteNotice, id)
	if err == nil && n == 0 {
		err = storage.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("sqlstore: delete notice %q: %w", id, err)
	}
	return nil
}

// likeEscaper makes a search string literal inside a LIKE pattern.
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// SearchAccounts implements storage.AdminStorage.
func (s *Store) SearchAccounts(ctx context.Context, q string, limit int) ([]storage.Account, error) {
	pattern := "%" + likeEscaper.Replace(strings.ToLower(strings.TrimSpace(q))) + "%"
	out, err := queryAll(ctx, s.q, scanAccount, searchAccounts, pattern, limitOrDefault(limit))
	if err != nil {
		return nil, fmt.Errorf("sqlstore: search accounts: %w", err)
	}
	return out, nil
}

// EventByRef implements storage.AdminStorage.
func (s *Store) EventByRef(ctx context.Context, ref string) (storage.Event, error) {
	e, err := scanEvent(s.q.QueryRowContext(ctx, selectEventByRef, ref))
	if err != nil {
		return e, fmt.Errorf("sqlstore: event with reference %q: %w", ref, err)
	}
	return e, nil
}

// ListEventsBefore implements storage.AdminStorage.
func (s *Store) ListEventsBefore(ctx context.Context, accountID string, before int64, limit int) ([]storage.Event, error) {
	if before <= 0 {
		before = maxEventID
	}
	out, err := queryAll(ctx, s.q, scanEvent, listEventsBefore, accountID, before, limitOrDefault(limit))
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list events: %w", err)
	}
	return out, nil
}

// StaffSessionSeen implements storage.AdminStorage.
func (s *Store) StaffSessionSeen(ctx context.Context, sessionID string) (time.Time, error) {
	var at int64
	switch err := s.q.QueryRowContext(ctx, selectStaffSeen, sessionID).Scan(&at); {
	case err == nil:
		return goTime(at), nil
	case errors.Is(classify(err), storage.ErrNotFound):
		return time.Time{}, nil
	default:
		return time.Time{}, fmt.Errorf("sqlstore: staff session: %w", classify(err))
	}
}

// TouchStaffSession implements storage.AdminStorage.
func (s *Store) TouchStaffSession(ctx context.Context, sessionID string, now time.Time) error {
	if _, err := s.exec(ctx, upsertStaffSeen, sessionID, dbTime(now)); err != nil {
		// A session that is gone is a foreign key violation: ErrNotFound.
		return fmt.Errorf("sqlstore: staff session: %w", err)
	}
	return nil
}
