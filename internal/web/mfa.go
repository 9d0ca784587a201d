package web

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/portti/portti/internal/account"
	"github.com/portti/portti/internal/authn"
	"github.com/portti/portti/internal/storage"
)

// The pages of multi-factor authentication. Every rule is authn's; these
// handlers translate its outcomes into pages.
//
//	POST /login                      the password; when a second step remains, its page (mfa_login)
//	POST /login/mfa                  the second step: one field `code` (TOTP or recovery code)
//	GET  /account/mfa                the methods, recovery codes left, add/remove
//	GET  /account/mfa/{kind}/new     begin adding a method (needs a fresh sign-in)
//	POST /account/mfa/{kind}/new     confirm it (TOTP: one code from the app)
//	POST /account/mfa/remove         remove a method
//	POST /account/mfa/recovery       new recovery codes (the old ones die), shown once
//	POST /account/mfa/recovery/download, /print   the codes just shown, as a file or a printable page

// mfaRoutes adds the pages above to the server's routes.
func (s *Server) mfaRoutes(h func(pattern string, fn handlerFunc)) {
	h("POST /login/mfa", s.loginSecondStep)
	h("GET /account/mfa", s.mfaPage)
	h("GET /account/mfa/{kind}/new", s.enrolForm)
	h("POST /account/mfa/{kind}/new", s.enrol)
	h("POST /account/mfa/remove", s.removeMethod)
	h("POST /account/mfa/recovery", s.regenerateCodes)
	h("POST /account/mfa/recovery/download", s.downloadCodes)
	h("POST /account/mfa/recovery/print", s.printCodes)
	s.passkeyRoutes(h)
}

// secondStep shows the second step of a sign-in whose password was right.
func (s *Server) secondStep(w http.ResponseWriter, r *http.Request, status int, p *page, a storage.Account, challenge string) error {
	entries, err := s.cfg.MFA.Entries(r.Context(), a.ID)
	if err != nil {
		return err
	}
	p.TitleKey = "mfa.login.title"
	p.Form.Set("challenge", challenge)
	p.Data["Entries"] = s.entryRows(p, entries)
	p.Data["Passkey"] = s.passkeyEntries(entries)
	p.Data["Remember"] = s.rememberOffer(p)
	p.Data["AccessPass"] = s.cfg.AccessPass != nil
	s.render(w, r, status, "mfa_login", p)
	return nil
}

// loginSecondStep checks the second step's code.
func (s *Server) loginSecondStep(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(r); err != nil {
		return err
	}
	f := r.PostForm
	m := s.meta(w, r)
	started, err := s.startsSession(w, r, &m, f.Get("remember_me") != "")
	if err != nil {
		return err
	}
	res, err := s.cfg.MFA.Verify(r.Context(), f.Get("challenge"), f.Get("code"), m)
	p := s.secondStepPage(r)
	codeError := func(status int, key string) error {
		p.Errors = account.ValidationError{{Field: "code", Code: key}}
		return s.secondStep(w, r, status, p, res.Account, f.Get("challenge"))
	}
	if done, err := s.secondStepEnds(w, r, p, m, res, err, *started); done {
		return err
	}
	switch {
	case errors.Is(err, authn.ErrMalformed):
		if strings.TrimSpace(f.Get("code")) == "" {
			return codeError(http.StatusUnprocessableEntity, "field.required")
		}
		return codeError(http.StatusUnprocessableEntity, "mfa.code.malformed")
	case errors.Is(err, authn.ErrReplayed):
		return codeError(http.StatusUnauthorized, "mfa.code.replayed")
	case errors.Is(err, authn.ErrWrongCode):
		return codeError(http.StatusUnauthorized, "mfa.code.wrong")
	}
	return err
}

// secondStepPage is the second-step page of a posted attempt, keeping
// what the sign-in form carried.
func (s *Server) secondStepPage(r *http.Request) *page {
	f := r.PostForm
	p := s.newPage(r, "mfa.login.title")
	p.Form.Set("return", localPath(f.Get("return"), ""))
	p.Form.Set("remember_me", f.Get("remember_me"))
	p.Form.Set("mfa", f.Get("mfa"))
	return p
}

