package sqlstore

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/portti/portti/internal/storage"
)

// Provisioned accounts and groups (storage.ProvisionStorage). Error
// messages name records by ID, never by e-mail address or external ID
// (the registry's identifier may be personal data).

const (
	provisionedColumns = `account_id, external_id, user_type, state, starts_at, ends_at,
	display_name, nick_name, title, employee_number, organization, department,
	manager, extra, version, created_at, updated_at, source, due_at, end_notice_at, deleted_at`
	// provisionedColumnsP is provisionedColumns qualified for a join.
	provisionedColumnsP = `p.account_id, p.external_id, p.user_type, p.state, p.starts_at, p.ends_at,
	p.display_name, p.nick_name, p.title, p.employee_number, p.organization, p.department,
	p.manager, p.extra, p.version, p.created_at, p.updated_at, p.source, p.due_at, p.end_notice_at, p.deleted_at`

	insertProvisioned = `INSERT INTO provisioned_accounts (` + provisionedColumns + `)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)`
	updateProvisioned = `UPDATE provisioned_accounts SET external_id = $2, user_type = $3,
	state = $4, starts_at = $5, ends_at = $6, display_name = $7, nick_name = $8,
	title = $9, employee_number = $10, organization = $11, department = $12,
	manager = $13, extra = $14, version = $15, created_at = $16, updated_at = $17,
	source = $18, due_at = $19, end_notice_at = $20, deleted_at = $21
	WHERE account_id = $1`
	selectProvisionedRow = `SELECT ` + provisionedColumns + ` FROM provisioned_accounts WHERE account_id = $1`

	provisionedJoin = `SELECT a.id, a.email, a.given_name, a.family_name, a.phone_number,
	a.street_address, a.postal_code, a.locality, a.locale,
	a.password_hash, a.password_changed_at, a.activated_at, a.disabled,
	a.failed_logins, a.locked_until, a.terms_version, a.terms_accepted_at,
	a.pending_email, a.created_at, a.updated_at, ` + provisionedColumnsP + `
	FROM provisioned_accounts p JOIN accounts a ON a.id = p.account_id`
	selectProvisioned           = provisionedJoin + ` WHERE p.account_id = $1`
	selectProvisionedByExternal = provisionedJoin + ` WHERE p.external_id = $1 AND p.external_id <> ''`
	listProvisioned             = provisionedJoin + ` WHERE p.account_id > $1 ORDER BY p.account_id LIMIT $2`
	listProvisionedDue          = provisionedJoin + ` WHERE p.due_at > 0 AND p.due_at <= $1 ORDER BY p.due_at, p.account_id LIMIT $2`
	deleteProvisionedAccount    = `DELETE FROM accounts WHERE id = $1
	AND EXISTS (SELECT 1 FROM provisioned_accounts WHERE account_id = $1)`

	groupColumns = `id, display_name, external_id, version, created_at, updated_at`
	insertGroup  = `INSERT INTO account_groups (` + groupColumns + `) VALUES ($1, $2, $3, $4, $5, $6)`
	updateGroup  = `UPDATE account_groups SET display_name = $2, external_id = $3,
	version = $4, created_at = $5, updated_at = $6 WHERE id = $1`
	selectGroup       = `SELECT ` + groupColumns + ` FROM account_groups WHERE id = $1`
	listGroups        = `SELECT ` + groupColumns + ` FROM account_groups WHERE id > $1 ORDER BY id LIMIT $2`
	deleteGroup       = `DELETE FROM account_groups WHERE id = $1`
	selectMembers     = `SELECT account_id FROM group_members WHERE group_id = $1 ORDER BY account_id`
	insertMember      = `INSERT INTO group_members (group_id, account_id) VALUES ($1, $2)`
	deleteMember      = `DELETE FROM group_members WHERE group_id = $1 AND account_id = $2`
	listAccountGroups = `SELECT g.id, g.display_name, g.external_id, g.version, g.created_at, g.updated_at
	FROM group_members m JOIN account_groups g ON g.id = m.group_id
	WHERE m.account_id = $1 ORDER BY g.display_name, g.id`
)

func provisionedArgs(p storage.Provisioned) []any {
	return []any{
		p.AccountID, p.ExternalID, p.UserType, p.State, dbTime(p.StartsAt), dbTime(p.EndsAt),
		p.DisplayName, p.NickName, p.Title, p.EmployeeNumber, p.Organization, p.Department,
		p.Manager, dbBytes(p.Extra), p.Version, dbTime(p.CreatedAt), dbTime(p.UpdatedAt),
		p.Source, dbTime(p.DueAt), dbTime(p.EndNoticeAt), dbTime(p.DeletedAt),
	}
}

