package web

import (
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"strings"

	"github.com/portti/portti/internal/account"
	"github.com/portti/portti/internal/i18n"
	"github.com/portti/portti/internal/refcode"
	"github.com/portti/portti/internal/storage"
)

const langCookie = "portti-lang"

// handlerFunc is a handler that may fail; wrap turns its error into a page.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// httpError is an error with the status and the translated explanation a
// person should see. Every failing handler ends up here (caddy style).
type httpError struct {
	Status int
	Key    string         // catalogue key of the explanation
	Args   map[string]any // its arguments
	Err    error          // the cause, logged, never shown
	// Ref, when set, is a reference code already recorded with the audit
	// event about this refusal, shown on the page.
	Ref       string
	AccountID string // the account concerned, for the audit event of a server error
}

func (e *httpError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%d %s: %v", e.Status, e.Key, e.Err)
	}
	return fmt.Sprintf("%d %s", e.Status, e.Key)
}

func (e *httpError) Unwrap() error { return e.Err }

var (
	errNotFound   = &httpError{Status: http.StatusNotFound, Key: "error.not_found"}
	errBadRequest = &httpError{Status: http.StatusBadRequest, Key: "error.bad_request"}
)

func (s *Server) wrap(fn handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := fn(w, r); err != nil {
			s.renderError(w, r, err)
		}
	})
}

// renderError is the one place an error becomes a page. Unexpected errors
// get a short reference code, logged with the cause, that the person can
// quote to the helpdesk.
func (s *Server) renderError(w http.ResponseWriter, r *http.Request, err error) {
	var he *httpError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &he):
	case errors.As(err, &mbe):
		he = &httpError{Status: http.StatusRequestEntityTooLarge, Key: "error.too_large"}
	default:
		he = &httpError{Status: http.StatusInternalServerError, Key: "error.internal", Err: err}
	}
	p := s.newPage(r, "error.title")
	if he.Status >= 500 {
		ref := newRef()
		p.Ref = ref
		s.cfg.Logger.ErrorContext(r.Context(), "request failed", slog.String("ref", ref),
			slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Any("error", err))
		s.recordRef(r, ref, "http.error", he.AccountID, fmt.Sprintf("%d %s %s", he.Status, r.Method, r.URL.Path))
		if isBusy(err) {
			he = &httpError{Status: http.StatusServiceUnavailable, Key: "error.busy"}
			w.Header().Set("Retry-After", "2")
		}
	} else if he.Ref != "" {
		p.Ref = he.Ref
	} else if he.Err != nil {
		s.cfg.Logger.InfoContext(r.Context(), "request refused", slog.Int("status", he.Status), slog.String("key", he.Key), slog.Any("error", he.Err))
	}
	p.Message = p.T(he.Key, he.Args)
	s.render(w, r, he.Status, "error", p)
}

// RenderPage renders the page template name for a handler outside this
// package (the OpenID Connect provider's account chooser, consent,
// network-restricted and logout pages) like every other page: the layout,
// the person's language, the security headers. data is what the template
// reads as .Data; an entry "Path" (a local path) is where the language
// switcher returns to instead of the request's own URL.
func (s *Server) RenderPage(w http.ResponseWriter, r *http.Request, status int, name, titleKey string, data map[string]any) {
	setSecurityHeaders(w.Header())
	if _, ok := s.pages[name]; !ok {
		s.renderError(w, r, fmt.Errorf("web: no template %q", name))
		return
	}
	p := s.newPage(r, titleKey)
	for k, v := range data {
		p.Data[k] = v
	}
	if path, ok := data["Path"].(string); ok {
		p.Path = localPath(path, p.Path)
	}
	// A form of another package: its values, its errors (for the field
	// and errorsummary templates), and whether it sets a new password.
	if f, ok := data["Form"].(url.Values); ok {
		p.Form = f
	}
	if v, ok := data["Errors"].(account.ValidationError); ok {
		p.Errors = v
	}
	if b, ok := data["NewPassword"].(bool); ok {
		p.NewPassword = b
	}
	s.render(w, r, status, name, p)
}

// Lang is the language a request's pages are shown in (the person's
// choice, else the browser's), for packages with pages of their own.
func (s *Server) Lang(r *http.Request) string { return s.lang(r) }

// StrongIdentification reports whether strong identification is offered
// (config proofing.providers): the sign-in pages link to it.
func (p *page) StrongIdentification() bool { return p.s.cfg.StrongIdentification }

// HomeOrganisations reports whether sign-in with a home organisation is
// offered (config federation.providers).
func (p *page) HomeOrganisations() bool { return p.s.cfg.HomeOrganisations }

