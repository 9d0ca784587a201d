package admin

import (
	"cmp"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/portti/portti/internal/account"
	"github.com/portti/portti/internal/mail"
	"github.com/portti/portti/internal/storage"
)

// Actor is who acts: a staff member signed in to the console, an API
// client, or the operator at the command line.
type Actor struct {
	AccountID string // the staff member's account; empty for a client or the CLI
	Name      string // their e-mail address, "client:ID" or "cli": kept in the audit trail
	Admin     bool   // holds the admin role (or scope)
}

// Action is one thing the helpdesk can do to an account.
type Action string

// The actions, in the order the console offers them.
const (
	ActUnlock           Action = "unlock"
	ActResendActivation Action = "resend_activation"
	ActSendReset        Action = "send_reset"
	ActResetMFA         Action = "reset_mfa"
	ActEndSessions      Action = "end_sessions"
	ActDisable          Action = "disable"
	ActEnable           Action = "enable"
	// ActAccessPass issues a temporary access pass (authn/accesspass):
	// shown once to the staff member, it lets the person add one new
	// second factor after their password; it signs no one in.
	ActAccessPass Action = "temporary_access_pass"
)

// Actions lists every action.
var Actions = []Action{ActUnlock, ActResendActivation, ActSendReset, ActResetMFA, ActEndSessions, ActDisable, ActEnable, ActAccessPass}

// Outcome is what an action hands back to the staff member: the pass,
// for a temporary access pass (shown once, never stored in clear).
type Outcome struct {
	AccessPass string
	Expires    time.Time
}

// EventPrefix begins the kind of every event the console records
// ("helpdesk.unlock"); the reason is "by ACTOR: REASON".
const EventPrefix = "helpdesk."

// maxReason bounds a reason; a ticket number and a sentence fit.
const maxReason = 500

func cleanReason(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", ErrReasonRequired
	}
	if !utf8.ValidString(s) || utf8.RuneCountInString(s) > maxReason || strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 && r != '\n' && r != '\r' && r != '\t' || r == 0x7f }) {
		return "", ErrInvalid
	}
	// One line in the audit trail and the log.
	return strings.Join(strings.Fields(s), " "), nil
}

// Roles returns the staff roles of an account.
func (s *Service) Roles(ctx context.Context, accountID string) ([]string, error) {
	rs, err := s.cfg.Store.ListRoles(ctx, accountID)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(rs))
	for _, r := range rs {
		out = append(out, r.Role)
	}
	return out, nil
}

// mayActOn applies the rules of who may act on whom.
func (s *Service) mayActOn(ctx context.Context, actor Actor, target storage.Account) error {
	if actor.AccountID != "" && actor.AccountID == target.ID {
		return ErrSelf
	}
	if actor.Admin {
		return nil
	}
	roles, err := s.Roles(ctx, target.ID)
	if err != nil {
		return err
	}
	if slices.Contains(roles, storage.RoleAdmin) {
		return ErrProtected
	}
	return nil
}

// Do performs act on account accountID for actor, with the reason the
// staff member gave. m is the request's (the staff member's address).
func (s *Service) Do(ctx context.Context, actor Actor, accountID string, act Action, reason string, m account.Meta) error {
	_, err := s.Act(ctx, actor, accountID, act, reason, m)
	return err
}

// Act is Do, returning what the action hands back (the pass).
func (s *Service) Act(ctx context.Context, actor Actor, accountID string, act Action, reason string, m account.Meta) (Outcome, error) {
	var out Outcome
	if !slices.Contains(Actions, act) || act == ActAccessPass && s.cfg.AccessPass == nil {
		return out, ErrUnknownAction
	}
	reason, err := cleanReason(reason)
	if err != nil {
		return out, err
	}
	target, err := s.cfg.Store.GetAccount(ctx, accountID)
	if err != nil {
		return out, err
	}
	if err := s.mayActOn(ctx, actor, target); err != nil {
		return out, err
	}
	tell := mail.HelpdeskChange("")
	switch act {
	case ActUnlock:
		_, err = s.cfg.Accounts.Unlock(ctx, target.Email, m)
		tell = mail.HelpdeskUnlocked
	case ActResendActivation:
		if target.Activated() || target.Disabled {
			return out, ErrNotApplicable
		}
		err = s.cfg.Accounts.ResendActivation(ctx, target.Email, m)
	case ActSendReset:
		if target.Disabled {
			// The account service sends a disabled account no link:
			// say so instead of pretending.
			return out, ErrNotApplicable
		}
		err = s.cfg.Accounts.ForgotPassword(ctx, target.Email, m)
	case ActResetMFA:
		// authn tells the owner (mfa_changed) and ends the sessions.
		_, _, err = s.cfg.MFA.ResetByHelpdesk(ctx, target.Email, "by "+actor.Name+": "+reason, m)
	case ActEndSessions:
		err = s.endSessions(ctx, target)
		tell = mail.HelpdeskSessionsEnded
	case ActDisable:
		if target.Disabled {
			return out, ErrNotApplicable
		}
		_, err = s.cfg.Accounts.Disable(ctx, target.Email, m)
		tell = mail.HelpdeskDisabled
	case ActAccessPass:
		if target.Disabled || !target.Activated() {
			return out, ErrNotApplicable
		}
		// accesspass tells the owner (helpdesk_action, in the same
		// transaction as the pass).
		out.AccessPass, out.Expires, err = s.cfg.AccessPass.Issue(ctx, target, m)
	case ActEnable:
		if !target.Disabled {
			return out, ErrNotApplicable
		}
		_, err = s.cfg.Accounts.Enable(ctx, target.Email, m)
		tell = mail.HelpdeskEnabled
	}
	if err != nil {
		return out, fmt.Errorf("%s %s: %w", act, target.ID, err)
	}
	_ = s.cfg.Audit.Record(ctx, nil, storage.Event{
		Kind: EventPrefix + string(act), AccountID: target.ID, Email: target.Email,
		ClientIP: m.ClientIP, UserAgent: m.UserAgent, Reason: "by " + actor.Name + ": " + reason,
	})
	if tell != "" {
		s.tell(ctx, target, tell, m)
	}
	return out, nil
}

