package admin

import (
	"embed"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/portti/portti/internal/account"
	"github.com/portti/portti/internal/authn"
	"github.com/portti/portti/internal/refcode"
	"github.com/portti/portti/internal/storage"
)

//go:embed templates/*.html
var templateFiles embed.FS

// staff is the signed-in staff member a console request acts for.
type staff struct {
	se    storage.Session
	acc   storage.Account
	actor Actor
	meta  account.Meta
}

// consoleHandler routes the console's pages; every one of them needs a
// staff member (staffOnly).
func (s *Service) consoleHandler() http.Handler {
	mux := http.NewServeMux()
	h := func(pattern string, fn func(http.ResponseWriter, *http.Request, staff) error) {
		mux.Handle(pattern, s.staffOnly(fn))
	}
	h("GET /admin", s.searchPage)
	h("GET /admin/{$}", s.searchPage)
	h("GET /admin/people/{id}", s.personPage)
	h("POST /admin/people/{id}/action", s.personAction)
	h("GET /admin/people/{id}/events", s.eventsPage)
	h("GET /admin/notices", s.noticesPage)
	h("POST /admin/notices", s.addNotice)
	h("POST /admin/notices/remove", s.removeNotice)
	h("GET /admin/roles", s.rolesPage)
	h("POST /admin/roles", s.grantRole)
	h("POST /admin/roles/revoke", s.revokeRole)
	mux.Handle("/admin/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.cfg.Pages.RenderProblem(w, r, http.StatusNotFound, "error.not_found", "")
	}))
	return mux
}

// staffOnly lets a request through only for a staff member signed in with
// a second factor, whose last console page is less than IdleTimeout ago.
// Anyone else is sent to sign in, to set up a second factor, or to sign
// in again; a signed-in person without a role is refused.
func (s *Service) staffOnly(fn func(http.ResponseWriter, *http.Request, staff) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		back := "/admin"
		if r.Method == http.MethodGet {
			back = r.URL.RequestURI()
		}
		// A browser may hold several accounts (staff and personal): the
		// console acts for the newest one with a staff role.
		all, err := s.cfg.Sessions.Sessions(ctx, r)
		if err != nil {
			s.serverError(w, r, err)
			return
		}
		if len(all) == 0 {
			http.Redirect(w, r, "/login?"+url.Values{"return": {back}}.Encode(), http.StatusSeeOther)
			return
		}
		var (
			se    storage.Session
			roles []string
		)
		for _, cand := range all {
			if roles, err = s.Roles(ctx, cand.AccountID); err != nil {
				s.serverError(w, r, err)
				return
			}
			if slices.ContainsFunc(roles, consoleRole) {
				se = cand
				break
			}
		}
		if !slices.ContainsFunc(roles, consoleRole) {
			s.cfg.Pages.RenderProblem(w, r, http.StatusForbidden, "admin.forbidden", "")
			return
		}
		acc, err := s.cfg.Store.GetAccount(ctx, se.AccountID)
		if err != nil {
			s.serverError(w, r, err)
			return
		}
		entries, err := s.cfg.MFA.Entries(ctx, acc.ID)
		if err != nil {
			s.serverError(w, r, err)
			return
		}
		if !authn.Enabled(entries) {
			// Staff must use a second factor: set one up first.
			http.Redirect(w, r, "/account/mfa?"+url.Values{"return": {back}, "notice": {"mfa_required"}}.Encode(), http.StatusSeeOther)
			return
		}
		now := s.now()
		second := s.cfg.MFA.Registry().SecondFactorAt(se.Factors)
		seen, err := s.cfg.Store.StaffSessionSeen(ctx, se.ID)
		if err != nil {
			s.serverError(w, r, err)
			return
		}
		last := second
		if seen.After(last) {
			last = seen
		}
		// A browser remembered for the second step proves no second
		// factor here (SecondFactorAt skips it): sign in again.
		if second.IsZero() || now.Sub(last) > s.cfg.IdleTimeout {
			http.Redirect(w, r, "/login?"+url.Values{"email": {acc.Email}, "return": {back}, "notice": {"mfa_reauth"}, "mfa": {"fresh"}}.Encode(), http.StatusSeeOther)
			return
		}
		if err := s.cfg.Store.TouchStaffSession(ctx, se.ID, now); err != nil {
			s.serverError(w, r, err)
			return
		}
		st := staff{
			se: se, acc: acc,
			actor: Actor{AccountID: acc.ID, Name: acc.Email, Admin: slices.Contains(roles, storage.RoleAdmin)},
			meta:  account.Meta{ClientIP: s.cfg.ClientIP(r), UserAgent: r.UserAgent(), Lang: acc.Locale},
		}
		if err := fn(w, r, st); err != nil {
			s.consoleError(w, r, err)
		}
	})
}

