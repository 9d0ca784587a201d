package web

import (
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/portti/portti/internal/account"
	"github.com/portti/portti/internal/authn"
	"github.com/portti/portti/internal/storage"
)

// signedIn returns the session a settings page acts for (the account named
// by the form's account_id when several are signed in) and its account.
// Without one, the person is sent to the login page and nil is returned.
func (s *Server) signedIn(w http.ResponseWriter, r *http.Request) (storage.Session, storage.Account, bool, error) {
	accountID := r.URL.Query().Get("account")
	if r.Method == http.MethodPost {
		accountID = r.PostForm.Get("account_id")
	}
	se, err := s.cfg.Sessions.Current(r.Context(), r, accountID)
	if errors.Is(err, storage.ErrNotFound) {
		http.Redirect(w, r, "/login?"+url.Values{"return": {"/account"}}.Encode(), http.StatusSeeOther)
		return se, storage.Account{}, false, nil
	}
	if err != nil {
		return se, storage.Account{}, false, err
	}
	a, err := s.cfg.Store.GetAccount(r.Context(), se.AccountID)
	if err != nil {
		return se, a, false, err
	}
	if a.Disabled {
		_ = s.cfg.Sessions.End(r.Context(), w, r, se.ID)
		ref := newRef()
		s.recordRef(r, ref, "session.refused", a.ID, "account disabled")
		return se, a, false, &httpError{Status: http.StatusForbidden, Key: "login.disabled", Ref: ref}
	}
	return se, a, true, nil
}

// accountPage is the settings page: who is signed in, the profile, the
// login address, the password, and the signed-in browsers.
func (s *Server) accountPage(w http.ResponseWriter, r *http.Request) error {
	se, a, ok, err := s.signedIn(w, r)
	if !ok {
		return err
	}
	p := s.newPage(r, "account.title")
	if n := r.URL.Query().Get("notice"); noticeKeys[n] {
		p.Notice = p.T("notice." + n)
	}
	s.renderAccount(w, r, http.StatusOK, p, se, a)
	return nil
}

func (s *Server) renderAccount(w http.ResponseWriter, r *http.Request, status int, p *page, se storage.Session, a storage.Account) {
	p.Account = &a
	for k, v := range map[string]string{
		"given_name": a.GivenName, "family_name": a.FamilyName, "phone_number": a.PhoneNumber,
		"street_address": a.StreetAddress, "postal_code": a.PostalCode, "locality": a.Locality,
	} {
		// Keep what was typed into the profile form when it comes back
		// with errors; otherwise show what is saved.
		if p.Form.Get("form") != "profile" {
			p.Form.Set(k, v)
		}
	}
	sessions, err := s.cfg.Store.ListSessions(r.Context(), a.ID)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	now := s.cfg.Now()
	type row struct {
		ID, Browser, IP, Since, LastSeen string
		SinceISO, LastSeenISO            string
		Current, Remembered              bool
	}
	var rows []row
	for _, x := range sessions {
		if !x.ExpiresAt.After(now) {
			continue
		}
		rows = append(rows, row{
			ID: x.ID, Browser: browserName(x.UserAgent), IP: x.ClientIP,
			Since: s.shortTime(p.Lang, x.CreatedAt), LastSeen: s.shortTime(p.Lang, x.LastSeenAt),
			SinceISO: x.CreatedAt.UTC().Format(time.RFC3339), LastSeenISO: x.LastSeenAt.UTC().Format(time.RFC3339),
			Current: x.ID == se.ID, Remembered: x.Persistent,
		})
	}
	p.Data["Sessions"] = rows
	apps, err := s.appRows(r, p.Lang, a.ID)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	p.Data["Apps"] = apps
	if a.PendingEmail != "" {
		p.Data["PendingEmail"] = a.PendingEmail
	}
	others, _ := s.cfg.Sessions.Sessions(r.Context(), r)
	var signedIn []storage.Account
	for _, o := range others {
		if o.AccountID == a.ID {
			continue
		}
		if oa, err := s.cfg.Store.GetAccount(r.Context(), o.AccountID); err == nil {
			signedIn = append(signedIn, oa)
		}
	}
	p.Data["OtherAccounts"] = signedIn
	if s.cfg.MFA == nil {
		// No second factors offered (a web front built without them).
	} else if entries, err := s.cfg.MFA.Entries(r.Context(), a.ID); err == nil {
		p.Data["MFAEnabled"] = authn.Enabled(entries)
		p.Data["MFAEntries"] = s.entryRows(p, entries)
	}
	if s.cfg.StrongIdentification {
		if id, err := s.cfg.Store.GetIdentity(r.Context(), a.ID); err == nil {
			p.Data["IdentityLinked"] = s.formatTime(p.Lang, id.BoundAt)
		}
	}
	s.render(w, r, status, "account", p)
}