// RenderProblem renders the error page for a problem found outside this
// package (the OpenID Connect provider's: an unknown application, a
// return address that is not registered). key names the explanation in
// the catalogue and key+".title" its heading; ref, when set, is the
// reference code the caller logged with the cause.
func (s *Server) RenderProblem(w http.ResponseWriter, r *http.Request, status int, key, ref string) {
	setSecurityHeaders(w.Header())
	titleKey := key + ".title"
	if !s.cfg.Catalog.Has(titleKey) {
		titleKey = "error.title"
	}
	p := s.newPage(r, titleKey)
	if s.cfg.Catalog.Has(key) {
		p.Message = p.T(key)
	} else {
		s.cfg.Logger.ErrorContext(r.Context(), "no translation for a problem", slog.String("key", key))
		p.Message = p.T("error.internal")
	}
	p.Ref = ref
	s.render(w, r, status, "error", p)
}

// recordRef stores a reference code shown to a person as an audit event,
// so the helpdesk can find what happened from the code they read out. The
// cause itself stays in the log, next to the same code.
func (s *Server) recordRef(r *http.Request, ref, kind, accountID, reason string) {
	if s.cfg.Store == nil {
		return
	}
	e := storage.Event{
		Time: s.cfg.Now().UTC(), Kind: kind, AccountID: accountID, Ref: ref, Reason: reason,
		ClientIP: s.clientIP(r), UserAgent: r.UserAgent(),
	}
	if err := s.cfg.Store.AppendEvent(r.Context(), e); err != nil {
		s.cfg.Logger.WarnContext(r.Context(), "reference code not stored", slog.String("ref", ref), slog.Any("error", err))
	}
}

// isBusy recognises a database that stayed locked past its busy timeout.
func isBusy(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "database is locked") || strings.Contains(msg, "SQLITE_BUSY")
}

// newRef returns a reference code in the one format every page uses
// (package refcode).
func newRef() string { return refcode.New() }

// page is what every template gets.
type page struct {
	s         *Server
	Lang      string
	Languages []string
	TitleKey  string
	Product   string
	Path      string // the current path, for the language switcher
	Account   *storage.Account
	Notice    string // a translated one-line success message
	Message   string // the main message of an explanation page
	Ref       string // error reference code
	Form      url.Values
	Errors    account.ValidationError
	MailFrom  string
	Data      map[string]any
	// NewPassword: the page's password fields set a new password (the
	// reset and account pages), so they are labelled "New password".
	NewPassword bool
	// Banners are the operator's notices showing now (Config.Notices).
	Banners []string
}

// labelKey is the catalogue key of a field's label.
func (p *page) labelKey(name string) string {
	if p.NewPassword && (name == "password" || name == "password_confirm") {
		return "field.new_" + name
	}
	return "field." + name
}

func (s *Server) newPage(r *http.Request, titleKey string) *page {
	return &page{
		s: s, Lang: s.lang(r), Languages: i18n.Languages, TitleKey: titleKey,
		Product: s.cfg.Product, Path: returnPath(r), Form: url.Values{},
		MailFrom: s.cfg.MailFrom, Data: map[string]any{},
	}
}

// returnPath is where the language switcher brings a person back to: this
// page, or for the answer to a form post, the page the form was on (a
// GET of the post's own path would be a 404).
func returnPath(r *http.Request) string {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return r.URL.RequestURI()
	}
	switch p := r.URL.Path; {
	case p == "/register", p == "/login", p == "/password/forgot":
		return p
	case strings.HasPrefix(p, "/account/"):
		// Only a form already read: the error page of a refused post
		// must not read its body.
		if id := r.PostForm.Get("account_id"); id != "" {
			return "/account?" + url.Values{"account": {id}}.Encode()
		}
		return "/account"
	}
	return "/"
}

// lang picks the page language: the cookie set by the switcher, else the
// browser's Accept-Language.
func (s *Server) lang(r *http.Request) string {
	chosen := ""
	if c, err := r.Cookie(langCookie); err == nil {
		chosen = c.Value
	}
	return s.cfg.Catalog.Match(chosen, r.Header.Get("Accept-Language"))
}

// T translates a key; args are a map or alternating names and values.
func (p *page) T(key string, args ...any) string {
	var m map[string]any
	switch {
	case len(args) == 1:
		m, _ = args[0].(map[string]any)
	case len(args) > 1:
		m = map[string]any{}
		for i := 0; i+1 < len(args); i += 2 {
			m[fmt.Sprint(args[i])] = args[i+1]
		}
	}
	return p.s.cfg.Catalog.T(p.Lang, key, m)
}

// Title is the document title.
func (p *page) Title() string {
	return p.T(p.TitleKey) + " – " + p.Product
}

// LanguageName is how a language names itself in the switcher.
func (p *page) LanguageName(lang string) string { return p.s.cfg.Catalog.T(lang, "language.name", nil) }

// SwitchURL is the switcher's link to another language of this page.
func (p *page) SwitchURL(lang string) string {
	return "/lang/" + lang + "?" + url.Values{"return": {p.Path}}.Encode()
}

// field is what the "field" template draws: a label, an input, a hint and
// any errors, tied together for screen readers.
type field struct {
	ID, Name, Type, Label, Hint, Value, Autocomplete string
	Rules                                            string // id of the password rules list, read with a new password
	Required                                         bool
	Errors                                           []string
}

