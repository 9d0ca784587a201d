package app_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/portti/portti/internal/app"
	"github.com/portti/portti/internal/app/apptest"
	"github.com/portti/portti/internal/audit"
	"github.com/portti/portti/internal/config"
	"github.com/portti/portti/internal/mail/smtptest"
	"github.com/portti/portti/internal/session"
	"github.com/portti/portti/internal/storage"
	"github.com/portti/portti/internal/storage/sqlstore"
)

var (
	h1Pattern      = regexp.MustCompile(`(?s)<h1>(.*?)</h1>`)
	htmlLang       = regexp.MustCompile(`<html lang="([^"]*)">`)
	refPattern     = regexp.MustCompile(`[ABCDEFGHJKMNPQRSTUVWXYZ23456789]{4}-[ABCDEFGHJKMNPQRSTUVWXYZ23456789]{4}`)
	switcherToSwed = regexp.MustCompile(`href="(/lang/sv\?[^"]+)"`)
	placeholder    = regexp.MustCompile(`\{[A-Z][A-Za-z]*\}`)
)

func h1Of(t testing.TB, body string) string {
	t.Helper()
	m := h1Pattern.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no <h1> in page:\n%s", body)
	}
	return strings.TrimSpace(html.UnescapeString(m[1]))
}

// pageLang checks a page's language: the lang attribute of <html>, the
// Content-Language header, and that the heading is in that language (for
// Finnish and Swedish: not the English heading).
func pageLang(t testing.TB, a answer, want, englishH1 string) {
	t.Helper()
	m := htmlLang.FindStringSubmatch(a.Body)
	if m == nil || m[1] != want {
		t.Fatalf("<html lang> = %v, want %q\n%s", m, want, a.Body)
	}
	if got := a.Header.Get("Content-Language"); got != want {
		t.Errorf("Content-Language %q, want %q", got, want)
	}
	if p := placeholder.FindString(a.Body); p != "" {
		t.Errorf("%s page shows the unfilled placeholder %s", want, p)
	}
	h1 := h1Of(t, a.Body)
	switch {
	case h1 == "":
		t.Errorf("empty heading")
	case want == "en" && h1 != englishH1:
		t.Errorf("English page heading %q, want %q", h1, englishH1)
	case want != "en" && h1 == englishH1:
		t.Errorf("%s page has the English heading %q", want, h1)
	}
}

func TestPageLanguage(t *testing.T) {
	t.Parallel()
	env := apptest.Start(t, nil)
	loginH1 := enText("login.title")
	for accept, want := range map[string]string{
		"fi":                          "fi",
		"fi-FI,fi;q=0.9,en;q=0.8":     "fi",
		"sv-FI":                       "sv",
		"sv-SE,sv;q=0.9":              "sv",
		"en-GB":                       "en",
		"de-DE,ja;q=0.7":              "en",
		"":                            "en",
		"*":                           "en",
		"x-klingon;q=bogus,,;;":       "en",
		"de;q=0.9,sv;q=0.8,fi;q=0.7":  "sv",
		"en;q=0.1,fi;q=0.9,sv;q=0.5":  "fi",
		"nb-NO,no;q=0.9,en-US;q=0.8":  "en",
		"fi-x-private-use,sv;q=0.001": "fi",
	} {
		a := send(t, newBrowser(t), http.MethodGet, env.URL+"/login", nil, "Accept-Language", accept)
		if a.Status != http.StatusOK {
			t.Fatalf("Accept-Language %q: %d", accept, a.Status)
		}
		t.Run(strings.ReplaceAll(accept[:min(len(accept), 30)], "/", "_"), func(t *testing.T) {
			pageLang(t, a, want, loginH1)
		})
	}
	// A huge header costs nothing and breaks nothing.
	if a := send(t, newBrowser(t), http.MethodGet, env.URL+"/login", nil, "Accept-Language", strings.Repeat("fi-FI;q=0.5,", 4000)); a.Status != http.StatusOK {
		t.Errorf("huge Accept-Language: %d", a.Status)
	}
	// One tag the language registry does not know must not throw away the
	// ones it does.
	t.Run("unknown subtag", func(t *testing.T) {
		a := send(t, newBrowser(t), http.MethodGet, env.URL+"/login", nil, "Accept-Language", "fi-FI,fi;q=0.9,qq;q=0.1")
		pageLang(t, a, "fi", loginH1)
	})
	// The Finnish and Swedish pages are not the same text either.
	fi := send(t, newBrowser(t), http.MethodGet, env.URL+"/register", nil, "Accept-Language", "fi")
	sv := send(t, newBrowser(t), http.MethodGet, env.URL+"/register", nil, "Accept-Language", "sv")
	if h1Of(t, fi.Body) == h1Of(t, sv.Body) {
		t.Errorf("Finnish and Swedish registration pages have the same heading %q", h1Of(t, fi.Body))
	}
	if a := send(t, newBrowser(t), http.MethodGet, env.URL+"/login", nil); !strings.Contains(a.Header.Get("Vary"), "Accept-Language") {
		t.Errorf("Vary %q: a cache could serve one language to everyone", a.Header.Get("Vary"))
	}
}