func (s *Service) serverError(w http.ResponseWriter, r *http.Request, err error) {
	ref := refcode.New()
	s.cfg.Logger.ErrorContext(r.Context(), "console request failed", "ref", ref, "path", r.URL.Path, "error", err)
	_ = s.cfg.Store.AppendEvent(r.Context(), storage.Event{Time: s.now(), Kind: "http.error", Ref: ref,
		ClientIP: s.cfg.ClientIP(r), UserAgent: r.UserAgent(), Reason: fmt.Sprintf("500 %s %s", r.Method, r.URL.Path)})
	s.cfg.Pages.RenderProblem(w, r, http.StatusInternalServerError, "error.internal", ref)
}

func (s *Service) consoleError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, storage.ErrNotFound):
		s.cfg.Pages.RenderProblem(w, r, http.StatusNotFound, "admin.error.no_account", "")
	case errors.Is(err, ErrAdminOnly):
		s.cfg.Pages.RenderProblem(w, r, http.StatusForbidden, "admin.error.admin_only", "")
	default:
		s.serverError(w, r, err)
	}
}

// render shows the console's one template in view v.
func (s *Service) render(w http.ResponseWriter, r *http.Request, st staff, status int, view, titleKey string, data map[string]any) {
	data["View"] = view
	data["Admin"] = st.actor.Admin
	data["Staff"] = st.acc.Email
	s.cfg.Pages.RenderPage(w, r, status, "admin", titleKey, data)
}

// helsinki is the zone times are shown in: the staff and the people they
// help are in Finland. The format is the same in every language, and
// names the zone, so that a time read out on the phone is unambiguous.
var helsinki = func() *time.Location {
	loc, err := time.LoadLocation("Europe/Helsinki")
	if err != nil {
		return time.FixedZone("EET", 2*3600)
	}
	return loc
}()

func when(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(helsinki).Format("2006-01-02 15:04 MST")
}

// searchLimit bounds a search's list.
const searchLimit = 50

func (s *Service) searchPage(w http.ResponseWriter, r *http.Request, st staff) error {
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	data := map[string]any{"Query": q}
	if q != "" {
		if code := strings.ToUpper(q); refcode.Valid(code) {
			e, err := s.cfg.Store.EventByRef(r.Context(), code)
			switch {
			case errors.Is(err, storage.ErrNotFound):
				data["NoEvent"] = code
			case err != nil:
				return err
			default:
				data["Event"] = eventRow(e)
				if e.AccountID != "" {
					if a, err := s.cfg.Store.GetAccount(r.Context(), e.AccountID); err == nil {
						data["EventAccount"] = a
					}
				}
			}
		} else {
			found, err := s.cfg.Store.SearchAccounts(r.Context(), q, searchLimit)
			if err != nil {
				return err
			}
			data["Results"] = found
			data["Searched"] = true
		}
	}
	s.render(w, r, st, http.StatusOK, "search", "admin.title", data)
	return nil
}

// eventView is an audit event as the console shows it.
type eventView struct {
	ID                                 int64
	Time, Kind, Email, ClientIP, Agent string
	Reason, ReasonKey, Ref, AccountID  string
}

// reasonKeys name the reasons the panel explains in words; other reasons
// are shown as recorded.
var reasonKeys = map[string]bool{
	"wrong_password": true, "unknown_account": true, "locked": true, "disabled": true, "not_activated": true,
	"password_expired": true, "wrong_code": true, "code_already_used": true, "client_address_throttled": true,
	"wrong_access_pass": true,
}

func eventRow(e storage.Event) eventView {
	v := eventView{ID: e.ID, Time: when(e.Time), Kind: e.Kind, Email: e.Email, ClientIP: e.ClientIP, Agent: e.UserAgent, Reason: e.Reason, Ref: e.Ref, AccountID: e.AccountID}
	if reasonKeys[e.Reason] {
		v.ReasonKey = "admin.reason." + e.Reason
	}
	return v
}

