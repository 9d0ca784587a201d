package web

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/portti/portti/internal/account"
	"github.com/portti/portti/internal/authn"
	"github.com/portti/portti/internal/authn/accesspass"
	"github.com/portti/portti/internal/storage"
)

// The pages of the helpdesk's temporary access pass. The rules are
// authn/accesspass's; these handlers only show them. Nothing here starts
// a session: a right pass opens the enrolment of one method (the grant
// travels in the forms like the second step's challenge), and the person
// then signs in with that method.
//
//	POST /login/pass                 from the second step: the pass form; with `pass`, check it
//	POST /login/pass/enrol/{kind}    with the grant: the method's enrolment page; with `pending`, confirm it

func (s *Server) accessPassRoutes(h func(pattern string, fn handlerFunc)) {
	h("POST /login/pass", s.accessPass)
	h("POST /login/pass/enrol/{kind}", s.accessPassEnrol)
}

// accessPass shows the pass form of a pending second step, and checks
// the pass posted from it.
func (s *Server) accessPass(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(r); err != nil {
		return err
	}
	f := r.PostForm
	p := s.secondStepPage(r)
	p.TitleKey = "tap.title"
	p.Form.Set("challenge", f.Get("challenge"))
	if _, posted := f["pass"]; !posted {
		// Only the way in: the challenge must still be live.
		if _, err := s.cfg.MFA.Challenge(r.Context(), f.Get("challenge")); err != nil {
			_, err := s.secondStepEnds(w, r, p, s.meta(w, r), authn.Result{}, err, true)
			return err
		}
		s.render(w, r, http.StatusOK, "tap_pass", p)
		return nil
	}
	m := s.meta(w, r)
	grant, a, err := s.cfg.AccessPass.Redeem(r.Context(), f.Get("challenge"), f.Get("pass"), m)
	if err != nil {
		// Never secondStepEnds with a nil error: that starts a session.
		if done, err := s.secondStepEnds(w, r, p, m, authn.Result{Account: a}, err, true); done {
			return err
		}
		key, status := "", http.StatusUnprocessableEntity
		switch {
		case errors.Is(err, accesspass.ErrMalformed):
			key = "tap.pass.malformed"
			if strings.TrimSpace(f.Get("pass")) == "" {
				key = "field.required"
			}
		case errors.Is(err, accesspass.ErrWrongPass):
			key, status = "tap.pass.wrong", http.StatusUnauthorized
		default:
			return err
		}
		p.Errors = account.ValidationError{{Field: "pass", Code: key}}
		s.render(w, r, status, "tap_pass", p)
		return nil
	}
	return s.accessPassChoose(w, r, a, grant, f.Get("return"))
}

// accessPassChoose lists the methods the grant may add.
func (s *Server) accessPassChoose(w http.ResponseWriter, r *http.Request, a storage.Account, grant, ret string) error {
	p := s.newPage(r, "tap.choose.title")
	p.Form.Set("grant", grant)
	p.Form.Set("return", localPath(ret, ""))
	type addable struct{ Kind, Title, Hint string }
	var add []addable
	for _, m := range s.cfg.MFA.Registry().Methods() {
		if _, ok := m.(authn.Enroller); ok {
			add = append(add, addable{m.Kind(), p.T(m.TitleKey()), p.T(m.TitleKey() + ".hint")})
		}
	}
	p.Data["Add"] = add
	p.Data["Email"] = a.Email
	w.Header().Set("Cache-Control", "no-store")
	s.render(w, r, http.StatusOK, "tap_choose", p)
	return nil
}

// accessPassEnrol is the enrolment of one method with a grant: the
// method's own page (the same templates as /account/mfa), posting here.
func (s *Server) accessPassEnrol(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(r); err != nil {
		return err
	}
	f := r.PostForm
	kind, grant := r.PathValue("kind"), f.Get("grant")
	ret := localPath(f.Get("return"), "")
	p := s.newPage(r, "mfa."+kind+".add.title")
	p.Form.Set("return", ret)
	p.Form.Set("name", f.Get("name"))
	show := func(status int, a storage.Account, en authn.Enrolment) error {
		p.Data["Action"] = "/login/pass/enrol/" + url.PathEscape(kind)
		p.Data["Grant"] = grant
		p.Data["Cancel"] = "/login"
		w.Header().Set("Cache-Control", "no-store")
		return s.renderEnrolment(w, r, status, p, a, kind, en)
	}
	if _, posted := f["pending"]; !posted {
		a, err := s.cfg.AccessPass.Grant(r.Context(), grant)
		if err != nil {
			return s.accessPassGone(w, r, p)
		}
		en, err := s.cfg.MFA.BeginEnrolGranted(r.Context(), a, kind)
		if errors.Is(err, authn.ErrUnknownMethod) {
			return errNotFound
		}
		if err != nil {
			return err
		}
		return show(http.StatusOK, a, en)
	}
	a, res, err := s.cfg.AccessPass.Enrol(r.Context(), grant, kind, f.Get("pending"), f, s.meta(w, r))
	if key := enrolCodeError(err, f.Get("code")); key != "" {
		en, ok, rerr := s.refreshEnrolment(a, kind, f.Get("pending"), key)
		if !ok {
			return s.accessPassGone(w, r, p)
		}
		if rerr != nil {
			return rerr
		}
		p.Errors = account.ValidationError{{Field: "code", Code: key}}
		return show(http.StatusUnprocessableEntity, a, en)
	}
	switch {
	case err == nil:
	case errors.Is(err, authn.ErrUnknownMethod):
		return errNotFound
	case errors.Is(err, accesspass.ErrGrantGone), errors.Is(err, authn.ErrPendingInvalid), errors.Is(err, authn.ErrAlreadyEnrolled):
		return s.accessPassGone(w, r, p)
	default:
		return err
	}
	// Added: now sign in with it, which gives a session with its factors.
	next := "/login?" + url.Values{"email": {a.Email}, "return": {ret}, "notice": {"tap_enrolled"}}.Encode()
	if len(res.RecoveryCodes) > 0 {
		p.TitleKey = "mfa.codes.title"
		p.Notice = p.T("notice.mfa_added")
		p.Data["Granted"] = true
		return s.showCodes(w, r, p, a, res.RecoveryCodes, next)
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
	return nil
}

// accessPassGone: the grant expired, was used, or the enrolment's state
// is no longer good: sign in again (a new pass from the helpdesk if the
// method was not added).
func (s *Server) accessPassGone(w http.ResponseWriter, r *http.Request, p *page) error {
	p.TitleKey = "tap.gone.title"
	p.Message = p.T("tap.gone")
	p.Data["LoginLink"] = "/login"
	s.render(w, r, http.StatusGone, "mfa_gone", p)
	return nil
}
