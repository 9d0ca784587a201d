package provision

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/portti/portti/internal/audit"
	"github.com/portti/portti/internal/storage"
)

// The lifecycle of a provisioned account (issue 11, point 3):
//
//	pending  → before its start date
//	active   → may be used; its owner is e-mailed Policy.Notices before the end date
//	grace    → after its end date, for Policy.Grace: can still sign in
//	disabled → sessions ended, applications told (back-channel logout)
//	deleted  → Policy.Retention after disabling: the account and its
//	           personal data removed, its audit events pseudonymised
//
// The registry's flag and dates decide the state (Policy.State), the
// same rule for SCIM, the CSV import and the worker; each record's DueAt
// says when the worker must look at it next (Policy.Due), so the worker
// reads only what is due, by an index.

// Policy is the lifecycle's timing.
type Policy struct {
	Grace     time.Duration // after the end date, still usable
	Retention time.Duration // after disabling at the end, data kept
	// Notices are how long before the end date the owner is e-mailed,
	// longest first (14 days, 3 days…).
	Notices []time.Duration
}

// NewPolicy is a Policy from whole days (provision.grace_days,
// retention_days, end_notice_days).
func NewPolicy(graceDays, retentionDays int, noticeDays []int) Policy {
	p := Policy{Grace: days(graceDays), Retention: days(retentionDays)}
	for _, n := range noticeDays {
		p.Notices = append(p.Notices, days(n))
	}
	slices.Sort(p.Notices)
	slices.Reverse(p.Notices)
	return p
}

func days(n int) time.Duration { return time.Duration(n) * 24 * time.Hour }

// State is the lifecycle state the registry's active flag and dates give
// at now.
func (po Policy) State(active bool, starts, ends, now time.Time) string {
	switch {
	case !active:
		return storage.ProvisionDisabled
	case !starts.IsZero() && now.Before(starts):
		return storage.ProvisionPending
	case !ends.IsZero() && !now.Before(ends.Add(po.Grace)):
		return storage.ProvisionDisabled
	case !ends.IsZero() && !now.Before(ends):
		return storage.ProvisionGrace
	}
	return storage.ProvisionActive
}

// Due is when a record next needs the worker: a pending account at its
// start date, an active one at its next notice not yet sent and then at
// its end date, one in grace at the end of it, one disabled by its end
// at the end of retention; zero for never (a registry's own disabling
// waits for the registry's DELETE).
func (po Policy) Due(p storage.Provisioned) time.Time {
	switch p.State {
	case storage.ProvisionPending:
		return p.StartsAt
	case storage.ProvisionActive:
		if p.EndsAt.IsZero() {
			return time.Time{}
		}
		if t, ok := po.nextNotice(p); ok {
			return t
		}
		return p.EndsAt
	case storage.ProvisionGrace:
		return p.EndsAt.Add(po.Grace)
	case storage.ProvisionDisabled:
		if !p.EndsAt.IsZero() {
			return p.EndsAt.Add(po.Grace).Add(po.Retention)
		}
	}
	return time.Time{}
}

// nextNotice is the earliest notice time of p's end not yet sent.
func (po Policy) nextNotice(p storage.Provisioned) (time.Time, bool) {
	for _, d := range po.Notices { // longest first: earliest first
		t := p.EndsAt.Add(-d)
		if p.EndNoticeAt.IsZero() || p.EndNoticeAt.Before(t) {
			return t, true
		}
	}
	return time.Time{}, false
}

// LifecycleConfig configures a Lifecycle.
type LifecycleConfig struct {
	Store  storage.Storage
	Audit  *audit.Recorder
	Policy Policy
	// Notify e-mails the owner that the account ends at ends (the first
	// day it no longer works is ends+Grace), inside tx, so that the
	// message is queued exactly when the notice is recorded.
	Notify func(ctx context.Context, tx storage.Storage, a storage.Account, ends time.Time) error
	// SessionsEnded tells the applications of ended sessions
	// (back-channel logout), after the commit.
	SessionsEnded func(ctx context.Context, sessionIDs []string)
	// Invite is Config.Invite: called when the start date makes a
	// pending account usable. Nil: nothing.
	Invite func(ctx context.Context, tx storage.Storage, a storage.Account, p storage.Provisioned) error
	Now    func() time.Time
	Logger *slog.Logger
	Every  time.Duration // how often Run looks; default a minute
}

// Lifecycle moves provisioned accounts through their states.
type Lifecycle struct{ cfg LifecycleConfig }

// NewLifecycle returns the worker; Run it in App.RunWorkers.
func NewLifecycle(cfg LifecycleConfig) *Lifecycle {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Every <= 0 {
		cfg.Every = time.Minute
	}
	return &Lifecycle{cfg: cfg}
}

// Audit event kinds of the lifecycle.
const (
	EventStateChanged  = "provision.state_changed"
	EventEndNotice     = "provision.end_notice"
	EventAccountPurged = "provision.account_deleted"
)