func (s *Service) personPage(w http.ResponseWriter, r *http.Request, st staff) error {
	return s.showPerson(w, r, st, http.StatusOK, r.PathValue("id"), nil)
}

// showPerson renders the person page; form is the posted action form to
// show again with its error, or nil.
func (s *Service) showPerson(w http.ResponseWriter, r *http.Request, st staff, status int, id string, form map[string]any) error {
	x, err := s.Explain(r.Context(), id)
	if err != nil {
		return err
	}
	data := map[string]any{"Person": x.Account, "X": explanationView(x)}
	if done := r.URL.Query().Get("done"); slices.Contains(Actions, Action(done)) && form == nil {
		data["Done"] = "admin.done." + done
	}
	var offered []string
	for _, a := range Actions {
		if a == ActAccessPass && s.cfg.AccessPass == nil {
			continue
		}
		if applies(a, x) {
			offered = append(offered, string(a))
		}
	}
	data["Actions"] = offered
	switch err := s.mayActOn(r.Context(), st.actor, x.Account); {
	case errors.Is(err, ErrSelf):
		data["CannotAct"] = "admin.error.self"
	case errors.Is(err, ErrProtected):
		data["CannotAct"] = "admin.error.protected"
	case err != nil:
		return err
	}
	for k, v := range form {
		data[k] = v
	}
	s.render(w, r, st, status, "person", "admin.person.title", data)
	return nil
}

// applies reports whether the console offers action a for the account
// as it is (Do refuses the others too).
func applies(a Action, x Explanation) bool {
	switch a {
	case ActResendActivation:
		return !x.Account.Activated() && !x.Account.Disabled
	case ActSendReset, ActDisable:
		return !x.Account.Disabled
	case ActEnable:
		return x.Account.Disabled
	case ActResetMFA:
		return len(x.Methods) > 0
	case ActEndSessions:
		return len(x.Sessions) > 0
	case ActAccessPass:
		return x.Account.Activated() && !x.Account.Disabled
	}
	return true
}

// problemView is a problem as a sentence key and its arguments.
type problemView struct {
	Key  string
	Args map[string]any
}

func explanationView(x Explanation) map[string]any {
	var problems []problemView
	for _, p := range x.Problems {
		args := map[string]any{}
		for k, v := range p.Args {
			if t, ok := v.(time.Time); ok {
				v = when(t)
			}
			args[k] = v
		}
		key := "admin.problem." + p.Code
		switch p.Code {
		case ProblemDisabled:
			by, _ := p.Args["By"].(string)
			if actor, why, ok := strings.Cut(strings.TrimPrefix(by, "by "), ": "); ok && strings.HasPrefix(by, "by ") {
				key, args["By"], args["Why"] = key+"_by", actor, why
			} else if by == "cli" {
				key += "_cli"
			}
		case ProblemNotActivated:
			if t, _ := p.Args["Sent"].(time.Time); t.IsZero() {
				key += "_unsent"
			}
		}
		problems = append(problems, problemView{Key: key, Args: args})
	}
	var failures []eventView
	for _, e := range x.Failures {
		failures = append(failures, eventRow(e))
	}
	type methodView struct{ Title, Name, Added, LastUsed string }
	var methods []methodView
	for _, m := range x.Methods {
		methods = append(methods, methodView{m.TitleKey, m.Name, when(m.AddedAt), when(m.LastUsedAt)})
	}
	type sessionView struct{ Started, LastSeen, Expires, ClientIP, Agent string }
	var sessions []sessionView
	for _, se := range x.Sessions {
		sessions = append(sessions, sessionView{when(se.CreatedAt), when(se.LastSeenAt), when(se.ExpiresAt), se.ClientIP, se.UserAgent})
	}
	type appView struct{ Name, ClientID, LastUsed string }
	var apps []appView
	for _, a := range x.Apps {
		apps = append(apps, appView{a.ClientName, a.ClientID, when(a.LastUsed)})
	}
	return map[string]any{
		"Problems": problems, "Failures": failures, "Methods": methods, "Sessions": sessions, "Apps": apps,
		"Roles": x.Roles, "MFARequired": x.MFARequired, "MFAEnabled": x.MFAEnabled,
		"Created": when(x.Account.CreatedAt), "Activated": when(x.Account.ActivatedAt),
		"PasswordChanged": when(x.Account.PasswordChangedAt), "PasswordExpiry": when(x.PasswordExpiry),
		"IdentityBound": when(x.IdentityBoundAt),
	}
}