// secondStepEnds answers the outcomes that a second step ends the same
// way whichever method was used: success (the session starts), a
// challenge that is gone, a lock, a disabled account. done is false for
// the method's own errors, which its handler explains next to its form.
func (s *Server) secondStepEnds(w http.ResponseWriter, r *http.Request, p *page, m account.Meta, res authn.Result, err error, started bool) (done bool, _ error) {
	f := r.PostForm
	var locked *account.LockedError
	switch {
	case err == nil:
		if err := s.rememberIfAsked(w, r, res.Account, f); err != nil {
			return true, err
		}
		if !started {
			meta := sessionMeta(m)
			meta.Factors = res.Factors
			if _, err := s.cfg.Sessions.Start(r.Context(), w, r, res.Account.ID, f.Get("remember_me") != "", meta); err != nil {
				return true, err
			}
		}
		http.Redirect(w, r, localPath(f.Get("return"), "/account"), http.StatusSeeOther)
		return true, nil
	case errors.Is(err, authn.ErrChallengeGone):
		p.TitleKey = "mfa.login.gone.title"
		p.Message = p.T("mfa.login.gone")
		p.Data["LoginLink"] = "/login?" + url.Values{"return": {localPath(f.Get("return"), "")}}.Encode()
		s.render(w, r, http.StatusGone, "mfa_gone", p)
		return true, nil
	case errors.As(err, &locked):
		p.TitleKey = "login.locked.title"
		p.Message = p.T("login.locked", "Until", s.formatTime(p.Lang, locked.Until))
		p.Data["ForgotLink"] = "/password/forgot?" + url.Values{"email": {res.Account.Email}}.Encode()
		s.render(w, r, http.StatusForbidden, "locked", p)
		return true, nil
	case errors.Is(err, account.ErrDisabled):
		p.TitleKey = "login.title"
		p.Message = p.T("login.disabled")
		s.render(w, r, http.StatusForbidden, "login", p)
		return true, nil
	}
	return false, nil
}

// entryRow is a credential as the pages show it.
type entryRow struct {
	ID, Kind, Title, Name, Added, LastUsed, Detail string
	Backup, Warn                                   bool
}

func (s *Server) entryRows(p *page, entries []authn.Entry) []entryRow {
	var rows []entryRow
	for _, e := range entries {
		row := entryRow{
			ID: e.Credential.ID, Kind: e.Method.Kind(), Title: p.T(e.Method.TitleKey()), Name: e.Credential.Name,
			Added: s.formatTime(p.Lang, e.Credential.CreatedAt), Backup: e.Backup(),
		}
		if !e.Credential.LastUsedAt.IsZero() {
			row.LastUsed = s.formatTime(p.Lang, e.Credential.LastUsedAt)
		}
		if d, ok := e.Method.(authn.Describer); ok {
			key, args := d.Describe(e.Credential)
			row.Detail, row.Warn = p.T(key, args), strings.HasSuffix(key, "few_left")
		}
		rows = append(rows, row)
	}
	return rows
}

// mfaPage is /account/mfa.
func (s *Server) mfaPage(w http.ResponseWriter, r *http.Request) error {
	se, a, ok, err := s.signedIn(w, r)
	if !ok {
		return err
	}
	p := s.newPage(r, "mfa.title")
	if n := r.URL.Query().Get("notice"); noticeKeys[n] {
		p.Notice = p.T("notice." + n)
	}
	p.Form.Set("return", localPath(r.URL.Query().Get("return"), ""))
	return s.renderMFA(w, r, http.StatusOK, p, se, a)
}

func (s *Server) renderMFA(w http.ResponseWriter, r *http.Request, status int, p *page, se storage.Session, a storage.Account) error {
	entries, err := s.cfg.MFA.Entries(r.Context(), a.ID)
	if err != nil {
		return err
	}
	p.Account = &a
	p.Data["Entries"] = s.entryRows(p, entries)
	p.Data["Enabled"] = authn.Enabled(entries)
	p.Data["Required"] = s.cfg.MFA.RequiredFor(a) || p.Form.Get("return") != ""
	p.Data["Fresh"] = s.cfg.MFA.Fresh(se, authn.Enabled(entries))
	if ret := p.Form.Get("return"); ret != "" && r.URL.Query().Get("grace") != "" && !authn.Enabled(entries) && s.cfg.MFA.RequiredFor(a) {
		// Within the enrolment grace: by when, "Set up now" and "Later"
		// (on to where the sign-in was going). The grace is checked here
		// again: the query only asks for the offer.
		until, ok, err := s.cfg.MFA.EnrolmentGrace(r.Context(), a)
		if err != nil {
			return err
		}
		if ok {
			p.Data["GraceUntil"] = s.formatTime(p.Lang, until)
			p.Data["Later"] = ret
		}
	}
	type addable struct{ Kind, Title, Hint string }
	var add []addable
	for _, m := range s.cfg.MFA.Registry().Methods() {
		if _, ok := m.(authn.Enroller); ok {
			add = append(add, addable{m.Kind(), p.T(m.TitleKey()), p.T(m.TitleKey() + ".hint")})
		}
	}
	p.Data["Add"] = add
	s.render(w, r, status, "mfa", p)
	return nil
}