func (s *Server) updateProfile(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(r); err != nil {
		return err
	}
	se, a, ok, err := s.signedIn(w, r)
	if !ok {
		return err
	}
	_, err = s.cfg.Accounts.UpdateProfile(r.Context(), a.ID, profileFrom(r.PostForm), s.meta(w, r))
	return s.afterSettings(w, r, se, a, err, "profile_saved")
}

func (s *Server) changePassword(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(r); err != nil {
		return err
	}
	se, a, ok, err := s.signedIn(w, r)
	if !ok {
		return err
	}
	f := r.PostForm
	err = s.cfg.Accounts.ChangePassword(r.Context(), a.ID, f.Get("current_password"), f.Get("password"), f.Get("password_confirm"), se.ID, s.meta(w, r))
	return s.afterSettings(w, r, se, a, err, "password_changed")
}

func (s *Server) changeEmail(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(r); err != nil {
		return err
	}
	se, a, ok, err := s.signedIn(w, r)
	if !ok {
		return err
	}
	f := r.PostForm
	err = s.cfg.Accounts.RequestEmailChange(r.Context(), a.ID, f.Get("new_email"), f.Get("current_password"), s.meta(w, r))
	return s.afterSettings(w, r, se, a, err, "email_change_sent")
}

// afterSettings shows the settings page again with the errors of the form
// just posted, or redirects to it with a success notice.
func (s *Server) afterSettings(w http.ResponseWriter, r *http.Request, se storage.Session, a storage.Account, err error, notice string) error {
	var v account.ValidationError
	switch {
	case errors.As(err, &v):
		p := s.newPage(r, "account.title")
		p.Form, p.Errors = r.PostForm, v
		s.renderAccount(w, r, http.StatusUnprocessableEntity, p, se, a)
		return nil
	case err != nil:
		return err
	}
	http.Redirect(w, r, "/account?"+url.Values{"notice": {notice}, "account": {a.ID}}.Encode(), http.StatusSeeOther)
	return nil
}

// endSession signs one of the account's sessions out, in this browser or
// any other.
func (s *Server) endSession(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(r); err != nil {
		return err
	}
	se, a, ok, err := s.signedIn(w, r)
	if !ok {
		return err
	}
	id := r.PostForm.Get("session_id")
	target, err := s.cfg.Store.GetSession(r.Context(), id)
	if errors.Is(err, storage.ErrNotFound) || (err == nil && target.AccountID != a.ID) {
		// Someone else's session id: say nothing about it.
		return errNotFound
	}
	if err != nil {
		return err
	}
	if err := s.cfg.Sessions.End(r.Context(), w, r, target.ID); err != nil {
		return err
	}
	if target.ID != se.ID {
		s.noteEndedElsewhere(r, target)
	}
	s.loggedOut(r.Context(), target.ID)
	s.cfg.Accounts.RecordSessionsEnded(r.Context(), a.ID, 1, s.meta(w, r))
	if target.ID == se.ID {
		http.Redirect(w, r, "/login?notice=logged_out", http.StatusSeeOther)
		return nil
	}
	http.Redirect(w, r, "/account?"+url.Values{"notice": {"session_ended"}, "account": {a.ID}}.Encode(), http.StatusSeeOther)
	return nil
}