// provisionedScan holds the destinations of one row's provisionedColumns.
type provisionedScan struct {
	p                              storage.Provisioned
	starts, ends, created, updated int64
	due, notice, deleted           int64
}

func (ps *provisionedScan) dest() []any {
	p := &ps.p
	return []any{
		&p.AccountID, &p.ExternalID, &p.UserType, &p.State, &ps.starts, &ps.ends,
		&p.DisplayName, &p.NickName, &p.Title, &p.EmployeeNumber, &p.Organization, &p.Department,
		&p.Manager, &p.Extra, &p.Version, &ps.created, &ps.updated,
		&p.Source, &ps.due, &ps.notice, &ps.deleted,
	}
}

func (ps *provisionedScan) provisioned() storage.Provisioned {
	p := ps.p
	p.StartsAt, p.EndsAt = goTime(ps.starts), goTime(ps.ends)
	p.CreatedAt, p.UpdatedAt = goTime(ps.created), goTime(ps.updated)
	p.DueAt, p.EndNoticeAt, p.DeletedAt = goTime(ps.due), goTime(ps.notice), goTime(ps.deleted)
	p.Extra = nonNil(p.Extra)
	return p
}

func scanProvisionedRow(r scanner) (storage.Provisioned, error) {
	var ps provisionedScan
	if err := r.Scan(ps.dest()...); err != nil {
		return storage.Provisioned{}, classify(err)
	}
	return ps.provisioned(), nil
}

func scanProvisionedAccount(r scanner) (storage.ProvisionedAccount, error) {
	var (
		as accountScan
		ps provisionedScan
	)
	if err := r.Scan(append(as.dest(), ps.dest()...)...); err != nil {
		return storage.ProvisionedAccount{}, classify(err)
	}
	return storage.ProvisionedAccount{Account: as.account(), Provisioned: ps.provisioned()}, nil
}

// CreateProvisioned implements storage.ProvisionStorage.
func (s *Store) CreateProvisioned(ctx context.Context, p storage.Provisioned) error {
	p.Version = 1
	if _, err := s.exec(ctx, insertProvisioned, provisionedArgs(p)...); err != nil {
		return fmt.Errorf("sqlstore: create registry record of account %q: %w", p.AccountID, err)
	}
	return nil
}

// GetProvisioned implements storage.ProvisionStorage.
func (s *Store) GetProvisioned(ctx context.Context, accountID string) (storage.ProvisionedAccount, error) {
	pa, err := scanProvisionedAccount(s.q.QueryRowContext(ctx, selectProvisioned, accountID))
	if err != nil {
		return pa, fmt.Errorf("sqlstore: get provisioned account %q: %w", accountID, err)
	}
	return pa, nil
}

// GetProvisionedByExternalID implements storage.ProvisionStorage.
func (s *Store) GetProvisionedByExternalID(ctx context.Context, externalID string) (storage.ProvisionedAccount, error) {
	pa, err := scanProvisionedAccount(s.q.QueryRowContext(ctx, selectProvisionedByExternal, externalID))
	if err != nil {
		return pa, fmt.Errorf("sqlstore: get provisioned account by external ID: %w", err)
	}
	return pa, nil
}

// UpdateProvisioned implements storage.ProvisionStorage.
func (s *Store) UpdateProvisioned(ctx context.Context, accountID string, fn func(storage.Provisioned) (storage.Provisioned, error)) (storage.Provisioned, error) {
	var out storage.Provisioned
	err := s.withTx(ctx, func(tx *Store) error {
		old, err := scanProvisionedRow(tx.q.QueryRowContext(ctx, selectProvisionedRow+tx.forUpdate(), accountID))
		if err != nil {
			return fmt.Errorf("sqlstore: update registry record of account %q: %w", accountID, err)
		}
		p, err := fn(old)
		if err != nil {
			return err
		}
		if p.AccountID != old.AccountID {
			return fmt.Errorf("sqlstore: update registry record of account %q: the update changed the account", accountID)
		}
		p.Version = old.Version + 1
		if _, err := tx.exec(ctx, updateProvisioned, provisionedArgs(p)...); err != nil {
			return fmt.Errorf("sqlstore: update registry record of account %q: %w", accountID, err)
		}
		p.StartsAt, p.EndsAt = roundTrip(p.StartsAt), roundTrip(p.EndsAt)
		p.CreatedAt, p.UpdatedAt = roundTrip(p.CreatedAt), roundTrip(p.UpdatedAt)
		p.DueAt, p.EndNoticeAt, p.DeletedAt = roundTrip(p.DueAt), roundTrip(p.EndNoticeAt), roundTrip(p.DeletedAt)
		p.Extra = nonNil(p.Extra)
		out = p
		return nil
	})
	if err != nil {
		return storage.Provisioned{}, err
	}
	return out, nil
}

