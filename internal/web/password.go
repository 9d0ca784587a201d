package web

import (
	"errors"
	"net/http"

	"github.com/portti/portti/internal/account"
)

func (s *Server) forgotForm(w http.ResponseWriter, r *http.Request) error {
	p := s.newPage(r, "forgot.title")
	p.Form.Set("email", r.URL.Query().Get("email"))
	s.render(w, r, http.StatusOK, "forgot", p)
	return nil
}

// forgot orders a reset link. The answer is the same for any address.
func (s *Server) forgot(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(r); err != nil {
		return err
	}
	email := r.PostForm.Get("email")
	err := s.cfg.Accounts.ForgotPassword(r.Context(), email, s.meta(w, r))
	var v account.ValidationError
	if errors.As(err, &v) {
		p := s.newPage(r, "forgot.title")
		p.Form, p.Errors = r.PostForm, v
		s.render(w, r, http.StatusUnprocessableEntity, "forgot", p)
		return nil
	}
	if err != nil {
		return err
	}
	p := s.newPage(r, "forgot.sent.title")
	normalized, _ := account.NormalizeEmail(email)
	p.Form.Set("email", normalized)
	p.Message = p.T("forgot.sent", "Email", normalized, "Minutes", int(s.cfg.Accounts.Settings().RecoveryTTL.Minutes()))
	p.Data["Forgot"] = true
	s.render(w, r, http.StatusOK, "sent", p)
	return nil
}

// resetForm opens the link from the reset e-mail: the form if the link is
// good, else an explanation with a way to order a new one.
func (s *Server) resetForm(w http.ResponseWriter, r *http.Request) error {
	token := r.URL.Query().Get("token")
	a, err := s.cfg.Accounts.CheckRecoveryLink(r.Context(), token)
	var le *account.LinkError
	if errors.As(err, &le) {
		return s.linkProblem(w, r, le, "recovery", "")
	}
	if err != nil {
		return err
	}
	p := s.newPage(r, "reset.title")
	p.Form.Set("token", token)
	p.Data["Email"] = a.Email
	s.render(w, r, http.StatusOK, "reset", p)
	return nil
}

func (s *Server) reset(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(r); err != nil {
		return err
	}
	f := r.PostForm
	token := f.Get("token")
	a, err := s.cfg.Accounts.ResetPassword(r.Context(), token, f.Get("password"), f.Get("password_confirm"), s.meta(w, r))
	var le *account.LinkError
	var v account.ValidationError
	switch {
	case errors.As(err, &le):
		return s.linkProblem(w, r, le, "recovery", "")
	case errors.As(err, &v):
		p := s.newPage(r, "reset.title")
		p.Form.Set("token", token)
		p.Errors = v
		p.Data["Email"] = a.Email
		s.render(w, r, http.StatusUnprocessableEntity, "reset", p)
		return nil
	case errors.Is(err, account.ErrDisabled):
		return &httpError{Status: http.StatusForbidden, Key: "login.disabled"}
	case err != nil:
		return err
	}
	// Every session of the account ended with the reset, this browser's
	// included: the person signs in again with the new password.
	http.Redirect(w, r, "/login?notice=password_reset&email="+urlQueryEscape(a.Email), http.StatusSeeOther)
	return nil
}