func TestLanguageSwitcher(t *testing.T) {
	t.Parallel()
	env := apptest.Start(t, nil)
	c := newBrowser(t, "Accept-Language", "fi")
	a := send(t, c, http.MethodGet, env.URL+"/login", nil)
	pageLang(t, a, "fi", enText("login.title"))

	// The switcher is a plain link on the page.
	m := switcherToSwed.FindStringSubmatch(a.Body)
	if m == nil {
		t.Fatalf("no link to Swedish on the page:\n%s", a.Body)
	}
	href := html.UnescapeString(m[1])
	a = send(t, stayPut(c), http.MethodGet, env.URL+href, nil)
	if a.Status != http.StatusSeeOther || a.Header.Get("Location") != "/login" {
		t.Fatalf("GET %s: %d to %q", href, a.Status, a.Header.Get("Location"))
	}
	lc := cookieNamed(a.Resp.Cookies(), "portti-lang")
	if lc == nil || lc.Value != "sv" || !lc.HttpOnly || lc.SameSite != http.SameSiteLaxMode || lc.Path != "/" {
		t.Fatalf("language cookie: %v", a.Header.Values("Set-Cookie"))
	}
	// Swedish from now on, whatever the browser asks for.
	for _, path := range []string{"/login", "/register", "/password/forgot"} {
		a = send(t, c, http.MethodGet, env.URL+path, nil)
		if h := htmlLang.FindStringSubmatch(a.Body); h == nil || h[1] != "sv" {
			t.Fatalf("%s after choosing Swedish: %v", path, h)
		}
	}
	a = send(t, c, http.MethodGet, env.URL+"/lang/en?return=/login", nil)
	pageLang(t, a, "en", enText("login.title"))

	if a := send(t, stayPut(c), http.MethodGet, env.URL+"/lang/de?return=/login", nil); a.Status != http.StatusNotFound {
		t.Errorf("/lang/de: %d", a.Status)
	}

	// A return address off this site goes to the front page instead.
	for _, ret := range []string{
		"//evil.example", "https://evil.example", "http://evil.example/login", `/\evil.example`, `\\evil.example`,
		`\/evil.example`, "/\t/evil.example", "/\n/evil.example", "///evil.example", " //evil.example",
		"javascript:alert(1)", "http:evil.example", "evil.example", "", "/%2F%2Fevil.example/../", "//evil.example/%2e%2e",
	} {
		a := send(t, stayPut(newBrowser(t)), http.MethodGet, env.URL+"/lang/sv?"+url.Values{"return": {ret}}.Encode(), nil)
		loc := a.Header.Get("Location")
		if a.Status != http.StatusSeeOther {
			t.Errorf("return %q: status %d", ret, a.Status)
			continue
		}
		if u, err := url.Parse(loc); err != nil || u.Host != "" || u.Scheme != "" || !strings.HasPrefix(loc, "/") ||
			strings.HasPrefix(loc, "//") || strings.ContainsAny(loc, "\\\t\r\n") {
			t.Errorf("return %q: redirected to %q", ret, loc)
		}
		if !strings.HasPrefix(ret, "/%2F") && loc != "/" {
			t.Errorf("return %q: redirected to %q, want /", ret, loc)
		}
	}
	// A return address on this site is kept.
	a = send(t, stayPut(newBrowser(t)), http.MethodGet, env.URL+"/lang/fi?"+url.Values{"return": {"/register?email=a%40example.fi"}}.Encode(), nil)
	if loc := a.Header.Get("Location"); loc != "/register?email=a%40example.fi" {
		t.Errorf("local return: redirected to %q", loc)
	}
}