// endSessions ends every session of the account and tells the
// applications signed in through them.
func (s *Service) endSessions(ctx context.Context, a storage.Account) error {
	all, err := s.cfg.Store.ListSessions(ctx, a.ID)
	if err != nil {
		return err
	}
	if _, err := s.cfg.Store.DeleteSessions(ctx, a.ID, ""); err != nil {
		return err
	}
	ids := make([]string, 0, len(all))
	for _, se := range all {
		ids = append(ids, se.ID)
	}
	if s.cfg.OnSessionsEnded != nil && len(ids) > 0 {
		s.cfg.OnSessionsEnded(ctx, ids)
	}
	return nil
}

// tell e-mails the owner what the helpdesk changed. A failure to queue is
// logged: the change is done and audited either way.
func (s *Service) tell(ctx context.Context, a storage.Account, change mail.HelpdeskChange, m account.Meta) {
	if s.cfg.Outbox == nil {
		return
	}
	msg := mail.HelpdeskAction{
		Name: a.GivenName, Change: change, When: s.now(),
		ResetLink: s.cfg.PublicURL + "/password/forgot?" + url.Values{"email": {a.Email}}.Encode(),
	}
	if err := s.cfg.Outbox.Enqueue(ctx, nil, a.Email, cmp.Or(a.Locale, m.Lang, "en"), msg); err != nil {
		s.cfg.Logger.ErrorContext(ctx, "helpdesk notification not queued", "account_id", a.ID, "error", err)
		return
	}
	s.cfg.Outbox.Wake()
}

// Role kinds for Grant and Revoke.
var roles = []string{storage.RoleHelpdesk, storage.RoleAdmin, storage.RoleGuestInviter}

// consoleRole reports whether a role opens the helpdesk console (a guest
// inviter's role opens only the guest pages, package guests).
func consoleRole(role string) bool { return role == storage.RoleHelpdesk || role == storage.RoleAdmin }

// ValidRole reports whether role is a staff role.
func ValidRole(role string) bool { return slices.Contains(roles, role) }

// Grant gives the account with e-mail address email a staff role.
// Only an admin (or the operator at the command line) grants roles.
func (s *Service) Grant(ctx context.Context, actor Actor, email, role string, m account.Meta) (storage.Account, error) {
	return s.changeRole(ctx, actor, email, role, true, m)
}

// Revoke takes a staff role away. storage.ErrNotFound when it was not
// held. An admin cannot revoke their own admin role (someone else must),
// so the last admin cannot lock everyone out by a slip.
func (s *Service) Revoke(ctx context.Context, actor Actor, email, role string, m account.Meta) (storage.Account, error) {
	return s.changeRole(ctx, actor, email, role, false, m)
}

func (s *Service) changeRole(ctx context.Context, actor Actor, email, role string, grant bool, m account.Meta) (storage.Account, error) {
	if !actor.Admin {
		return storage.Account{}, ErrAdminOnly
	}
	if !ValidRole(role) {
		return storage.Account{}, ErrInvalid
	}
	a, err := s.cfg.Accounts.Find(ctx, email)
	if err != nil {
		return a, err
	}
	kind := "staff.role_granted"
	if grant {
		err = s.cfg.Store.GrantRole(ctx, storage.StaffRole{AccountID: a.ID, Role: role, GrantedAt: s.now(), GrantedBy: actor.Name})
	} else {
		if actor.AccountID == a.ID && role == storage.RoleAdmin {
			return a, ErrSelf
		}
		kind = "staff.role_revoked"
		err = s.cfg.Store.RevokeRole(ctx, a.ID, role)
	}
	if err != nil {
		return a, err
	}
	_ = s.cfg.Audit.Record(ctx, nil, storage.Event{
		Kind: kind, AccountID: a.ID, Email: a.Email, ClientIP: m.ClientIP, UserAgent: m.UserAgent,
		Reason: "by " + actor.Name + ": " + role,
	})
	return a, nil
}

// Staff lists every account holding a role, with its roles.
type StaffMember struct {
	Account storage.Account
	Roles   []storage.StaffRole
}

// Staff returns the staff, by e-mail.
func (s *Service) Staff(ctx context.Context) ([]StaffMember, error) {
	all, err := s.cfg.Store.ListRoles(ctx, "")
	if err != nil {
		return nil, err
	}
	var out []StaffMember
	for _, r := range all {
		if n := len(out); n > 0 && out[n-1].Account.ID == r.AccountID {
			out[n-1].Roles = append(out[n-1].Roles, r)
			continue
		}
		a, err := s.cfg.Store.GetAccount(ctx, r.AccountID)
		if err != nil {
			return nil, err
		}
		out = append(out, StaffMember{Account: a, Roles: []storage.StaffRole{r}})
	}
	slices.SortFunc(out, func(a, b StaffMember) int { return strings.Compare(a.Account.Email, b.Account.Email) })
	return out, nil
}

// newID returns a random identifier for a notice: hex, so that it never
// starts with "-" on a command line.
func (s *Service) newID() (string, error) {
	b := make([]byte, 8)
	if _, err := io.ReadFull(s.cfg.Random, b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// errorIs reports whether err is one of targets.
func errorIs(err error, targets ...error) bool {
	for _, t := range targets {
		if errors.Is(err, t) {
			return true
		}
	}
	return false
}
