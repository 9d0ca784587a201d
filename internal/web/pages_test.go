package web

import (
	"context"
	"html"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

// testAccount is what the provider passes for an account on its pages.
type testAccount struct{ ID, Name, Email string }

func (a testAccount) Label() string {
	if a.Name == "" {
		return a.Email
	}
	return a.Name + ", " + a.Email
}

type testApp struct {
	Name      string
	Confirmed bool
}

var (
	unfilled = regexp.MustCompile(`\{[A-Z][A-Za-z]*\}`)
	rawKey   = regexp.MustCompile(`>\s*(chooser|consent|restricted|logout|logged_out|oidc)\.[a-z_.]+\s*<`)
)

// TestRenderPage renders each of the provider's pages in each language as
// the provider does: every text translated and filled in, the headers of
// every page, the data on the page.
func TestRenderPage(t *testing.T) {
	s := newTestServer(t)
	accounts := []testAccount{{"a1", "Aino Virtanen", "aino@example.fi"}, {"a2", "", "eero@example.fi"}}
	pages := []struct {
		name, title string
		status      int
		data        map[string]any
		want        []string
	}{
		{"chooser", "chooser.title", 200, map[string]any{
			"App": "Moodle", "RequestID": "req-1", "Action": "/oauth2/authorize/continue", "Accounts": accounts,
			"AnotherURL": "/oauth2/authorize/continue?id=req-1&another=1",
		}, []string{"Aino Virtanen, aino@example.fi", "eero@example.fi", `name="op" value="continue"`, `name="op" value="signout"`, `value="req-1"`, `value="a2"`, "another=1"}},
		{"consent", "consent.title", 200, map[string]any{
			"App": "Partner", "RequestID": "req-2", "Action": "/oauth2/authorize/continue", "Account": accounts[0],
			"Scopes": []string{"consent.scope.openid", "consent.scope.email", "consent.scope.offline_access"}, "AnotherURL": "/x",
		}, []string{"Partner", "aino@example.fi", `value="allow"`, `value="deny"`}},
		{"restricted", "restricted.title", 403, map[string]any{"App": "HR system", "Ref": "ABCD-EFGH"}, []string{"HR system", "ABCD-EFGH"}},
		{"logout", "logout.title", 200, map[string]any{
			"App": "Moodle", "Accounts": accounts, "Action": "/oauth2/end_session", "ClientID": "moodle",
			"PostLogoutRedirectURI": "https://moodle.example.org/bye", "State": "st",
		}, []string{"Moodle", `name="confirm"`, `value="https://moodle.example.org/bye"`, `name="state" value="st"`, "eero@example.fi"}},
		{"logged_out", "logged_out.title", 200, map[string]any{
			"Apps":     []testApp{{"Moodle", true}, {"Wiki", false}},
			"LoginURL": "/login", "Path": "/login?notice=logged_out",
		}, []string{"Moodle", "Wiki", `href="/login"`}},
	}
	for _, lang := range []string{"fi", "sv", "en"} {
		for _, pg := range pages {
			rec := httptest.NewRecorder()
			req := httptest.NewRequest(http.MethodGet, "/oauth2/authorize/continue?id=req-1", nil)
			req.Header.Set("Accept-Language", lang)
			s.RenderPage(rec, req, pg.status, pg.name, pg.title, pg.data)
			body := rec.Body.String()
			if rec.Code != pg.status {
				t.Errorf("%s %s: status %d, want %d", lang, pg.name, rec.Code, pg.status)
			}
			if rec.Header().Get("Content-Language") != lang || !strings.Contains(body, `<html lang="`+lang+`">`) {
				t.Errorf("%s %s: not in %s", lang, pg.name, lang)
			}
			h := rec.Header()
			if !strings.Contains(h.Get("Content-Security-Policy"), "frame-ancestors 'none'") || h.Get("X-Frame-Options") != "DENY" || h.Get("Cache-Control") != "no-store" {
				t.Errorf("%s %s: headers %v", lang, pg.name, h)
			}
			text := html.UnescapeString(body)
			if m := unfilled.FindString(text); m != "" {
				t.Errorf("%s %s: %s not filled in", lang, pg.name, m)
			}
			if m := rawKey.FindString(text); m != "" {
				t.Errorf("%s %s: untranslated key %s", lang, pg.name, m)
			}
			if want := s.cfg.Catalog.T(lang, pg.title, nil); !strings.Contains(text, "<title>"+want+" – portti</title>") {
				t.Errorf("%s %s: title is not %q", lang, pg.name, want)
			}
			for _, w := range pg.want {
				if !strings.Contains(text, w) && !strings.Contains(body, w) {
					t.Errorf("%s %s: page lacks %q", lang, pg.name, w)
				}
			}
		}
	}

	// "Path" sets where the language switcher returns, if it is local.
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/oauth2/end_session?id_token_hint=secret-token", nil)
	s.RenderPage(rec, req, 200, "logged_out", "logged_out.title", map[string]any{"Path": "/login?notice=logged_out"})
	if strings.Contains(rec.Body.String(), "secret-token") {
		t.Error("the page links to its own URL, with the id_token")
	}
	// An unknown template is an internal error, not a panic.
	rec = httptest.NewRecorder()
	s.RenderPage(rec, httptest.NewRequest(http.MethodGet, "/", nil), 200, "no-such-page", "error.title", nil)
	if rec.Code != http.StatusInternalServerError {
		t.Errorf("unknown template: %d", rec.Code)
	}
}

func TestRenderProblem(t *testing.T) {
	s := newTestServer(t)
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/oauth2/authorize?client_id=nobody", nil)
	req.Header.Set("Accept-Language", "sv-FI")
	s.RenderProblem(rec, req, http.StatusBadRequest, "oidc.unknown_client", "ABCD-2345")
	body := html.UnescapeString(rec.Body.String())
	cat := s.cfg.Catalog
	if rec.Code != http.StatusBadRequest || !strings.Contains(body, "<h1>"+cat.T("sv", "oidc.unknown_client.title", nil)+"</h1>") ||
		!strings.Contains(body, cat.T("sv", "oidc.unknown_client", nil)) || !strings.Contains(body, "ABCD-2345") {
		t.Errorf("problem page: %d\n%s", rec.Code, body)
	}
	if !strings.Contains(rec.Header().Get("Content-Security-Policy"), "default-src 'none'") {
		t.Errorf("CSP %q", rec.Header().Get("Content-Security-Policy"))
	}
	// A key the catalogue lacks still gives a page.
	rec = httptest.NewRecorder()
	s.RenderProblem(rec, req, http.StatusInternalServerError, "oidc.no_such_problem", "")
	if rec.Code != http.StatusInternalServerError || strings.Contains(rec.Body.String(), "oidc.no_such_problem") {
		t.Errorf("unknown problem: %d", rec.Code)
	}
}

// TestLogoutHook: logging out calls Config.OnLogout with the ended session.
func TestLogoutHookWithoutSession(t *testing.T) {
	s := newTestServer(t)
	called := 0
	s.cfg.OnLogout = func(context.Context, string) { called++ }
	s.loggedOut(context.Background(), "sess")
	if called != 1 {
		t.Errorf("OnLogout called %d times", called)
	}
	s.cfg.OnLogout = nil
	s.loggedOut(context.Background(), "sess") // no hook: nothing happens
}