// TestLanguageSwitchAfterPost: the switcher on a page that answered a form
// post (a form with errors) leads back to a page, not to a 404.
func TestLanguageSwitchAfterPost(t *testing.T) {
	t.Parallel()
	env := apptest.Start(t, nil)
	const email = "aino@example.fi"
	acc := addUser(t, env, email, goodPassword)
	c := newBrowser(t)
	signIn(t, env, c, email, goodPassword, false)
	switchToSwedish := func(a answer) answer {
		t.Helper()
		m := switcherToSwed.FindStringSubmatch(a.Body)
		if m == nil {
			t.Fatalf("no link to Swedish on the page:\n%s", a.Body)
		}
		return send(t, c, http.MethodGet, env.URL+html.UnescapeString(m[1]), nil)
	}

	for _, tc := range []struct {
		path   string
		form   url.Values
		status int
		want   string // where the switcher leads
	}{
		{"/account/password", url.Values{"form": {"password"}, "account_id": {acc.ID}, "current_password": {"wrong"}}, 422, "/account"},
		{"/account/profile", url.Values{"form": {"profile"}, "account_id": {acc.ID}}, 422, "/account"},
		{"/account/email", url.Values{"form": {"email"}, "account_id": {acc.ID}, "new_email": {"x"}}, 422, "/account"},
		{"/register", url.Values{"email": {"x"}}, 422, "/register"},
		{"/password/forgot", url.Values{"email": {"x"}}, 422, "/password/forgot"},
		{"/email/confirm", url.Values{"token": {"x"}}, 404, "/account"}, // the front page, which is the account page
		{"/password/reset", url.Values{"token": {"x"}}, 404, "/account"},
	} {
		send(t, c, http.MethodGet, env.URL+"/lang/fi?return=/", nil)
		a := send(t, c, http.MethodPost, env.URL+tc.path, tc.form)
		if a.Status != tc.status {
			t.Fatalf("POST %s: %d, want %d\n%s", tc.path, a.Status, tc.status, a.Body)
		}
		a = switchToSwedish(a)
		if a.Status != http.StatusOK || a.URL.Path != tc.want {
			t.Errorf("switching language on the answer to POST %s: %d at %s, want %s", tc.path, a.Status, a.URL, tc.want)
			continue
		}
		if m := htmlLang.FindStringSubmatch(a.Body); m == nil || m[1] != "sv" {
			t.Errorf("after switching on the answer to POST %s: lang %v", tc.path, m)
		}
	}
}

func TestMailLanguage(t *testing.T) {
	t.Parallel()
	env := apptest.Start(t, nil)
	english := enText("register.sent.title") // only to check the pages below are not English

	// Registering on a Finnish page: the activation mail is Finnish.
	const fi, sv = "aino@example.fi", "astrid@example.fi"
	c := newBrowser(t, "Accept-Language", "fi-FI,fi;q=0.9")
	a := send(t, c, http.MethodPost, env.URL+"/register", registration(fi, goodPassword))
	if a.Status != http.StatusOK || h1Of(t, a.Body) == english {
		t.Fatalf("register in Finnish: %d %q", a.Status, h1Of(t, a.Body))
	}
	englishSubject := "Confirm your email address"
	m := env.Mail(t, fi, "")
	if m.Subject == "" || strings.Contains(m.Subject, englishSubject) {
		t.Errorf("activation mail to a Finnish registrant: subject %q", m.Subject)
	}
	if got := storedAccount(t, env, fi).Locale; got != "fi" {
		t.Errorf("stored locale %q, want fi", got)
	}

	// The switcher's choice beats Accept-Language for mail too.
	c = newBrowser(t, "Accept-Language", "fi")
	send(t, c, http.MethodGet, env.URL+"/lang/sv?return=/register", nil)
	send(t, c, http.MethodPost, env.URL+"/register", registration(sv, goodPassword))
	msv := env.Mail(t, sv, "")
	if msv.Subject == "" || strings.Contains(msv.Subject, englishSubject) || msv.Subject == m.Subject {
		t.Errorf("activation mail to a Swedish registrant: subject %q (Finnish one %q)", msv.Subject, m.Subject)
	}

	// Choosing a language while signed in changes the language of later mail.
	const en = "eero@example.fi"
	acc := addUser(t, env, en, goodPassword)
	c = newBrowser(t)
	signIn(t, env, c, en, goodPassword, false)
	send(t, c, http.MethodGet, env.URL+"/lang/fi?return=/account", nil)
	if got := storedAccount(t, env, en).Locale; got != "fi" {
		t.Fatalf("locale after choosing Finnish while signed in: %q", got)
	}
	a = send(t, c, http.MethodPost, env.URL+"/account/password", url.Values{
		"form": {"password"}, "account_id": {acc.ID},
		"current_password": {goodPassword}, "password": {otherPassword}, "password_confirm": {otherPassword},
	})
	if a.Status != http.StatusOK {
		t.Fatalf("change password: %d\n%s", a.Status, a.Body)
	}
	mp := env.SMTP.WaitFor(t, smtptest.To(en), 10*time.Second)
	if strings.Contains(mp.Subject, "Your password has been changed") {
		t.Errorf("password changed mail after choosing Finnish: subject %q", mp.Subject)
	}
}