// reauthenticate sends a person whose sign-in is too old for the action
// to sign in again (password and, if they have one, second factor), and
// back to where they were.
func (s *Server) reauthenticate(w http.ResponseWriter, r *http.Request, a storage.Account, back string) {
	// mfa=fresh: a browser remembered for the second step does not skip
	// it here, where a fresh second factor is the point.
	http.Redirect(w, r, "/login?"+url.Values{"email": {a.Email}, "return": {back}, "notice": {"mfa_reauth"}, "mfa": {"fresh"}}.Encode(), http.StatusSeeOther)
}

// enrolBack is where an enrolment page returns: /account/mfa, keeping the
// sign-in's return path when enrolment was asked for during a sign-in.
func enrolBack(ret string) string {
	if ret == "" {
		return "/account/mfa"
	}
	return "/account/mfa?" + url.Values{"return": {ret}}.Encode()
}

func (s *Server) enrolForm(w http.ResponseWriter, r *http.Request) error {
	se, a, ok, err := s.signedIn(w, r)
	if !ok {
		return err
	}
	kind := r.PathValue("kind")
	ret := localPath(r.URL.Query().Get("return"), "")
	en, err := s.cfg.MFA.BeginEnrol(r.Context(), se, a, kind)
	switch {
	case errors.Is(err, authn.ErrUnknownMethod):
		return errNotFound
	case errors.Is(err, authn.ErrNotFresh):
		s.reauthenticate(w, r, a, r.URL.RequestURI())
		return nil
	case err != nil:
		return err
	}
	p := s.newPage(r, "mfa."+kind+".add.title")
	p.Form.Set("return", ret)
	return s.renderEnrolment(w, r, http.StatusOK, p, a, kind, en)
}

func (s *Server) renderEnrolment(w http.ResponseWriter, r *http.Request, status int, p *page, a storage.Account, kind string, en authn.Enrolment) error {
	p.Account = &a
	for k, v := range en.Data {
		p.Data[k] = v
	}
	p.Data["Kind"] = kind
	p.Form.Set("pending", en.Pending)
	s.render(w, r, status, en.Template, p)
	return nil
}

func (s *Server) enrol(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(r); err != nil {
		return err
	}
	se, a, ok, err := s.signedIn(w, r)
	if !ok {
		return err
	}
	kind := r.PathValue("kind")
	f := r.PostForm
	ret := localPath(f.Get("return"), "")
	res, err := s.cfg.MFA.FinishEnrol(r.Context(), se, a, kind, f.Get("pending"), f, s.meta(w, r))
	p := s.newPage(r, "mfa."+kind+".add.title")
	p.Form.Set("return", ret)
	p.Form.Set("name", f.Get("name"))
	if key := enrolCodeError(err, f.Get("code")); key != "" {
		en, ok, rerr := s.refreshEnrolment(a, kind, f.Get("pending"), key)
		if !ok {
			return s.enrolGone(w, r, p, kind, ret)
		}
		if rerr != nil {
			return rerr
		}
		p.Errors = account.ValidationError{{Field: "code", Code: key}}
		return s.renderEnrolment(w, r, http.StatusUnprocessableEntity, p, a, kind, en)
	}
	switch {
	case err == nil:
	case errors.Is(err, authn.ErrUnknownMethod):
		return errNotFound
	case errors.Is(err, authn.ErrNotFresh):
		s.reauthenticate(w, r, a, "/account/mfa/"+kind+"/new?"+url.Values{"return": {ret}}.Encode())
		return nil
	case errors.Is(err, authn.ErrAlreadyEnrolled):
		http.Redirect(w, r, "/account/mfa?notice=mfa_already_added", http.StatusSeeOther)
		return nil
	case errors.Is(err, authn.ErrPendingInvalid):
		return s.enrolGone(w, r, p, kind, ret)
	default:
		return err
	}
	if len(res.RecoveryCodes) > 0 {
		p.TitleKey = "mfa.codes.title"
		p.Notice = p.T("notice.mfa_added")
		return s.showCodes(w, r, p, a, res.RecoveryCodes, ret)
	}
	if ret != "" {
		http.Redirect(w, r, ret, http.StatusSeeOther)
		return nil
	}
	http.Redirect(w, r, "/account/mfa?notice=mfa_added", http.StatusSeeOther)
	return nil
}

