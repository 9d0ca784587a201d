package oidc

import (
	"html/template"
	"net/http"

	"github.com/portti/portti/internal/refcode"
)

// Problems shown to a person whose sign-in cannot go on. Keys are stable,
// for the web front's translations (Config.ErrorPage).
var (
	problemBadRequest = Problem{
		Status: http.StatusBadRequest, Key: "oidc.bad_request",
		Title:   "The sign-in request is not valid",
		Message: "The application sent a request portti cannot read. Go back to the application and try again; if it keeps happening, tell the application's support.",
	}
	problemUnknownClient = Problem{
		Status: http.StatusBadRequest, Key: "oidc.unknown_client",
		Title:   "Unknown application",
		Message: "The application that sent you here is not registered with this sign-in service, so you cannot sign in to it here. Tell the application's support.",
	}
	problemRedirectURI = Problem{
		Status: http.StatusBadRequest, Key: "oidc.redirect_uri",
		Title:   "The application's return address is not registered",
		Message: "The application asked to receive your sign-in at an address that is not registered for it, so portti does not send it there. Tell the application's support.",
	}
	problemExpired = Problem{
		Status: http.StatusBadRequest, Key: "oidc.expired",
		Title:   "This sign-in has expired",
		Message: "The sign-in took too long or has already been completed. Go back to the application and sign in again.",
	}
	problemLogout = Problem{
		Status: http.StatusBadRequest, Key: "oidc.logout",
		Title:   "The sign-out request is not valid",
		Message: "The application asked to sign you out in a way portti cannot accept. You can sign out on your account page.",
	}
	problemCrossOrigin = Problem{
		Status: http.StatusForbidden, Key: "oidc.cross_origin",
		Title:   "The form came from another website",
		Message: "The form was sent from another website, so portti did not act on it. Go back to the application and try again.",
	}
	problemInternal = Problem{
		Status: http.StatusInternalServerError, Key: "oidc.internal",
		Title:   "Something went wrong",
		Message: "The sign-in could not be completed because of a fault in the sign-in service. Try again in a moment.",
	}
)

// Problems lists every problem the provider may show, so that the web
// front can check that each has its translations.
func Problems() []Problem {
	return []Problem{problemBadRequest, problemUnknownClient, problemRedirectURI, problemExpired,
		problemLogout, problemCrossOrigin, problemInternal}
}

// page renders one of the provider's pages through Config.Pages. The
// provider's handler has set no-store and the framing headers already.
func (p *Provider) page(w http.ResponseWriter, r *http.Request, status int, name, titleKey string, data map[string]any) {
	if p.cfg.Pages != nil {
		p.cfg.Pages.RenderPage(w, r, status, name, titleKey, data)
		return
	}
	// Without the web front (tools, tests) there are no translated pages.
	pr := problemInternal
	pr.Status = status
	pr.Title = "This page cannot be shown"
	pr.Message = "portti's web pages are not configured (page " + name + ")."
	pr.Ref = newRef()
	writeProblemPage(w, pr)
}

// fail shows a problem page. It never redirects: these are the errors that
// cannot safely go back to the application.
func (p *Provider) fail(w http.ResponseWriter, r *http.Request, pr Problem) {
	if pr.Ref == "" {
		pr.Ref = newRef()
	}
	// client_id is public; nothing else from the request is logged (the
	// redirect_uri and state can carry anything).
	p.log.InfoContext(r.Context(), "oidc: sign-in stopped", "problem", pr.Key, "status", pr.Status,
		"ref", pr.Ref, "path", r.URL.Path, "client_id", truncate(r.Form.Get("client_id"), 128))
	p.auditRef(r, pr.Ref, "oidc.problem", r.Form.Get("client_id"), pr.Key)
	if p.cfg.ErrorPage != nil {
		p.cfg.ErrorPage(w, r, pr)
		return
	}
	writeProblemPage(w, pr)
}

// writeProblemPage is the built-in page, in English, for a provider
// without the web front.
func writeProblemPage(w http.ResponseWriter, pr Problem) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
	w.WriteHeader(pr.Status)
	_ = problemPage.Execute(w, pr)
}

func (p *Provider) failInternal(w http.ResponseWriter, r *http.Request, err error) {
	pr := problemInternal
	pr.Ref = newRef()
	p.log.ErrorContext(r.Context(), "oidc: sign-in failed", "ref", pr.Ref, "path", r.URL.Path, "error", err)
	p.fail(w, r, pr)
}

// problemPage is the fallback of Config.ErrorPage: the web front renders
// problems with its layout and in the person's language.
var problemPage = template.Must(template.New("problem").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}} – portti</title>
<style>body{font-family:system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem;line-height:1.5}small{color:#555}</style>
</head><body>
<h1>{{.Title}}</h1>
<p>{{.Message}}</p>
<p><small>Reference: {{.Ref}}</small></p>
</body></html>
`))

// newRef returns a reference code (package refcode: one format on every
// page) that a person can read to the helpdesk and that is in the log line
// about their problem.
func newRef() string { return refcode.New() }

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
