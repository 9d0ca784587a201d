package guests

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/portti/portti/internal/account"
)

// Gate decides who may use the inviters' console page: it answers the
// request itself (a redirect to sign in, a refusal) and reports false, or
// reports the inviter. The application builds it from the session and
// the staff roles, so that this package needs neither.
type Gate func(w http.ResponseWriter, r *http.Request) (Inviter, account.Meta, bool)

// ConsoleHandler serves /admin/guests: the invitation form and the
// inviter's own invitations (an admin sees everyone's). Wrap it with the
// web front's Protect.
func (s *Service) ConsoleHandler(pages Pages, gate Gate) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /admin/guests", func(w http.ResponseWriter, r *http.Request) {
		by, _, ok := gate(w, r)
		if !ok {
			return
		}
		s.consolePage(w, r, pages, by, http.StatusOK, url.Values{"lang": {pages.Lang(r)}}, nil, r.URL.Query().Get("sent"))
	})
	mux.HandleFunc("POST /admin/guests", func(w http.ResponseWriter, r *http.Request) {
		by, m, ok := gate(w, r)
		if !ok {
			return
		}
		if err := r.ParseForm(); err != nil {
			pages.RenderProblem(w, r, http.StatusBadRequest, "error.bad_request", "")
			return
		}
		f := r.PostForm
		var v account.ValidationError
		until, err := ParseUntil(f.Get("until"))
		if err != nil {
			v = append(v, account.FieldError{Field: "until", Code: "guests.error.until_format"})
		}
		var inv struct{ Email string }
		if len(v) == 0 {
			created, err := s.Invite(r.Context(), by, f.Get("email"), until, f.Get("note"), f.Get("lang"), m)
			for _, e := range []struct {
				err         error
				field, code string
			}{
				{ErrInvalidEmail, "email", "guests.error.email"},
				{ErrUntilPast, "until", "guests.error.until_past"},
				{ErrUntilFar, "until", "guests.error.until_far"},
				{ErrNoteTooLong, "note", "guests.error.note"},
			} {
				if errors.Is(err, e.err) {
					v = append(v, account.FieldError{Field: e.field, Code: e.code})
				}
			}
			if err != nil && len(v) == 0 {
				s.cfg.Logger.ErrorContext(r.Context(), "guest invitation failed", "error", err)
				pages.RenderProblem(w, r, http.StatusInternalServerError, "error.internal", "")
				return
			}
			inv.Email = created.Email
		}
		if len(v) > 0 {
			s.consolePage(w, r, pages, by, http.StatusUnprocessableEntity, f, v, "")
			return
		}
		// Post/redirect/get: a reload does not invite twice.
		http.Redirect(w, r, "/admin/guests?"+url.Values{"sent": {inv.Email}}.Encode(), http.StatusSeeOther)
	})
	return mux
}

type invitationRow struct {
	Email, Until, Note, Inviter, State string
}

func (s *Service) consolePage(w http.ResponseWriter, r *http.Request, pages Pages, by Inviter, status int, form url.Values, v account.ValidationError, sent string) {
	list, err := s.Invitations(r.Context(), by.AccountID)
	if err != nil {
		s.cfg.Logger.ErrorContext(r.Context(), "guest invitations not listed", "error", err)
		pages.RenderProblem(w, r, http.StatusInternalServerError, "error.internal", "")
		return
	}
	now := s.now()
	rows := make([]invitationRow, 0, len(list))
	for _, inv := range list {
		rows = append(rows, invitationRow{Email: inv.Email, Until: inv.EndsAt.In(Helsinki).Format("2.1.2006"),
			Note: inv.Note, Inviter: inv.Inviter, State: State(inv, now)})
	}
	errs := map[string]string{}
	for _, e := range v {
		errs[e.Field] = e.Code
	}
	pages.RenderPage(w, r, status, "guests_console", "guests.invite.title", map[string]any{
		"Email": form.Get("email"), "Until": form.Get("until"), "Note": form.Get("note"), "Lang": strings.TrimSpace(form.Get("lang")),
		"FieldErrors": errs, "Invitations": rows, "Sent": sent, "Days": int(s.cfg.LinkTTL.Hours() / 24),
		"Min": now.In(Helsinki).AddDate(0, 0, 1).Format("2006-01-02"),
		"Max": now.Add(s.cfg.MaxDuration).In(Helsinki).Format("2006-01-02"),
	})
}