func (s *Service) personAction(w http.ResponseWriter, r *http.Request, st staff) error {
	if err := r.ParseForm(); err != nil {
		return err
	}
	id := r.PathValue("id")
	act := Action(r.PostForm.Get("action"))
	reason := r.PostForm.Get("reason")
	out, err := s.Act(r.Context(), st.actor, id, act, reason, st.meta)
	if err == nil && out.AccessPass != "" {
		// Shown once, on this answer only: no redirect that could show
		// it again, and no cache may keep it.
		w.Header().Set("Cache-Control", "no-store")
		return s.showPerson(w, r, st, http.StatusOK, id, map[string]any{
			"Done": "admin.done." + string(act), "Pass": out.AccessPass, "PassUntil": when(out.Expires),
		})
	}
	if err == nil {
		http.Redirect(w, r, "/admin/people/"+url.PathEscape(id)+"?"+url.Values{"done": {string(act)}}.Encode(), http.StatusSeeOther)
		return nil
	}
	key := ""
	switch {
	case errors.Is(err, ErrReasonRequired):
		key = "admin.error.reason_required"
	case errors.Is(err, ErrInvalid):
		key = "admin.error.reason_invalid"
	case errors.Is(err, ErrUnknownAction):
		key = "admin.error.choose_action"
	case errors.Is(err, ErrSelf):
		key = "admin.error.self"
	case errors.Is(err, ErrProtected):
		key = "admin.error.protected"
	case errors.Is(err, ErrNotApplicable):
		key = "admin.error.not_applicable"
	default:
		return err
	}
	form := map[string]any{"FormAction": string(act), "FormReason": reason}
	if key == "admin.error.reason_required" || key == "admin.error.reason_invalid" {
		form["ReasonError"] = key
	} else {
		form["ActionError"] = key
	}
	return s.showPerson(w, r, st, http.StatusUnprocessableEntity, id, form)
}

// eventsPage is the person's audit trail, newest first, a page at a time.
const eventsPerPage = 25