// endAllSessions signs the account out of every browser, this one included.
func (s *Server) endAllSessions(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(r); err != nil {
		return err
	}
	se, a, ok, err := s.signedIn(w, r)
	if !ok {
		return err
	}
	// The sessions' IDs, for the applications signed in through them.
	ended, err := s.cfg.Store.ListSessions(r.Context(), a.ID)
	if err != nil {
		return err
	}
	n, err := s.cfg.Store.DeleteSessions(r.Context(), a.ID, "")
	if err != nil {
		return err
	}
	// Signed out of every browser: none is remembered for the second
	// step any more either.
	if err := authn.ForgetBrowsers(r.Context(), s.cfg.Store, a.ID); err != nil {
		return err
	}
	if err := s.cfg.Sessions.End(r.Context(), w, r, se.ID); err != nil {
		return err
	}
	for _, x := range ended {
		if x.ID != se.ID {
			s.noteEndedElsewhere(r, x)
		}
		s.loggedOut(r.Context(), x.ID)
	}
	s.cfg.Accounts.RecordSessionsEnded(r.Context(), a.ID, n, s.meta(w, r))
	http.Redirect(w, r, "/login?notice=sessions_ended", http.StatusSeeOther)
	return nil
}

// confirmEmailForm opens the link sent to a new address. It asks for a
// click rather than acting on the GET, so a mail scanner that follows
// links cannot change anyone's login address.
func (s *Server) confirmEmailForm(w http.ResponseWriter, r *http.Request) error {
	token := r.URL.Query().Get("token")
	t, err := s.cfg.Accounts.CheckEmailChangeLink(r.Context(), token)
	var le *account.LinkError
	if errors.As(err, &le) {
		return s.linkProblem(w, r, le, "email_change", "")
	}
	if err != nil {
		return err
	}
	p := s.newPage(r, "email.confirm.title")
	p.Form.Set("token", token)
	p.Message = p.T("email.confirm", "Email", t.Email)
	s.render(w, r, http.StatusOK, "confirm_email", p)
	return nil
}

func (s *Server) confirmEmail(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(r); err != nil {
		return err
	}
	a, err := s.cfg.Accounts.ConfirmEmailChange(r.Context(), r.PostForm.Get("token"), s.meta(w, r))
	var le *account.LinkError
	switch {
	case errors.As(err, &le):
		return s.linkProblem(w, r, le, "email_change", "")
	case errors.Is(err, account.ErrEmailTaken):
		return &httpError{Status: http.StatusConflict, Key: "email.taken"}
	case err != nil:
		return err
	}
	// Confirmed in a browser already signed in to the account (the usual
	// case: the person changed it there and opened the mail there): stay
	// signed in, on the account page. Elsewhere: the login form, with the
	// new address filled in.
	if se, err := s.cfg.Sessions.Current(r.Context(), r, a.ID); err == nil && se.AccountID == a.ID {
		http.Redirect(w, r, "/account?"+url.Values{"notice": {"email_changed_here"}, "account": {a.ID}}.Encode(), http.StatusSeeOther)
		return nil
	}
	http.Redirect(w, r, "/login?"+url.Values{"notice": {"email_changed"}, "email": {a.Email}}.Encode(), http.StatusSeeOther)
	return nil
}

func urlQueryEscape(s string) string { return url.QueryEscape(s) }

// noteEndedElsewhere leaves the browser of session x, signed out from this
// one, a note that its next page reads: it says why the person finds
// themselves signed out there. Losing the note loses only the explanation.
func (s *Server) noteEndedElsewhere(r *http.Request, x storage.Session) {
	now := s.cfg.Now().UTC()
	n := storage.EndedSession{ID: x.ID, Reason: account.EndedElsewhere, EndedAt: now, ExpiresAt: x.ExpiresAt}
	if err := s.cfg.Store.NoteEndedSessions(r.Context(), []storage.EndedSession{n}, now); err != nil {
		s.cfg.Logger.WarnContext(r.Context(), "note of an ended session not stored", "error", err)
	}
}