// Run steps every cfg.Every until ctx ends.
func (l *Lifecycle) Run(ctx context.Context) error {
	t := time.NewTicker(l.cfg.Every)
	defer t.Stop()
	for {
		if _, err := l.Step(ctx); err != nil && ctx.Err() == nil {
			l.cfg.Logger.WarnContext(ctx, "account lifecycle step failed", "error", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// stepBatch is how many due records a step reads at a time.
const stepBatch = 100

// errNotDue: another node (or a registry's change) got to the record
// first; nothing to do.
var errNotDue = errors.New("not due")

// Step handles every record due now and returns how many it changed.
// Several nodes may step at once: each record is re-read under its row
// lock (UpdateProvisioned) and skipped unless still due, and the change
// and its e-mail commit together, so each happens once.
func (l *Lifecycle) Step(ctx context.Context) (int, error) {
	now := l.cfg.Now().UTC()
	changed := 0
	for {
		due, err := l.cfg.Store.ListProvisionedDue(ctx, now, stepBatch)
		if err != nil {
			return changed, err
		}
		moved := 0
		for _, pa := range due {
			ok, err := l.advance(ctx, pa.Account.ID, now)
			if err != nil {
				return changed, fmt.Errorf("account %s: %w", pa.Account.ID, err)
			}
			if ok {
				changed++
				moved++
			}
		}
		if len(due) < stepBatch || moved == 0 {
			return changed, nil
		}
	}
}

// advance does what one due record needs.
func (l *Lifecycle) advance(ctx context.Context, id string, now time.Time) (bool, error) {
	var ended []string
	err := l.cfg.Store.InTx(ctx, func(tx storage.Storage) error {
		var old storage.Provisioned
		purge := false
		p, err := tx.UpdateProvisioned(ctx, id, func(cur storage.Provisioned) (storage.Provisioned, error) {
			old = cur
			if cur.DueAt.IsZero() || cur.DueAt.After(now) {
				return cur, errNotDue
			}
			next := cur
			if cur.State == storage.ProvisionDisabled {
				purge = true
				return cur, nil
			}
			next.State = l.cfg.Policy.State(true, cur.StartsAt, cur.EndsAt, now)
			if next.State == storage.ProvisionActive {
				if t, ok := l.cfg.Policy.nextNotice(cur); ok && !t.After(now) {
					next.EndNoticeAt = now
				}
			}
			next.UpdatedAt = now
			next.DueAt = l.cfg.Policy.Due(next)
			return next, nil
		})
		if err != nil {
			return err
		}
		if purge {
			return l.purge(ctx, tx, id)
		}
		a, err := tx.GetAccount(ctx, id)
		if err != nil {
			return err
		}
		if p.EndNoticeAt != old.EndNoticeAt && l.cfg.Notify != nil {
			if err := l.cfg.Notify(ctx, tx, a, p.EndsAt); err != nil {
				return err
			}
			if err := l.record(ctx, tx, EventEndNotice, id, "ends "+p.EndsAt.Format(time.DateOnly)); err != nil {
				return err
			}
		}
		if p.State == old.State {
			return nil
		}
		if old.State == storage.ProvisionPending && Usable(p.State) && l.cfg.Invite != nil {
			if err := l.cfg.Invite(ctx, tx, a, p); err != nil {
				return err
			}
		}
		if p.State == storage.ProvisionDisabled {
			if _, err := tx.UpdateAccount(ctx, id, func(a storage.Account) (storage.Account, error) {
				a.Disabled, a.UpdatedAt = true, now
				return a, nil
			}); err != nil {
				return err
			}
			sessions, err := tx.ListSessions(ctx, id)
			if err != nil {
				return err
			}
			if _, err := tx.DeleteSessions(ctx, id, ""); err != nil {
				return err
			}
			for _, se := range sessions {
				ended = append(ended, se.ID)
			}
		}
		return l.record(ctx, tx, EventStateChanged, id, old.State+" → "+p.State)
	})
	if errors.Is(err, errNotDue) || errors.Is(err, storage.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if len(ended) > 0 && l.cfg.SessionsEnded != nil {
		l.cfg.SessionsEnded(ctx, ended)
	}
	return true, nil
}

// purge deletes an account at the end of its retention: the account,
// its registry record, sessions, credentials, identity and memberships
// go; its audit events stay without what names the person.
func (l *Lifecycle) purge(ctx context.Context, tx storage.Storage, id string) error {
	if _, err := tx.PseudonymiseEvents(ctx, id); err != nil {
		return err
	}
	if err := tx.UnbindIdentity(ctx, id); err != nil && !errors.Is(err, storage.ErrNotFound) {
		return err
	}
	if err := tx.DeleteProvisionedAccount(ctx, id); err != nil {
		return err
	}
	return l.record(ctx, tx, EventAccountPurged, id, "retention ended")
}

func (l *Lifecycle) record(ctx context.Context, tx storage.Storage, kind, id, reason string) error {
	if l.cfg.Audit == nil {
		return nil
	}
	return l.cfg.Audit.Record(ctx, tx, storage.Event{Kind: kind, AccountID: id, Reason: reason})
}