func (s *Service) eventsPage(w http.ResponseWriter, r *http.Request, st staff) error {
	a, err := s.cfg.Store.GetAccount(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	before, _ := strconv.ParseInt(r.URL.Query().Get("before"), 10, 64)
	events, err := s.cfg.Store.ListEventsBefore(r.Context(), a.ID, before, eventsPerPage+1)
	if err != nil {
		return err
	}
	data := map[string]any{"Person": a}
	if len(events) > eventsPerPage {
		events = events[:eventsPerPage]
		data["Older"] = "/admin/people/" + url.PathEscape(a.ID) + "/events?before=" + strconv.FormatInt(events[len(events)-1].ID, 10)
	}
	if before > 0 {
		data["Newest"] = "/admin/people/" + url.PathEscape(a.ID) + "/events"
	}
	var rows []eventView
	for _, e := range events {
		rows = append(rows, eventRow(e))
	}
	data["Events"] = rows
	s.render(w, r, st, http.StatusOK, "events", "admin.events.title", data)
	return nil
}

// timeInput is the format of the notice form's datetime-local fields,
// read as Helsinki time.
const timeInput = "2006-01-02T15:04"

func (s *Service) noticesPage(w http.ResponseWriter, r *http.Request, st staff) error {
	return s.showNotices(w, r, st, http.StatusOK, nil)
}

func (s *Service) showNotices(w http.ResponseWriter, r *http.Request, st staff, status int, form map[string]any) error {
	all, err := s.Notices(r.Context())
	if err != nil {
		return err
	}
	now := s.now()
	type noticeView struct {
		ID, From, Until, FI, SV, EN, By string
		Showing, Past                   bool
	}
	var rows []noticeView
	for _, n := range all {
		rows = append(rows, noticeView{n.ID, when(n.StartsAt), when(n.EndsAt), n.TextFI, n.TextSV, n.TextEN, n.CreatedBy,
			!now.Before(n.StartsAt) && now.Before(n.EndsAt), !now.Before(n.EndsAt)})
	}
	data := map[string]any{"Notices": rows}
	if d := r.URL.Query().Get("done"); d == "added" || d == "removed" {
		data["Done"] = "admin.notices." + d
	}
	for k, v := range form {
		data[k] = v
	}
	s.render(w, r, st, status, "notices", "admin.notices.title", data)
	return nil
}

func (s *Service) addNotice(w http.ResponseWriter, r *http.Request, st staff) error {
	if !st.actor.Admin {
		return ErrAdminOnly
	}
	if err := r.ParseForm(); err != nil {
		return err
	}
	f := r.PostForm
	from, ferr := time.ParseInLocation(timeInput, f.Get("from"), helsinki)
	until, uerr := time.ParseInLocation(timeInput, f.Get("until"), helsinki)
	in := NoticeInput{From: from, Until: until, TextFI: f.Get("text_fi"), TextSV: f.Get("text_sv"), TextEN: f.Get("text_en")}
	var err error
	if ferr != nil || uerr != nil {
		err = ErrInvalid
	} else {
		_, err = s.AddNotice(r.Context(), st.actor, in, st.meta)
	}
	if errors.Is(err, ErrInvalid) {
		return s.showNotices(w, r, st, http.StatusUnprocessableEntity, map[string]any{
			"NoticeError": "admin.notices.invalid", "Form": f,
		})
	}
	if err != nil {
		return err
	}
	http.Redirect(w, r, "/admin/notices?done=added", http.StatusSeeOther)
	return nil
}

func (s *Service) removeNotice(w http.ResponseWriter, r *http.Request, st staff) error {
	if err := r.ParseForm(); err != nil {
		return err
	}
	err := s.RemoveNotice(r.Context(), st.actor, r.PostForm.Get("id"), st.meta)
	if err != nil && !errors.Is(err, storage.ErrNotFound) { // removed twice: gone either way
		return err
	}
	http.Redirect(w, r, "/admin/notices?done=removed", http.StatusSeeOther)
	return nil
}

func (s *Service) rolesPage(w http.ResponseWriter, r *http.Request, st staff) error {
	return s.showRoles(w, r, st, http.StatusOK, nil)
}

func (s *Service) showRoles(w http.ResponseWriter, r *http.Request, st staff, status int, form map[string]any) error {
	members, err := s.Staff(r.Context())
	if err != nil {
		return err
	}
	type roleView struct{ AccountID, Email, Name, Role, Granted, By string }
	var rows []roleView
	for _, m := range members {
		for _, ro := range m.Roles {
			rows = append(rows, roleView{m.Account.ID, m.Account.Email, strings.TrimSpace(m.Account.GivenName + " " + m.Account.FamilyName), ro.Role, when(ro.GrantedAt), ro.GrantedBy})
		}
	}
	data := map[string]any{"Roles": rows, "RoleNames": roles}
	if d := r.URL.Query().Get("done"); d == "granted" || d == "revoked" {
		data["Done"] = "admin.roles." + d
	}
	for k, v := range form {
		data[k] = v
	}
	s.render(w, r, st, status, "roles", "admin.roles.title", data)
	return nil
}

func (s *Service) grantRole(w http.ResponseWriter, r *http.Request, st staff) error {
	return s.roleChange(w, r, st, true)
}

func (s *Service) revokeRole(w http.ResponseWriter, r *http.Request, st staff) error {
	return s.roleChange(w, r, st, false)
}

func (s *Service) roleChange(w http.ResponseWriter, r *http.Request, st staff, grant bool) error {
	if !st.actor.Admin {
		return ErrAdminOnly
	}
	if err := r.ParseForm(); err != nil {
		return err
	}
	email, role := r.PostForm.Get("email"), r.PostForm.Get("role")
	var err error
	done := "granted"
	if grant {
		_, err = s.Grant(r.Context(), st.actor, email, role, st.meta)
	} else {
		done = "revoked"
		_, err = s.Revoke(r.Context(), st.actor, email, role, st.meta)
	}
	key := ""
	switch {
	case err == nil:
		http.Redirect(w, r, "/admin/roles?done="+done, http.StatusSeeOther)
		return nil
	case errors.Is(err, storage.ErrNotFound), errors.Is(err, account.ErrInvalidEmail):
		key = "admin.roles.no_account"
	case errors.Is(err, ErrInvalid):
		key = "admin.roles.invalid"
	case errors.Is(err, ErrSelf):
		key = "admin.roles.self"
	default:
		return err
	}
	return s.showRoles(w, r, st, http.StatusUnprocessableEntity, map[string]any{"RoleError": key, "FormEmail": email})
}