// Field describes one input. Password values are never sent back.
func (p *page) Field(name, typ, autocomplete string, required bool) field {
	return p.FormField("", name, typ, autocomplete, required)
}

// FormField is Field for a page with several forms that share field names
// (the settings page asks for the current password twice): the id gets the
// form's name, and errors show only on the form that was posted.
func (p *page) FormField(form, name, typ, autocomplete string, required bool) field {
	f := field{ID: fieldID(form, name), Name: name, Type: typ, Label: p.T(p.labelKey(name)), Autocomplete: autocomplete, Required: required}
	if p.s.cfg.Catalog.Has("hint." + name) {
		f.Hint = p.T("hint."+name, "Days", p.RememberDays())
	}
	if name == "password" && autocomplete == "new-password" {
		// The rules list sits above the new-password field; tie it to the
		// field so a screen reader reads the rules when it gets focus.
		f.Rules = f.ID + "-rules"
	}
	posted := p.Form.Get("form") == form
	if typ != "password" {
		f.Value = p.Form.Get(name)
	}
	if posted {
		for _, e := range p.Errors.For(name) {
			f.Errors = append(f.Errors, p.T(e.Code, e.Args))
		}
	}
	return f
}

func fieldID(form, name string) string {
	if form == "" {
		return name
	}
	return form + "-" + name
}

// ErrorSummary lists every problem at the top of a form, each linking to
// its field, so a screen reader user hears them all at once.
func (p *page) ErrorSummary() []map[string]string {
	var out []map[string]string
	for _, e := range p.Errors {
		out = append(out, map[string]string{"ID": fieldID(p.Form.Get("form"), e.Field), "Text": p.T(p.labelKey(e.Field)) + ": " + p.T(e.Code, e.Args)})
	}
	return out
}

// RememberDays is how long "remember me" keeps a person logged in.
func (p *page) RememberDays() int { return int(p.s.cfg.RememberTTL.Hours() / 24) }

// PasswordRules describes the password policy before anyone types. The
// upper length limit only guards the server; nobody needs to read it.
func (p *page) PasswordRules() []string {
	var out []string
	for _, rule := range p.s.cfg.Accounts.Settings().Policy.Requirements() {
		if rule.Code == "password.rule.max_length" {
			continue
		}
		out = append(out, p.T(rule.Code, rule.Args))
	}
	return out
}

func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, p *page) {
	t, ok := s.pages[name]
	if !ok {
		panic("web: no template " + name)
	}
	p.NewPassword = name == "reset" || name == "account"
	if s.cfg.Notices != nil {
		p.Banners = s.cfg.Notices(r.Context(), p.Lang)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", p); err != nil {
		ref := newRef()
		s.cfg.Logger.ErrorContext(r.Context(), "template failed", slog.String("ref", ref), slog.String("page", name), slog.Any("error", err))
		http.Error(w, "internal error, reference "+ref, http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Language", p.Lang)
	h.Set("Cache-Control", "no-store")
	h.Set("Vary", "Cookie, Accept-Language")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

func parseTemplates() (map[string]*template.Template, error) {
	pages := map[string]*template.Template{}
	if err := addTemplates(pages, templateFiles, "templates"); err != nil {
		return nil, err
	}
	return pages, nil
}

// AddPages parses every *.html file in the folder dir of fsys as a page
// rendered in the layout, for a package with pages of its own (the
// helpdesk console, strong identification): it renders them with
// RenderPage like web's own pages, in the person's language and with
// the same headers. A page name (the file name without .html) that is
// already taken is an error. Call it before the server handles requests.
func (s *Server) AddPages(fsys fs.FS, dir string) error {
	return addTemplates(s.pages, fsys, dir)
}

// addTemplates parses dir/*.html of fsys, each with a clone of web's
// layout, into pages.
func addTemplates(pages map[string]*template.Template, fsys fs.FS, dir string) error {
	layout, err := template.ParseFS(templateFiles, "templates/layout.html")
	if err != nil {
		return err
	}
	names, err := fs.Glob(fsys, dir+"/*.html")
	if err != nil {
		return err
	}
	for _, n := range names {
		name := strings.TrimSuffix(path.Base(n), ".html")
		if name == "layout" && fsys == fs.FS(templateFiles) {
			continue
		}
		if _, taken := pages[name]; taken {
			return fmt.Errorf("template %s: a page of that name exists", name)
		}
		t, err := template.Must(layout.Clone()).ParseFS(fsys, n)
		if err != nil {
			return fmt.Errorf("template %s: %w", name, err)
		}
		pages[name] = t
	}
	return nil
}

// localPath returns p if it is a path on this site, else fallback: a
// return address must never send a person to another site.
func localPath(p, fallback string) string {
	if p == "" || !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.ContainsAny(p, "\\\r\n\t") {
		return fallback
	}
	u, err := url.Parse(p)
	if err != nil || u.Scheme != "" || u.Host != "" {
		return fallback
	}
	return p
}