// ListProvisioned implements storage.ProvisionStorage.
func (s *Store) ListProvisioned(ctx context.Context, afterID string, limit int) ([]storage.ProvisionedAccount, error) {
	out, err := queryAll(ctx, s.q, scanProvisionedAccount, listProvisioned, afterID, limitOrDefault(limit))
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list provisioned accounts: %w", err)
	}
	return out, nil
}

// ListProvisionedDue implements storage.ProvisionStorage.
func (s *Store) ListProvisionedDue(ctx context.Context, now time.Time, limit int) ([]storage.ProvisionedAccount, error) {
	out, err := queryAll(ctx, s.q, scanProvisionedAccount, listProvisionedDue, dbTime(now), limitOrDefault(limit))
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list provisioned accounts due: %w", err)
	}
	return out, nil
}

// DeleteProvisionedAccount implements storage.ProvisionStorage.
func (s *Store) DeleteProvisionedAccount(ctx context.Context, accountID string) error {
	n, err := s.exec(ctx, deleteProvisionedAccount, accountID)
	if err != nil {
		return fmt.Errorf("sqlstore: delete provisioned account %q: %w", accountID, err)
	}
	if n == 0 {
		return fmt.Errorf("sqlstore: delete provisioned account %q: %w", accountID, storage.ErrNotFound)
	}
	return nil
}

func groupArgs(g storage.Group) []any {
	return []any{g.ID, g.DisplayName, g.ExternalID, g.Version, dbTime(g.CreatedAt), dbTime(g.UpdatedAt)}
}

func scanGroup(r scanner) (storage.Group, error) {
	var (
		g                storage.Group
		created, updated int64
	)
	if err := r.Scan(&g.ID, &g.DisplayName, &g.ExternalID, &g.Version, &created, &updated); err != nil {
		return storage.Group{}, classify(err)
	}
	g.CreatedAt, g.UpdatedAt = goTime(created), goTime(updated)
	return g, nil
}

func scanString(r scanner) (string, error) {
	var v string
	err := r.Scan(&v)
	return v, classify(err)
}

// sortedMembers returns the members sorted, without duplicates.
func sortedMembers(m []string) []string {
	out := slices.Clone(m)
	slices.Sort(out)
	return slices.Compact(out)
}

// CreateGroup implements storage.ProvisionStorage.
func (s *Store) CreateGroup(ctx context.Context, g storage.Group) error {
	g.Version = 1
	return s.withTx(ctx, func(tx *Store) error {
		if _, err := tx.exec(ctx, insertGroup, groupArgs(g)...); err != nil {
			return fmt.Errorf("sqlstore: create group %q: %w", g.ID, err)
		}
		for _, m := range sortedMembers(g.Members) {
			if _, err := tx.exec(ctx, insertMember, g.ID, m); err != nil {
				return fmt.Errorf("sqlstore: create group %q: member %q: %w", g.ID, m, err)
			}
		}
		return nil
	})
}

func (s *Store) groupWithMembers(ctx context.Context, query, id string) (storage.Group, error) {
	g, err := scanGroup(s.q.QueryRowContext(ctx, query, id))
	if err != nil {
		return g, err
	}
	g.Members, err = queryAll(ctx, s.q, scanString, selectMembers, id)
	return g, err
}

// GetGroup implements storage.ProvisionStorage.
func (s *Store) GetGroup(ctx context.Context, id string) (storage.Group, error) {
	g, err := s.groupWithMembers(ctx, selectGroup, id)
	if err != nil {
		return storage.Group{}, fmt.Errorf("sqlstore: get group %q: %w", id, err)
	}
	return g, nil
}