// enrolCodeError is the message key of an enrolment error that the
// method's page explains next to its form (a code missing, malformed or
// wrong; a passkey that failed), or "" for the others.
func enrolCodeError(err error, code string) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, authn.ErrMalformed):
		if strings.TrimSpace(code) == "" {
			return "field.required"
		}
		return "mfa.code.malformed"
	case errors.Is(err, authn.ErrMismatch):
		return "mfa.code.wrong"
	case isPasskeyFailure(err):
		key, _ := passkeyErrorKey(err)
		return key
	}
	return ""
}

// refreshEnrolment is a method's enrolment page again, for the same
// pending credential, after enrolCodeError's kind of error. ok is false
// when the pending state is gone; err is the error page for a method
// that cannot show its page again.
func (s *Server) refreshEnrolment(a storage.Account, kind, pending, key string) (authn.Enrolment, bool, error) {
	m, _ := s.cfg.MFA.Registry().Get(kind)
	ref, ok := m.(interface {
		Refresh(storage.Account, string) (authn.Enrolment, error)
	})
	if !ok {
		return authn.Enrolment{}, true, &httpError{Status: http.StatusUnprocessableEntity, Key: key}
	}
	en, err := ref.Refresh(a, pending)
	if err != nil {
		return en, false, nil
	}
	return en, true, nil
}

func (s *Server) enrolGone(w http.ResponseWriter, r *http.Request, p *page, kind, ret string) error {
	p.TitleKey = "mfa.enrol.gone.title"
	p.Message = p.T("mfa.enrol.gone")
	p.Data["Again"] = "/account/mfa/" + kind + "/new?" + url.Values{"return": {ret}}.Encode()
	s.render(w, r, http.StatusGone, "mfa_gone", p)
	return nil
}

// showCodes shows a new set of recovery codes, once.
func (s *Server) showCodes(w http.ResponseWriter, r *http.Request, p *page, a storage.Account, codes []string, ret string) error {
	p.Account = &a
	p.Data["Codes"] = codes
	p.Data["Continue"] = localPath(ret, "/account/mfa")
	w.Header().Set("Cache-Control", "no-store")
	s.render(w, r, http.StatusOK, "mfa_codes", p)
	return nil
}

func (s *Server) removeMethod(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(r); err != nil {
		return err
	}
	se, a, ok, err := s.signedIn(w, r)
	if !ok {
		return err
	}
	err = s.cfg.MFA.Remove(r.Context(), se, a, r.PostForm.Get("id"), s.meta(w, r))
	switch {
	case errors.Is(err, authn.ErrNotFresh):
		s.reauthenticate(w, r, a, "/account/mfa")
		return nil
	case errors.Is(err, authn.ErrUnknownMethod):
		http.Redirect(w, r, "/account/mfa?notice=mfa_removed", http.StatusSeeOther) // gone already
		return nil
	case err != nil:
		return err
	}
	http.Redirect(w, r, "/account/mfa?notice=mfa_removed", http.StatusSeeOther)
	return nil
}

func (s *Server) regenerateCodes(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(r); err != nil {
		return err
	}
	se, a, ok, err := s.signedIn(w, r)
	if !ok {
		return err
	}
	codes, err := s.cfg.MFA.RegenerateRecovery(r.Context(), se, a, s.meta(w, r))
	switch {
	case errors.Is(err, authn.ErrNotFresh):
		s.reauthenticate(w, r, a, "/account/mfa")
		return nil
	case errors.Is(err, authn.ErrUnknownMethod):
		http.Redirect(w, r, "/account/mfa", http.StatusSeeOther)
		return nil
	case err != nil:
		return err
	}
	p := s.newPage(r, "mfa.codes.title")
	p.Notice = p.T("notice.mfa_codes_new")
	return s.showCodes(w, r, p, a, codes, "")
}