func TestOversizedForm(t *testing.T) {
	t.Parallel()
	env := apptest.Start(t, nil)
	body := "email=a%40example.fi&password=" + strings.Repeat("x", 1<<20)
	req, _ := http.NewRequest(http.MethodPost, env.URL+"/register", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept-Language", "fi")
	resp, err := newBrowser(t).Do(req)
	if err != nil {
		t.Fatalf("post 1 MiB: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	a := answer{Status: resp.StatusCode, Body: string(b), Header: resp.Header, Resp: resp}
	if a.Status != http.StatusRequestEntityTooLarge {
		t.Fatalf("1 MiB form: %d\n%s", a.Status, a.Body)
	}
	mustContainText(t, a.Body, catalogText("fi", "error.too_large"))
	if m := htmlLang.FindStringSubmatch(a.Body); m == nil || m[1] != "fi" {
		t.Errorf("413 page not in Finnish: %v", m)
	}
	noAccount(t, env, "a@example.fi")

	// Still serving, on new connections and old.
	c := newBrowser(t)
	for range 3 {
		if a := send(t, c, http.MethodGet, env.URL+"/login", nil); a.Status != http.StatusOK {
			t.Fatalf("after a 1 MiB post: %d", a.Status)
		}
	}
	addUser(t, env, "aino@example.fi", goodPassword)
	signIn(t, env, c, "aino@example.fi", goodPassword, false)
}

func TestMalformedForm(t *testing.T) {
	t.Parallel()
	env := apptest.Start(t, nil)
	for _, tc := range []struct{ path, body string }{
		{"/login", "email=%zz&password=x"},
		{"/register", "email=a%40example.fi&password=%"},
		{"/password/forgot", "email=%G0"},
		{"/login?a=1;b=2", "email=a%40example.fi&password=x"},
		{"/account/profile", "form=profile&given_name=%e"},
		{"/activation", "email=%G0"},
		{"/activation/password", "token=%zz&password=x"},
	} {
		req, _ := http.NewRequest(http.MethodPost, env.URL+tc.path, strings.NewReader(tc.body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := newBrowser(t).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s %q: %d\n%s", tc.path, tc.body, resp.StatusCode, b)
			continue
		}
		mustContainText(t, string(b), enText("error.bad_request"))
	}
}

func TestCrossSiteForms(t *testing.T) {
	t.Parallel()
	env := apptest.Start(t, nil)
	const email, newcomer = "aino@example.fi", "newcomer@example.fi"
	acc := addUser(t, env, email, goodPassword)
	victim := newBrowser(t)
	signIn(t, env, victim, email, goodPassword, false)
	hash := storedAccount(t, env, email).PasswordHash
	sessions := len(liveSessions(t, env, acc.ID))

	forged := []struct {
		path string
		form url.Values
	}{
		{"/login", url.Values{"email": {email}, "password": {"wrong password"}}},
		{"/login", url.Values{"email": {email}, "password": {goodPassword}}},
		{"/register", registration(newcomer, goodPassword)},
		{"/account/password", url.Values{"form": {"password"}, "account_id": {acc.ID},
			"current_password": {goodPassword}, "password": {otherPassword}, "password_confirm": {otherPassword}}},
		{"/account/email", url.Values{"form": {"email"}, "account_id": {acc.ID}, "new_email": {"evil@evil.example"}, "current_password": {goodPassword}}},
		{"/account/sessions/end-all", url.Values{"account_id": {acc.ID}}},
		{"/logout", url.Values{"account_id": {acc.ID}}},
		{"/password/forgot", url.Values{"email": {email}}},
	}
	for _, hdr := range [][]string{
		{"Origin", "https://evil.example"},
		{"Sec-Fetch-Site", "cross-site"},
		{"Origin", "null"},
		{"Sec-Fetch-Site", "same-site", "Origin", "http://sub." + strings.TrimPrefix(env.URL, "http://")},
	} {
		for _, f := range forged {
			a := send(t, stayPut(victim), http.MethodPost, env.URL+f.path, f.form, hdr...)
			if a.Status != http.StatusForbidden {
				t.Errorf("%v POST %s: %d", hdr, f.path, a.Status)
				continue
			}
			mustContainText(t, a.Body, enText("error.cross_origin"))
			if sc := a.Header.Values("Set-Cookie"); len(sc) > 0 {
				t.Errorf("%v POST %s set cookies %v", hdr, f.path, sc)
			}
		}
	}
	// Nothing happened.
	got := storedAccount(t, env, email)
	if got.PasswordHash != hash || got.PendingEmail != "" || got.FailedLogins != 0 {
		t.Errorf("account changed by forged posts: %+v", got)
	}
	noAccount(t, env, newcomer)
	if n := len(liveSessions(t, env, acc.ID)); n != sessions {
		t.Errorf("%d sessions, had %d", n, sessions)
	}
	signedInAs(t, env, victim, email)
	time.Sleep(300 * time.Millisecond) // a mail, had one been queued, would be on its way
	if msgs := env.SMTP.Messages(); len(msgs) != 0 {
		t.Errorf("forged posts sent mail: %q", msgs[0].Subject)
	}

	// The same forms from this site itself are accepted.
	a := send(t, victim, http.MethodPost, env.URL+"/account/profile", url.Values{
		"form": {"profile"}, "account_id": {acc.ID}, "given_name": {"Aino"}, "family_name": {"Virtanen"},
	}, "Origin", env.URL, "Sec-Fetch-Site", "same-origin")
	if a.Status != http.StatusOK {
		t.Errorf("same-origin post: %d\n%s", a.Status, a.Body)
	}
}

func TestNotFoundPage(t *testing.T) {
	t.Parallel()
	env := apptest.Start(t, nil)
	notFoundH1 := enText("error.title")
	for _, tc := range []struct{ method, path, accept, lang string }{
		{"GET", "/no/such/page", "", "en"},
		{"GET", "/no/such/page", "fi", "fi"},
		{"GET", "/administrator", "sv-FI", "sv"},
		{"POST", "/no-such-form", "fi", "fi"},
		{"GET", "/logout", "fi", "fi"},
		{"GET", "/account/sessions/end", "sv", "sv"},
		{"DELETE", "/account", "", "en"},
		{"PUT", "/login", "fi", "fi"},
		{"GET", "/..%2f..%2fetc/passwd", "", "en"},
		{"GET", "/static/../../go.mod", "", "en"},
	} {
		var form url.Values
		if tc.method == "POST" {
			form = url.Values{}
		}
		a := send(t, newBrowser(t), tc.method, env.URL+tc.path, form, "Accept-Language", tc.accept)
		if a.Status != http.StatusNotFound {
			t.Errorf("%s %s: %d", tc.method, tc.path, a.Status)
			continue
		}
		pageLang(t, a, tc.lang, notFoundH1)
		mustContainText(t, a.Body, catalogText(tc.lang, "error.not_found"))
	}
	if a := send(t, newBrowser(t), http.MethodGet, env.URL+"/static/style.css", nil); a.Status != http.StatusOK {
		t.Errorf("style sheet: %d", a.Status)
	}
}

func TestBadLinkTokens(t *testing.T) {
	t.Parallel()
	env := apptest.Start(t, nil)
	const email = "aino@example.fi"
	send(t, newBrowser(t), http.MethodPost, env.URL+"/register", registration(email, goodPassword))
	link := env.Link(t, env.Mail(t, email, ""), "/activate")
	u, _ := url.Parse(link)
	real := u.Query().Get("token")
	flip := func(s string) string {
		b := []byte(s)
		if b[len(b)-1] == 'A' {
			b[len(b)-1] = 'B'
		} else {
			b[len(b)-1] = 'A'
		}
		return string(b)
	}
	tokens := map[string]string{
		"empty":     "",
		"garbage":   "garbage",
		"tampered":  flip(real),
		"truncated": real[:len(real)-1],
		"extended":  real + "A",
		"overlong":  strings.Repeat("A", 20000),
		"nul":       real[:20] + "\x00" + real[21:],
		"unicode":   strings.Repeat("ä", 43),
		"traversal": "../../../../etc/passwd",
		"sql":       "' OR '1'='1",
		"padded":    real + "=",
		"spaced":    " " + real,
	}
	for name, tok := range tokens {
		for _, tc := range []struct {
			method, path string
		}{
			{"GET", "/activate"},
			{"GET", "/password/reset"},
			{"GET", "/email/confirm"},
			{"POST", "/password/reset"},
			{"POST", "/email/confirm"},
			{"POST", "/activate/resend"},
		} {
			var a answer
			if tc.method == "GET" {
				a = send(t, newBrowser(t), "GET", env.URL+tc.path+"?"+url.Values{"token": {tok}}.Encode(), nil)
			} else {
				a = send(t, newBrowser(t), "POST", env.URL+tc.path, url.Values{"token": {tok}, "password": {otherPassword}, "password_confirm": {otherPassword}})
			}
			if tc.path == "/activate/resend" && name == "empty" {
				// No token: the page asks for an address instead.
				if a.Status != http.StatusUnprocessableEntity {
					t.Errorf("%s %s with no token and no address: %d", tc.method, tc.path, a.Status)
				}
				continue
			}
			if a.Status != http.StatusNotFound {
				t.Errorf("%s token on %s %s: %d\n%.300s", name, tc.method, tc.path, a.Status, a.Body)
			}
		}
	}
	// An activation link is no good for anything else, and trying does not
	// use it up.
	for _, tc := range []struct{ method, path string }{{"GET", "/password/reset"}, {"GET", "/email/confirm"}, {"POST", "/password/reset"}, {"POST", "/email/confirm"}} {
		var a answer
		if tc.method == "GET" {
			a = send(t, newBrowser(t), "GET", env.URL+tc.path+"?token="+real, nil)
		} else {
			a = send(t, newBrowser(t), "POST", env.URL+tc.path, url.Values{"token": {real}, "password": {otherPassword}, "password_confirm": {otherPassword}})
		}
		if a.Status != http.StatusNotFound {
			t.Errorf("activation token on %s %s: %d", tc.method, tc.path, a.Status)
		}
	}
	if storedAccount(t, env, email).PasswordHash == "" {
		t.Fatal("no password")
	}
	a := send(t, newBrowser(t), http.MethodGet, link, nil)
	if a.Status != http.StatusOK {
		t.Fatalf("the real link after the attempts: %d\n%s", a.Status, a.Body)
	}
	signIn(t, env, newBrowser(t), email, goodPassword, false)
}

func TestBusyDatabase(t *testing.T) {
	t.Parallel()
	env := apptest.Start(t, nil)
	ctx := context.Background()
	other, err := sqlstore.Open(ctx, env.App.Config.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()

	// Another process holds the write lock for 300 ms.
	inside := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- other.InTx(ctx, func(tx storage.Storage) error {
			close(inside)
			time.Sleep(300 * time.Millisecond)
			return nil
		})
	}()
	<-inside
	start := time.Now()
	// Reading pages does not wait for the writer (WAL).
	if a := send(t, newBrowser(t), http.MethodGet, env.URL+"/healthz", nil); a.Status != http.StatusOK {
		t.Errorf("health check while locked: %d", a.Status)
	}
	const email = "aino@example.fi"
	a := send(t, newBrowser(t), http.MethodPost, env.URL+"/register", registration(email, goodPassword))
	waited := time.Since(start)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if a.Status != http.StatusOK {
		t.Fatalf("register while the database was locked: %d\n%s", a.Status, a.Body)
	}
	if waited < 100*time.Millisecond {
		t.Errorf("registration took %v: it did not overlap the lock, so this test proves nothing", waited)
	}
	env.Settle(t)
	storedAccount(t, env, email)
	env.Mail(t, email, "")
}

// TestNoHalfCreatedAccount makes the outbox fail inside the registration's
// transaction (a trigger refuses new mail rows). The registration form
// only queues a task (its answer must not depend on the address), so the
// person sees the usual page; the task worker's transaction rolls back, no
// account without its activation link is left behind, and the task is
// retried until the outbox works again, when the activation link arrives.
func TestNoHalfCreatedAccount(t *testing.T) {
	t.Parallel()
	env := apptest.Start(t, nil)
	path := strings.TrimPrefix(env.App.Config.DatabaseURL, "sqlite:")
	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TRIGGER test_outbox_down BEFORE INSERT ON mail BEGIN SELECT RAISE(ABORT, 'outbox unavailable (test)'); END`); err != nil {
		t.Fatal(err)
	}

	const email = "aino@example.fi"
	a := send(t, newBrowser(t), http.MethodPost, env.URL+"/register", registration(email, goodPassword))
	if a.Status != http.StatusOK {
		t.Fatalf("register with the outbox down: %d\n%s", a.Status, a.Body)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(env.Logs(), "account task failed, will retry") {
		if time.Now().After(deadline) {
			t.Fatalf("the task worker did not try the registration:\n%s", env.Logs())
		}
		time.Sleep(5 * time.Millisecond)
	}
	noAccount(t, env, email)
	events, err := env.App.Store.ListEvents(context.Background(), "", 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range events {
		if e.Kind == audit.Registered || e.Kind == audit.ActivationSent {
			t.Errorf("audit table records %s for a registration that was rolled back", e.Kind)
		}
	}

	if _, err := db.Exec(`DROP TRIGGER test_outbox_down`); err != nil {
		t.Fatal(err)
	}
	env.Clock.Advance(time.Minute) // past the task's back-off
	m := env.Mail(t, email, "")
	env.Link(t, m, "/activate") // an activation link, not "you already have an account"
	storedAccount(t, env, email)
}

func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	env := apptest.Start(t, nil)
	addUser(t, env, "aino@example.fi", goodPassword)
	c := stayPut(newBrowser(t))
	for _, tc := range []struct {
		method, path string
		form         url.Values
		headers      []string
	}{
		{"GET", "/login", nil, nil},
		{"GET", "/register", nil, nil},
		{"GET", "/no/such/page", nil, nil},
		{"GET", "/healthz", nil, nil},
		{"GET", "/static/style.css", nil, nil},
		{"GET", "/activate?token=x", nil, nil},
		{"POST", "/login", url.Values{"email": {"aino@example.fi"}, "password": {goodPassword}}, nil},
		{"POST", "/login", url.Values{"email": {"aino@example.fi"}}, []string{"Origin", "https://evil.example"}},
	} {
		a := send(t, c, tc.method, env.URL+tc.path, tc.form, tc.headers...)
		h := a.Header
		csp := h.Get("Content-Security-Policy")
		for _, d := range []string{"default-src 'none'", "frame-ancestors 'none'", "base-uri 'none'"} {
			if !strings.Contains(csp, d) {
				t.Errorf("%s %s: CSP %q lacks %q", tc.method, tc.path, csp, d)
			}
		}
		for k, v := range map[string]string{"X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"} {
			if h.Get(k) != v {
				t.Errorf("%s %s: %s = %q, want %q", tc.method, tc.path, k, h.Get(k), v)
			}
		}
		if strings.HasPrefix(h.Get("Content-Type"), "text/html") && h.Get("Cache-Control") != "no-store" {
			t.Errorf("%s %s: a page with Cache-Control %q", tc.method, tc.path, h.Get("Cache-Control"))
		}
	}
}

func TestCookieAttributes(t *testing.T) {
	t.Parallel()
	env := apptest.Start(t, nil)
	addUser(t, env, "aino@example.fi", goodPassword)
	c := stayPut(newBrowser(t))
	var all []*http.Cookie
	a := send(t, c, http.MethodPost, env.URL+"/login", url.Values{"email": {"aino@example.fi"}, "password": {goodPassword}, "remember_me": {"yes"}})
	all = append(all, a.Resp.Cookies()...)
	a = send(t, c, http.MethodGet, env.URL+"/lang/fi?return=/", nil)
	all = append(all, a.Resp.Cookies()...)
	names := map[string]bool{}
	for _, ck := range all {
		names[ck.Name] = true
		if !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/" || ck.Domain != "" {
			t.Errorf("cookie %s", ck.Raw)
		}
		if ck.Secure {
			t.Errorf("cookie %s is Secure on a plain-http localhost portti: the browser would drop it", ck.Raw)
		}
	}
	for _, n := range []string{"portti-remember", "portti-session", "portti-device", "portti-lang"} {
		if !names[n] {
			t.Errorf("no %s cookie among %v", n, names)
		}
	}
}

// TestSecureCookies: over https the session and device cookies are Secure
// and carry the __Host- prefix. The test server speaks plain http, so the
// session manager and the wired handler are driven directly.
func TestSecureCookies(t *testing.T) {
	t.Parallel()
	check := func(t *testing.T, cookies []*http.Cookie, want ...string) {
		t.Helper()
		got := map[string]*http.Cookie{}
		for _, ck := range cookies {
			got[ck.Name] = ck
		}
		for _, name := range want {
			ck := got[name]
			switch {
			case ck == nil:
				t.Errorf("no %s cookie among %v", name, cookies)
			case !ck.Secure || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode:
				t.Errorf("cookie %s", ck.Raw)
			case strings.HasPrefix(name, "__Host-") && (ck.Path != "/" || ck.Domain != ""):
				t.Errorf("__Host- cookie with a path or domain: %s", ck.Raw)
			}
		}
		for name := range got {
			if strings.HasPrefix(name, "portti-") && name != "portti-lang" {
				t.Errorf("unprefixed cookie %s over https", name)
			}
		}
	}

	t.Run("manager", func(t *testing.T) {
		env := apptest.Start(t, nil)
		acc := addUser(t, env, "aino@example.fi", goodPassword)
		m := session.New(session.Config{Store: env.App.Store, Secure: true, Now: env.Clock.Now})
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodPost, "https://login.example.fi/login", nil)
		dev := m.DeviceID(rec, req)
		se, err := m.Start(context.Background(), rec, req, acc.ID, true, session.Meta{DeviceID: dev})
		if err != nil {
			t.Fatal(err)
		}
		cookies := rec.Result().Cookies()
		check(t, cookies, "__Host-portti-remember", "__Host-portti-device")
		// The browser sends them back; the manager finds the session.
		req = httptest.NewRequest(http.MethodGet, "https://login.example.fi/account", nil)
		for _, ck := range cookies {
			if ck.MaxAge >= 0 {
				req.AddCookie(&http.Cookie{Name: ck.Name, Value: ck.Value})
			}
		}
		if cur, err := m.Current(context.Background(), req, ""); err != nil || cur.ID != se.ID {
			t.Fatalf("Current = %v, %v", cur.ID, err)
		}
		// A cookie without the prefix (which any subdomain or plain-http
		// page could have set) is not a session.
		req = httptest.NewRequest(http.MethodGet, "https://login.example.fi/account", nil)
		for _, ck := range cookies {
			req.AddCookie(&http.Cookie{Name: strings.TrimPrefix(ck.Name, "__Host-"), Value: ck.Value})
		}
		if _, err := m.Current(context.Background(), req, ""); err == nil {
			t.Fatal("an unprefixed cookie was accepted over https")
		}
	})

	t.Run("app", func(t *testing.T) {
		env := apptest.Start(t, map[string]string{"PORTTI_PUBLIC_URL": "https://login.example.fi"})
		if !env.App.Config.SecureCookies() {
			t.Fatal("https public URL without secure cookies")
		}
		addUser(t, env, "aino@example.fi", goodPassword)
		h := env.App.Handler()
		for _, remember := range []string{"", "yes"} {
			rec := httptest.NewRecorder()
			req := httptest.NewRequest(http.MethodPost, "https://login.example.fi/login",
				strings.NewReader(url.Values{"email": {"aino@example.fi"}, "password": {goodPassword}, "remember_me": {remember}}.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusSeeOther {
				t.Fatalf("login over https: %d\n%s", rec.Code, rec.Body)
			}
			kept := "__Host-portti-session"
			if remember != "" {
				kept = "__Host-portti-remember"
			}
			check(t, rec.Result().Cookies(), kept, "__Host-portti-device")
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "https://login.example.fi/lang/fi?return=/login", nil))
		check(t, rec.Result().Cookies(), "portti-lang")
	})
}

func TestHealthz(t *testing.T) {
	t.Parallel()
	env := apptest.Start(t, nil)
	a := send(t, newBrowser(t), http.MethodGet, env.URL+"/healthz", nil)
	if a.Status != http.StatusOK || !strings.HasPrefix(a.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("healthz: %d %q", a.Status, a.Header.Get("Content-Type"))
	}
	var v struct{ Status string }
	if err := json.Unmarshal([]byte(a.Body), &v); err != nil || v.Status != "ok" {
		t.Fatalf("healthz body %q: %v", a.Body, err)
	}

	// A database that does not answer makes it 503.
	vars := map[string]string{
		"PORTTI_DATABASE_URL":  "sqlite:" + filepath.Join(t.TempDir(), "down.db"),
		"PORTTI_ARGON2_MEMORY": "64", "PORTTI_ARGON2_TIME": "1",
	}
	cfg, err := config.Load("", func(k string) (string, bool) { v, ok := vars[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	down, err := app.New(context.Background(), cfg, slog.New(slog.DiscardHandler), app.Options{})
	if err != nil {
		t.Fatal(err)
	}
	down.Close()
	rec := httptest.NewRecorder()
	down.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	if err := json.Unmarshal(rec.Body.Bytes(), &v); rec.Code != http.StatusServiceUnavailable || err != nil || v.Status != "unavailable" {
		t.Fatalf("healthz with the database down: %d %s", rec.Code, rec.Body)
	}
}