// UpdateGroup implements storage.ProvisionStorage. Only the difference
// in members is written, so a PATCH adding one member to a large group
// costs one insert.
func (s *Store) UpdateGroup(ctx context.Context, id string, fn func(storage.Group) (storage.Group, error)) (storage.Group, error) {
	var out storage.Group
	err := s.withTx(ctx, func(tx *Store) error {
		old, err := tx.groupWithMembers(ctx, selectGroup+tx.forUpdate(), id)
		if err != nil {
			return fmt.Errorf("sqlstore: update group %q: %w", id, err)
		}
		g, err := fn(storage.Group{ID: old.ID, DisplayName: old.DisplayName, ExternalID: old.ExternalID,
			Members: slices.Clone(old.Members), Version: old.Version, CreatedAt: old.CreatedAt, UpdatedAt: old.UpdatedAt})
		if err != nil {
			return err
		}
		if g.ID != old.ID {
			return fmt.Errorf("sqlstore: update group %q: the update changed the ID", id)
		}
		g.Version = old.Version + 1
		g.Members = sortedMembers(g.Members)
		if _, err := tx.exec(ctx, updateGroup, groupArgs(g)...); err != nil {
			return fmt.Errorf("sqlstore: update group %q: %w", id, err)
		}
		for _, m := range old.Members {
			if _, found := slices.BinarySearch(g.Members, m); !found {
				if _, err := tx.exec(ctx, deleteMember, id, m); err != nil {
					return fmt.Errorf("sqlstore: update group %q: remove member %q: %w", id, m, err)
				}
			}
		}
		for _, m := range g.Members {
			if _, found := slices.BinarySearch(old.Members, m); !found {
				if _, err := tx.exec(ctx, insertMember, id, m); err != nil {
					return fmt.Errorf("sqlstore: update group %q: add member %q: %w", id, m, err)
				}
			}
		}
		g.CreatedAt, g.UpdatedAt = roundTrip(g.CreatedAt), roundTrip(g.UpdatedAt)
		out = g
		return nil
	})
	if err != nil {
		return storage.Group{}, err
	}
	return out, nil
}

// DeleteGroup implements storage.ProvisionStorage.
func (s *Store) DeleteGroup(ctx context.Context, id string) error {
	n, err := s.exec(ctx, deleteGroup, id)
	if err != nil {
		return fmt.Errorf("sqlstore: delete group %q: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("sqlstore: delete group %q: %w", id, storage.ErrNotFound)
	}
	return nil
}

// ListGroups implements storage.ProvisionStorage.
func (s *Store) ListGroups(ctx context.Context, afterID string, limit int) ([]storage.Group, error) {
	out, err := queryAll(ctx, s.q, scanGroup, listGroups, afterID, limitOrDefault(limit))
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list groups: %w", err)
	}
	for i := range out {
		out[i].Members, err = queryAll(ctx, s.q, scanString, selectMembers, out[i].ID)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: list groups: members of %q: %w", out[i].ID, err)
		}
	}
	return out, nil
}

// ListAccountGroups implements storage.ProvisionStorage.
func (s *Store) ListAccountGroups(ctx context.Context, accountID string) ([]storage.Group, error) {
	out, err := queryAll(ctx, s.q, scanGroup, listAccountGroups, accountID)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list groups of account %q: %w", accountID, err)
	}
	return out, nil
}

// The waitlist (storage.ProvisionStorage). Addresses stay out of error
// messages.

const (
	putWaitlist = `INSERT INTO provision_waitlist (email, locale, created_at, expires_at) VALUES ($1, $2, $3, $4)
	ON CONFLICT (email) DO UPDATE SET locale = excluded.locale, created_at = excluded.created_at, expires_at = excluded.expires_at`
	takeWaitlist = `DELETE FROM provision_waitlist WHERE email = $1 AND expires_at > $2
	RETURNING email, locale, created_at, expires_at`
)

// PutWaitlist implements storage.ProvisionStorage.
func (s *Store) PutWaitlist(ctx context.Context, e storage.WaitlistEntry) error {
	if _, err := s.exec(ctx, putWaitlist, e.Email, e.Locale, dbTime(e.CreatedAt), dbTime(e.ExpiresAt)); err != nil {
		return fmt.Errorf("sqlstore: put waitlist entry: %w", err)
	}
	return nil
}

// TakeWaitlist implements storage.ProvisionStorage.
func (s *Store) TakeWaitlist(ctx context.Context, email string, now time.Time) (storage.WaitlistEntry, error) {
	var (
		e                storage.WaitlistEntry
		created, expires int64
	)
	err := s.write(ctx, func(q querier) error {
		return classify(q.QueryRowContext(ctx, takeWaitlist, email, dbTime(now)).Scan(&e.Email, &e.Locale, &created, &expires))
	})
	if err != nil {
		return storage.WaitlistEntry{}, fmt.Errorf("sqlstore: take waitlist entry: %w", err)
	}
	e.CreatedAt, e.ExpiresAt = goTime(created), goTime(expires)
	return e, nil
}