// postedCodes reads back the codes a codes page posts for download or
// print: only well-formed recovery codes, at most one set. They are the
// person's own, just shown to them; nothing is looked up.
func postedCodes(f url.Values) []string {
	var out []string
	for _, c := range f["codes"] {
		if len(out) == 10 || len(c) != 15 {
			break
		}
		n, err := authn.NormalizeCode(c)
		if err != nil || len(n) != 13 {
			continue
		}
		out = append(out, c)
	}
	return out
}

// signedInCodes reads the recovery codes a signed-in person's page
// posted back (download, print). ok is false when the request has been
// answered: not signed in, or no codes (back to /account/mfa).
func (s *Server) signedInCodes(w http.ResponseWriter, r *http.Request) (storage.Account, []string, bool, error) {
	if err := parseForm(r); err != nil {
		return storage.Account{}, nil, false, err
	}
	_, a, ok, err := s.signedIn(w, r)
	if !ok {
		return storage.Account{}, nil, false, err
	}
	codes := postedCodes(r.PostForm)
	if len(codes) == 0 {
		http.Redirect(w, r, "/account/mfa", http.StatusSeeOther)
		return storage.Account{}, nil, false, nil
	}
	return a, codes, true, nil
}

func (s *Server) downloadCodes(w http.ResponseWriter, r *http.Request) error {
	a, codes, ok, err := s.signedInCodes(w, r)
	if !ok {
		return err
	}
	p := s.newPage(r, "mfa.codes.title")
	var b strings.Builder
	b.WriteString(p.T("mfa.codes.file_heading", "Product", s.cfg.Product, "Email", a.Email) + "\r\n\r\n")
	for i, c := range codes {
		b.WriteString(strconv.Itoa(i+1) + ". " + c + "\r\n")
	}
	b.WriteString("\r\n" + p.T("mfa.codes.file_note") + "\r\n")
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Content-Disposition", `attachment; filename="`+s.cfg.Product+`-recovery-codes.txt"`)
	h.Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte(b.String()))
	return nil
}

func (s *Server) printCodes(w http.ResponseWriter, r *http.Request) error {
	a, codes, ok, err := s.signedInCodes(w, r)
	if !ok {
		return err
	}
	p := s.newPage(r, "mfa.codes.title")
	p.Account = &a
	p.Data["Codes"] = codes
	p.Data["Date"] = s.formatTime(p.Lang, s.cfg.Now())
	s.render(w, r, http.StatusOK, "mfa_print", p)
	return nil
}

// afterPassword decides what follows a right password when no second step
// was asked: the session starts; and when a second factor is required
// (the policy for this address, or the application that asked, by the
// `mfa` field its return carries) but the person has none yet, enrolment
// comes before the application gets its code.
//
// started: the sign-in's transaction began the session (startsSession).
func (s *Server) afterPassword(w http.ResponseWriter, r *http.Request, a storage.Account, m account.Meta, f url.Values, started bool) error {
	if !started {
		meta := sessionMeta(m)
		meta.Factors = []storage.AuthFactor{authn.Factor(authn.MethodPassword, s.cfg.Now())}
		if _, err := s.cfg.Sessions.Start(r.Context(), w, r, a.ID, f.Get("remember_me") != "", meta); err != nil {
			return err
		}
	}
	ret := localPath(f.Get("return"), "/account")
	if s.cfg.MFA != nil && (s.cfg.MFA.RequiredFor(a) || f.Get("mfa") == "required") {
		q := url.Values{"return": {ret}, "notice": {"mfa_required"}}
		if f.Get("mfa") == "" {
			// Only the policy asks: the enrolment grace may let the
			// person put it off (never an application's demand).
			_, ok, err := s.cfg.MFA.EnrolmentGrace(r.Context(), a)
			if err != nil {
				return err
			}
			if ok {
				q = url.Values{"return": {ret}, "grace": {"1"}}
			}
		}
		http.Redirect(w, r, "/account/mfa?"+q.Encode(), http.StatusSeeOther)
		return nil
	}
	http.Redirect(w, r, ret, http.StatusSeeOther)
	return nil
}
