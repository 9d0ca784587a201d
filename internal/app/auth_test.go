package app_test

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portti/portti/internal/account"
	"github.com/portti/portti/internal/app/apptest"
	"github.com/portti/portti/internal/audit"
	"github.com/portti/portti/internal/mail/smtptest"
	"github.com/portti/portti/internal/secret"
	"github.com/portti/portti/internal/storage"
)

// The subjects of the English e-mails, as the tests look for them.
const (
	subjActivation = "Confirm your email address"
	subjAlready    = "You already have an account"
	subjRecovery   = "Set a new password"
	subjChanged    = "Your password has been changed"
	subjLocked     = "Your account is temporarily locked"
)

// Page texts the tests look for (English catalogue).
const (
	txtLoggedIn     = "You are signed in as "
	txtInvalidLogin = "The email address or password is not correct."
	txtLocked       = "<h1>Account locked</h1>"
)

// fetched is a finished request: the final status, headers, URL and body
// after any redirects.
type fetched struct {
	status int
	header http.Header
	url    *url.URL
	body   string
}

// do sends req with c and reads the whole answer.
func fetch(t *testing.T, c *http.Client, req *http.Request) fetched {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", req.Method, req.URL, err)
	}
	return fetched{status: resp.StatusCode, header: resp.Header, url: resp.Request.URL, body: string(b)}
}

// postWith posts a form with extra request headers.
func postWith(t *testing.T, c *http.Client, u string, form url.Values, h http.Header) fetched {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, vs := range h {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	return fetch(t, c, req)
}

func getFull(t *testing.T, c *http.Client, u string) fetched {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	return fetch(t, c, req)
}

func mustNotContain(t *testing.T, body string, unwanted ...string) {
	t.Helper()
	for _, w := range unwanted {
		if strings.Contains(body, w) {
			t.Fatalf("page contains %q:\n%s", w, body)
		}
	}
}

// login posts the login form.
func postLogin(t *testing.T, env *apptest.Env, c *http.Client, email, pw string) (int, string) {
	t.Helper()
	return post(t, c, env.URL+"/login", url.Values{"email": {email}, "password": {pw}})
}

// mustLogIn logs in and checks that the account page opened.
func mustLogIn(t *testing.T, env *apptest.Env, c *http.Client, email, pw string) {
	t.Helper()
	status, body := postLogin(t, env, c, email, pw)
	if status != http.StatusOK || !strings.Contains(body, txtLoggedIn+email) {
		t.Fatalf("login of %s: want the account page, got %d\n%s", email, status, body)
	}
}

// mustFailLogin logs in with a wrong password and checks the one answer a
// stranger gets.
func mustFailLogin(t *testing.T, env *apptest.Env, c *http.Client, email, pw string) {
	t.Helper()
	status, body := postLogin(t, env, c, email, pw)
	if status != http.StatusUnauthorized || !strings.Contains(body, txtInvalidLogin) {
		t.Fatalf("wrong password for %s: want 401 and the invalid-login message, got %d\n%s", email, status, body)
	}
}

// mustBeLocked logs in with the right password and checks the locked page.
func mustBeLocked(t *testing.T, env *apptest.Env, c *http.Client, email, pw string) string {
	t.Helper()
	status, body := postLogin(t, env, c, email, pw)
	if status != http.StatusForbidden || !strings.Contains(body, txtLocked) {
		t.Fatalf("right password for locked %s: want 403 and the locked page, got %d\n%s", email, status, body)
	}
	return body
}

// logout signs the browser's newest session out.
func mustLogOut(t *testing.T, env *apptest.Env, c *http.Client) {
	t.Helper()
	status, body := post(t, c, env.URL+"/logout", nil)
	if status != http.StatusOK || !strings.Contains(body, "You have signed out.") {
		t.Fatalf("logout: %d\n%s", status, body)
	}
}

// waitMail waits for a message to addr with subject whose first link to
// path is not one of seen, and returns the message and that link.
func waitMail(t *testing.T, env *apptest.Env, addr, subject, path string, seen ...string) (smtptest.Message, string) {
	t.Helper()
	to := smtptest.To(addr)
	linkIn := func(m smtptest.Message) string {
		for _, l := range smtptest.Links(m) {
			if strings.HasPrefix(l, env.URL+path) {
				return l
			}
		}
		return ""
	}
	m := env.SMTP.WaitFor(t, func(m smtptest.Message) bool {
		if !to(m) || !strings.Contains(m.Subject, subject) {
			return false
		}
		l := linkIn(m)
		for _, s := range seen {
			if l == s {
				return false
			}
		}
		return path == "" || l != ""
	}, 10*time.Second)
	return m, linkIn(m)
}

// tokenOf returns the token parameter of an e-mailed link.
func tokenOf(t *testing.T, link string) string {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil {
		t.Fatalf("link %q: %v", link, err)
	}
	tok := u.Query().Get("token")
	if tok == "" {
		t.Fatalf("link %q has no token", link)
	}
	return tok
}

// activated registers email and follows its activation link.
func activated(t *testing.T, env *apptest.Env, email, pw string) storage.Account {
	t.Helper()
	c := env.Browser(t)
	status, body := post(t, c, env.URL+"/register", registration(email, pw))
	if status != http.StatusOK {
		t.Fatalf("register %s: %d\n%s", email, status, body)
	}
	_, link := waitMail(t, env, email, subjActivation, "/activate")
	status, body = get(t, c, link)
	if status != http.StatusOK || !strings.Contains(body, "Your account is now active") {
		t.Fatalf("activate %s: %d\n%s", email, status, body)
	}
	return accountOf(t, env, email)
}

func accountOf(t *testing.T, env *apptest.Env, email string) storage.Account {
	t.Helper()
	a, err := env.App.Store.GetAccountByEmail(context.Background(), email)
	if err != nil {
		t.Fatalf("account %s: %v", email, err)
	}
	return a
}

// countAccounts counts the accounts whose address starts with prefix.
func countAccounts(t *testing.T, env *apptest.Env, prefix string) int {
	t.Helper()
	as, err := env.App.Store.ListAccounts(context.Background(), storage.AccountFilter{EmailPrefix: prefix, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return len(as)
}

// outbox lists every message portti queued, sent or not.
func queuedMail(t *testing.T, env *apptest.Env) []storage.Mail {
	t.Helper()
	ms, err := env.App.Store.ListMail(context.Background(), 1000)
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

func outboxTo(t *testing.T, env *apptest.Env, addr, subject string) []storage.Mail {
	t.Helper()
	var out []storage.Mail
	for _, m := range queuedMail(t, env) {
		if strings.EqualFold(m.To, addr) && strings.Contains(m.Subject, subject) {
			out = append(out, m)
		}
	}
	return out
}

func allEvents(t *testing.T, env *apptest.Env) []storage.Event {
	t.Helper()
	es, err := env.App.Store.ListEvents(context.Background(), "", 10000)
	if err != nil {
		t.Fatal(err)
	}
	return es
}

// deviceID is the stored identity of a browser's device cookie.
func deviceID(t *testing.T, env *apptest.Env, c *http.Client) string {
	t.Helper()
	u, _ := url.Parse(env.URL)
	for _, ck := range c.Jar.Cookies(u) {
		if strings.HasSuffix(ck.Name, "portti-device") {
			return secret.Hash(ck.Value)
		}
	}
	t.Fatal("browser has no device cookie")
	return ""
}

// resetPassword orders a reset link for email in c, follows it and sets pw.
func resetPassword(t *testing.T, env *apptest.Env, c *http.Client, email, pw string, seen ...string) string {
	t.Helper()
	status, body := post(t, c, env.URL+"/password/forgot", url.Values{"email": {email}})
	if status != http.StatusOK {
		t.Fatalf("forgot password: %d\n%s", status, body)
	}
	_, link := waitMail(t, env, email, subjRecovery, "/password/reset", seen...)
	status, body = get(t, c, link)
	if status != http.StatusOK {
		t.Fatalf("reset form: %d\n%s", status, body)
	}
	status, body = post(t, c, env.URL+"/password/reset", url.Values{"token": {tokenOf(t, link)}, "password": {pw}, "password_confirm": {pw}})
	if status != http.StatusOK || !strings.Contains(body, "Your password has been changed. Sign in with the new password.") {
		t.Fatalf("reset password: %d\n%s", status, body)
	}
	return link
}

// Helsinki time as the English pages show it.
func helsinkiTime(t time.Time) string {
	loc, err := time.LoadLocation("Europe/Helsinki")
	if err != nil {
		loc = time.FixedZone("EET", 2*3600)
	}
	return t.In(loc).Format("2 January 2006 at 15:04 (Helsinki time)")
}

// 1. Registering an address that has an account looks exactly like a new
// registration; only the owner learns, by e-mail.
func TestRegisterExistingAddressIsIndistinguishable(t *testing.T) {
	env := apptest.Start(t, nil)
	ctx := context.Background()
	const email, pw, otherPW = "elsa.andersson@example.fi", "kesämökki järven rannalla", "toinen pitkä salasana"

	t.Run("activated account", func(t *testing.T) {
		status1, body1 := post(t, env.Browser(t), env.URL+"/register", registration(email, pw))
		if status1 != http.StatusOK {
			t.Fatalf("register: %d\n%s", status1, body1)
		}
		_, link := waitMail(t, env, email, subjActivation, "/activate")
		if status, body := get(t, env.Browser(t), link); status != http.StatusOK {
			t.Fatalf("activate: %d\n%s", status, body)
		}
		before := accountOf(t, env, email)

		// A stranger (another browser) registers the same address, typed
		// differently, with another password.
		status2, body2 := post(t, env.Browser(t), env.URL+"/register", registration(" Elsa.Andersson@EXAMPLE.fi", otherPW))
		if status1 != http.StatusOK || status2 != status1 {
			t.Fatalf("statuses differ: new %d, existing %d", status1, status2)
		}
		if body1 != body2 {
			t.Fatalf("the page for an existing address differs from a new registration's:\nnew:\n%s\nexisting:\n%s", body1, body2)
		}

		m, login := waitMail(t, env, email, subjAlready, "/login")
		reset := env.Link(t, m, "/password/forgot")
		for _, l := range []string{login, reset} {
			u, _ := url.Parse(l)
			if got := u.Query().Get("email"); got != email {
				t.Errorf("link %s: email %q, want %q", l, got, email)
			}
		}
		for _, l := range smtptest.Links(m) {
			if strings.Contains(l, "/activate") || strings.Contains(l, "token=") {
				t.Errorf("already-registered mail carries a token link: %s", l)
			}
		}
		// The reset link leads to the form with the address filled in.
		status, body := get(t, env.Browser(t), reset)
		if status != http.StatusOK {
			t.Fatalf("reset link: %d\n%s", status, body)
		}
		mustContain(t, body, `action="/password/forgot"`, `value="`+email+`"`)

		if n := countAccounts(t, env, "elsa"); n != 1 {
			t.Fatalf("%d accounts for %s, want 1", n, email)
		}
		after := accountOf(t, env, email)
		if after.ID != before.ID || after.PasswordHash != before.PasswordHash || !after.PasswordChangedAt.Equal(before.PasswordChangedAt) {
			t.Fatalf("the existing account changed:\nbefore %+v\nafter  %+v", before, after)
		}
		if got := len(outboxTo(t, env, email, subjActivation)); got != 1 {
			t.Errorf("%d activation mails, want 1 (none for the second registration)", got)
		}
		mustLogIn(t, env, env.Browser(t), email, pw)
		mustFailLogin(t, env, env.Browser(t), email, otherPW)

		es, err := env.App.Store.ListEvents(ctx, before.ID, 100)
		if err != nil {
			t.Fatal(err)
		}
		if !hasEvent(es, audit.RegisterExisting, before.ID) {
			t.Errorf("no %s event: %+v", audit.RegisterExisting, es)
		}
	})

	t.Run("account awaiting activation", func(t *testing.T) {
		const email = "bertil@example.fi"
		status1, body1 := post(t, env.Browser(t), env.URL+"/register", registration(email, pw))
		_, first := waitMail(t, env, email, subjActivation, "/activate")
		status2, body2 := post(t, env.Browser(t), env.URL+"/register", registration(email, otherPW))
		if status1 != http.StatusOK || status2 != status1 || body1 != body2 {
			t.Fatalf("pages differ: %d vs %d\n%s\n---\n%s", status1, status2, body1, body2)
		}
		// The owner gets a fresh activation link, not a second account.
		_, second := waitMail(t, env, email, subjActivation, "/activate", first)
		if n := countAccounts(t, env, "bertil"); n != 1 {
			t.Fatalf("%d accounts, want 1", n)
		}
		if status, body := get(t, env.Browser(t), second); status != http.StatusOK {
			t.Fatalf("second activation link: %d\n%s", status, body)
		}
		// The first registration's password is the one that counts.
		mustLogIn(t, env, env.Browser(t), email, pw)
		mustFailLogin(t, env, env.Browser(t), email, otherPW)
	})
}

func hasEvent(es []storage.Event, kind, accountID string) bool {
	for _, e := range es {
		if e.Kind == kind && e.AccountID == accountID {
			return true
		}
	}
	return false
}

// 2. Activation links expire, can be renewed from the expired page, and
// bad links are explained.
func TestActivationLink(t *testing.T) {
	env := apptest.Start(t, nil)
	const email, pw = "cecilia@example.fi", "kesämökki järven rannalla"
	c := env.Browser(t)
	if status, body := post(t, c, env.URL+"/register", registration(email, pw)); status != http.StatusOK {
		t.Fatalf("register: %d\n%s", status, body)
	}
	_, first := waitMail(t, env, email, subjActivation, "/activate")
	token := tokenOf(t, first)

	t.Run("unknown or tampered", func(t *testing.T) {
		last := token[len(token)-1]
		flip := byte('A')
		if last == 'A' {
			flip = 'B'
		}
		for _, tok := range []string{token[:len(token)-1] + string(flip), "", "x", "../../etc/passwd", strings.Repeat("A", 43), "<script>"} {
			r := getFull(t, c, env.URL+"/activate?"+url.Values{"token": {tok}}.Encode())
			if r.status != http.StatusNotFound {
				t.Fatalf("token %q: %d, want 404\n%s", tok, r.status, r.body)
			}
			mustContain(t, r.body, "This activation link is not valid", `action="/activate/resend"`)
			mustNotContain(t, r.body, "<script>")
		}
		if a := accountOf(t, env, email); a.Activated() {
			t.Fatal("a bad link activated the account")
		}
		if strings.Contains(env.Logs(), "panic") {
			t.Fatalf("portti panicked:\n%s", env.Logs())
		}
	})

	t.Run("unknown link asks for the address", func(t *testing.T) {
		// The page's text asks for the address, so the form must have the
		// field; a button re-posting a token that matches nothing would
		// only lead to this page again.
		r := getFull(t, c, env.URL+"/activate?"+url.Values{"token": {strings.Repeat("A", 43)}}.Encode())
		if r.status != http.StatusNotFound {
			t.Fatalf("unknown link: %d, want 404", r.status)
		}
		mustContain(t, r.body, "Enter your email address", `action="/activate/resend"`, `<input id="email" name="email" type="email"`)
		mustNotContain(t, r.body, `name="token"`)
	})

	t.Run("expired link offers a new one", func(t *testing.T) {
		env.Clock.Advance(31 * time.Minute)
		r := getFull(t, c, first)
		if r.status != http.StatusGone {
			t.Fatalf("expired link: %d, want 410\n%s", r.status, r.body)
		}
		mustContain(t, r.body, "This activation link has expired", "Send a new activation link",
			`action="/activate/resend"`, `name="token" value="`+token+`"`)
		if a := accountOf(t, env, email); a.Activated() {
			t.Fatal("an expired link activated the account")
		}

		// The button posts the old token; no address needs typing.
		status, body := post(t, env.Browser(t), env.URL+"/activate/resend", url.Values{"token": {token}})
		if status != http.StatusOK {
			t.Fatalf("resend: %d\n%s", status, body)
		}
		mustContain(t, body, "we have sent a new activation link")
		_, second := waitMail(t, env, email, subjActivation, "/activate", first)
		status, body = get(t, c, second)
		if status != http.StatusOK {
			t.Fatalf("new link: %d\n%s", status, body)
		}
		mustContain(t, body, "Your account is now active")
		a := accountOf(t, env, email)
		if !a.ActivatedAt.Equal(env.Clock.Now()) {
			t.Fatalf("ActivatedAt %v, want %v", a.ActivatedAt, env.Clock.Now())
		}

		// Used and expired links of an active account say it is active.
		for _, l := range []string{second, first} {
			status, body = get(t, c, l)
			if status != http.StatusOK {
				t.Fatalf("old link %s: %d\n%s", l, status, body)
			}
			mustContain(t, body, "Your account is already active")
		}
		mustLogIn(t, env, c, email, pw)
	})
}

// normalise replaces an address typed on a page, in each form a page may
// show it, so that pages for different addresses compare.
func normalise(body string, emails ...string) string {
	for _, e := range emails {
		body = strings.ReplaceAll(body, url.QueryEscape(e), "EMAIL")
		body = strings.ReplaceAll(body, e, "EMAIL")
	}
	return body
}

// 3. What the login form answers, before and after the right password.
func TestLoginAnswers(t *testing.T) {
	env := apptest.Start(t, nil)
	ctx := context.Background()
	const pw = "kesämökki järven rannalla"

	t.Run("strangers learn nothing", func(t *testing.T) {
		const email = "david@example.fi"
		activated(t, env, email, pw)
		type answer struct {
			email  string
			status int
			body   string
		}
		var answers []answer
		for _, try := range []struct{ email, pw string }{
			{"nobody@example.fi", pw},   // unknown address
			{email, "väärä salasana 1"}, // wrong password
			{"not-an-email", pw},        // malformed address
			{"david@", pw},              // malformed address
			{"", ""},                    // nothing at all
		} {
			status, body := postLogin(t, env, env.Browser(t), try.email, try.pw)
			answers = append(answers, answer{try.email, status, body})
		}
		want := normalise(answers[0].body, answers[0].email)
		for _, a := range answers {
			if a.status != http.StatusUnauthorized {
				t.Fatalf("login as %q: %d, want 401\n%s", a.email, a.status, a.body)
			}
			mustContain(t, a.body, txtInvalidLogin)
			if a.email == "" {
				continue
			}
			if got := normalise(a.body, a.email); got != want {
				t.Fatalf("login as %q answers differently from an unknown address:\n%s\n---\n%s", a.email, got, want)
			}
		}
	})

	t.Run("not activated", func(t *testing.T) {
		const email = "eemeli@example.fi"
		c := env.Browser(t)
		post(t, c, env.URL+"/register", registration(email, pw))
		_, first := waitMail(t, env, email, subjActivation, "/activate")
		mustFailLogin(t, env, c, email, "väärä salasana 1") // wrong password: nothing told
		status, body := postLogin(t, env, c, email, pw)
		if status != http.StatusForbidden {
			t.Fatalf("not activated: %d, want 403\n%s", status, body)
		}
		mustContain(t, body, "has not been activated", `action="/activate/resend"`, `name="email" value="`+email+`"`)
		status, body = post(t, c, env.URL+"/activate/resend", url.Values{"email": {email}})
		if status != http.StatusOK {
			t.Fatalf("resend: %d\n%s", status, body)
		}
		_, second := waitMail(t, env, email, subjActivation, "/activate", first)
		if status, body := get(t, c, second); status != http.StatusOK {
			t.Fatalf("resent link: %d\n%s", status, body)
		}
		mustLogIn(t, env, c, email, pw)
	})

	t.Run("disabled", func(t *testing.T) {
		const email = "fanni@example.fi"
		activated(t, env, email, pw)
		if _, err := env.App.Accounts.Disable(ctx, email, account.Meta{}); err != nil {
			t.Fatal(err)
		}
		mustFailLogin(t, env, env.Browser(t), email, "väärä salasana 1")
		status, body := postLogin(t, env, env.Browser(t), email, pw)
		if status != http.StatusForbidden {
			t.Fatalf("disabled: %d, want 403\n%s", status, body)
		}
		mustContain(t, body, "This account has been disabled", "Contact the helpdesk")
		ref := regexp.MustCompile(`Reference code: ([A-Z2-9]{4}-[A-Z2-9]{4})\.`).FindStringSubmatch(body)
		if ref == nil {
			t.Fatalf("no reference code on the disabled page:\n%s", body)
		}
		if !strings.Contains(env.Logs(), "ref="+ref[1]) {
			t.Fatalf("reference code %s not in the log the helpdesk reads", ref[1])
		}
	})

	t.Run("locked", func(t *testing.T) {
		const email = "gustav@example.fi"
		activated(t, env, email, pw)
		c := env.Browser(t)
		for range 5 {
			mustFailLogin(t, env, c, email, "väärä salasana 1")
		}
		body := mustBeLocked(t, env, c, email, pw)
		until := env.Clock.Now().Add(24 * time.Hour)
		mustContain(t, body, "until "+helsinkiTime(until), `href="/password/forgot?email=`+url.QueryEscape(email)+`"`)
		if a := accountOf(t, env, email); !a.LockedUntil.Equal(until) {
			t.Fatalf("LockedUntil %v, want %v", a.LockedUntil, until)
		}
	})

	t.Run("expired password", func(t *testing.T) {
		env := apptest.Start(t, map[string]string{"PORTTI_PASSWORD_MAX_AGE": "2160h"})
		const email, newPW = "hilda@example.fi", "uusi salasana syksyllä"
		activated(t, env, email, pw)
		c := env.Browser(t)
		mustLogIn(t, env, c, email, pw)
		mustLogOut(t, env, c)

		env.Clock.Advance(91 * 24 * time.Hour)
		mustFailLogin(t, env, c, email, "väärä salasana 1") // still nothing told before the password
		status, body := postLogin(t, env, c, email, pw)
		if status != http.StatusForbidden {
			t.Fatalf("expired password: %d, want 403\n%s", status, body)
		}
		mustContain(t, body, "Your password has expired", `action="/password/reset"`, "Account: "+email)
		m := regexp.MustCompile(`name="token" value="([A-Za-z0-9_-]{43})"`).FindStringSubmatch(body)
		if m == nil {
			t.Fatalf("no change token in the form:\n%s", body)
		}
		// The policy applies here too.
		status, body = post(t, c, env.URL+"/password/reset", url.Values{"token": {m[1]}, "password": {"password1"}, "password_confirm": {"password1"}})
		if status != http.StatusUnprocessableEntity {
			t.Fatalf("common password: %d, want 422\n%s", status, body)
		}
		status, body = post(t, c, env.URL+"/password/reset", url.Values{"token": {m[1]}, "password": {newPW}, "password_confirm": {newPW}})
		if status != http.StatusOK {
			t.Fatalf("new password: %d\n%s", status, body)
		}
		mustContain(t, body, "Your password has been changed")
		mustFailLogin(t, env, c, email, pw)
		mustLogIn(t, env, c, email, newPW)
		// The change token was single-use.
		status, body = post(t, c, env.URL+"/password/reset", url.Values{"token": {m[1]}, "password": {pw}, "password_confirm": {pw}})
		if status != http.StatusGone {
			t.Fatalf("change token reused: %d, want 410\n%s", status, body)
		}
	})
}

// 4. Lockout: strangers lock the account everywhere but in the owner's own
// browsers; the owner's typos lock only the browser they are made in.
func TestLockout(t *testing.T) {
	const pw, newPW, wrong = "kesämökki järven rannalla", "uusi salasana syksyllä", "väärä salasana 1"

	t.Run("a stranger locks the account but not the owner's browser", func(t *testing.T) {
		env := apptest.Start(t, nil)
		ctx := context.Background()
		const email = "iida@example.fi"
		acc := activated(t, env, email, pw)
		owner := env.Browser(t) // B
		mustLogIn(t, env, owner, email, pw)
		mustLogOut(t, env, owner)

		stranger := env.Browser(t) // A: never logged in
		for i := range 5 {
			mustFailLogin(t, env, stranger, email, wrong)
			if i == 3 {
				if a := accountOf(t, env, email); a.FailedLogins != 4 || !a.LockedUntil.IsZero() {
					t.Fatalf("after 4 failures: %d failures, locked until %v", a.FailedLogins, a.LockedUntil)
				}
			}
		}
		lockedAt := env.Clock.Now()
		if a := accountOf(t, env, email); !a.LockedUntil.Equal(lockedAt.Add(24 * time.Hour)) {
			t.Fatalf("account LockedUntil %v, want %v", a.LockedUntil, lockedAt.Add(24*time.Hour))
		}
		m, _ := waitMail(t, env, email, subjLocked, "/password/forgot")
		mustContain(t, m.Text, "5 times")
		mustBeLocked(t, env, stranger, email, pw)

		// The owner's browser is not locked out, and logging in there does
		// not lift the lock the stranger caused.
		env.Clock.Advance(time.Minute)
		mustLogIn(t, env, owner, email, pw)
		mustLogOut(t, env, owner)
		if a := accountOf(t, env, email); !a.LockedUntil.Equal(lockedAt.Add(24 * time.Hour)) {
			t.Fatalf("the owner's login lifted the account lock: LockedUntil %v", a.LockedUntil)
		}
		mustBeLocked(t, env, stranger, email, pw)

		// The owner's own typos count on that browser only.
		for range 5 {
			mustFailLogin(t, env, owner, email, wrong)
		}
		mustBeLocked(t, env, owner, email, pw)
		d, err := env.App.Store.GetKnownDevice(ctx, acc.ID, deviceID(t, env, owner))
		if err != nil {
			t.Fatal(err)
		}
		if !d.LockedUntil.Equal(env.Clock.Now().Add(24 * time.Hour)) {
			t.Fatalf("device LockedUntil %v, want %v", d.LockedUntil, env.Clock.Now().Add(24*time.Hour))
		}
		if a := accountOf(t, env, email); a.FailedLogins != 0 {
			t.Fatalf("the owner's typos counted on the account: %d", a.FailedLogins)
		}
		// A third browser sees the stranger's account lock.
		mustBeLocked(t, env, env.Browser(t), email, pw)
		if n := len(outboxTo(t, env, email, subjLocked)); n != 1 {
			t.Fatalf("%d lock mails, want 1 (a device lock sends none)", n)
		}

		// The reset link from the lock mail unlocks everything.
		lockMail := outboxTo(t, env, email, subjLocked)[0]
		if !strings.Contains(lockMail.Text, env.URL+"/password/forgot?email="+url.QueryEscape(email)) {
			t.Fatalf("lock mail lacks the reset link:\n%s", lockMail.Text)
		}
		env.Clock.Advance(time.Minute)
		resetPassword(t, env, stranger, email, newPW)
		mustFailLogin(t, env, stranger, email, pw)
		mustLogIn(t, env, stranger, email, newPW)
		mustLogIn(t, env, env.Browser(t), email, newPW)

		// In the owner's browser the old device lock no longer holds, and
		// new typos there lock it again.
		for range 5 {
			mustFailLogin(t, env, owner, email, wrong)
		}
		mustBeLocked(t, env, owner, email, newPW)
	})

	t.Run("the owner's typos lock only that browser", func(t *testing.T) {
		env := apptest.Start(t, nil)
		const email = "jussi@example.fi"
		activated(t, env, email, pw)
		owner := env.Browser(t)
		mustLogIn(t, env, owner, email, pw)
		mustLogOut(t, env, owner)
		for range 5 {
			mustFailLogin(t, env, owner, email, wrong)
		}
		mustBeLocked(t, env, owner, email, pw)
		if a := accountOf(t, env, email); a.FailedLogins != 0 || !a.LockedUntil.IsZero() {
			t.Fatalf("account: %d failures, locked until %v; want neither", a.FailedLogins, a.LockedUntil)
		}
		other := env.Browser(t)
		mustLogIn(t, env, other, email, pw)
		mustBeLocked(t, env, owner, email, pw) // another browser's login does not unlock this one
		if n := len(outboxTo(t, env, email, subjLocked)); n != 0 {
			t.Fatalf("%d lock mails for a browser lock, want 0", n)
		}
		env.Clock.Advance(time.Minute)
		resetPassword(t, env, other, email, newPW)
		mustLogIn(t, env, owner, email, newPW)
	})

	t.Run("the helpdesk's unlock reaches the owner's browser too", func(t *testing.T) {
		env := apptest.Start(t, nil)
		const email = "liisa@example.fi"
		activated(t, env, email, pw)
		owner := env.Browser(t)
		mustLogIn(t, env, owner, email, pw)
		mustLogOut(t, env, owner)
		stranger := env.Browser(t)
		for range 5 {
			mustFailLogin(t, env, owner, email, wrong)
			mustFailLogin(t, env, stranger, email, wrong)
		}
		mustBeLocked(t, env, owner, email, pw)
		mustBeLocked(t, env, stranger, email, pw)
		if _, err := env.App.Accounts.Unlock(context.Background(), email, account.Meta{}); err != nil {
			t.Fatal(err)
		}
		mustLogIn(t, env, owner, email, pw)
		mustLogIn(t, env, stranger, email, pw)
	})

	t.Run("configured threshold and duration", func(t *testing.T) {
		env := apptest.Start(t, map[string]string{"PORTTI_LOCKOUT_THRESHOLD": "3", "PORTTI_LOCKOUT_DURATION": "1h"})
		const email = "kaisa@example.fi"
		activated(t, env, email, pw)
		c := env.Browser(t)
		for range 2 {
			mustFailLogin(t, env, c, email, wrong)
		}
		if a := accountOf(t, env, email); a.FailedLogins != 2 || !a.LockedUntil.IsZero() {
			t.Fatalf("after 2 failures: %d, locked until %v", a.FailedLogins, a.LockedUntil)
		}
		mustFailLogin(t, env, c, email, wrong)
		body := mustBeLocked(t, env, c, email, pw)
		mustContain(t, body, "until "+helsinkiTime(env.Clock.Now().Add(time.Hour)))
		m, _ := waitMail(t, env, email, subjLocked, "/password/forgot")
		mustContain(t, m.Text, "3 times")

		env.Clock.Advance(59 * time.Minute)
		mustBeLocked(t, env, c, email, pw)
		env.Clock.Advance(time.Minute)
		mustLogIn(t, env, c, email, pw)
		if a := accountOf(t, env, email); a.FailedLogins != 0 || !a.LockedUntil.IsZero() {
			t.Fatalf("after the lock ended and a login: %d failures, locked until %v", a.FailedLogins, a.LockedUntil)
		}
	})
}

// 5. Failed logins per client address are throttled, and X-Forwarded-For
// counts only from a trusted proxy.
func TestLoginThrottle(t *testing.T) {
	const email, pw = "lauri@example.fi", "kesämökki järven rannalla"
	xff := func(ip string) http.Header { return http.Header{"X-Forwarded-For": {ip}} }
	loginAs := func(t *testing.T, env *apptest.Env, c *http.Client, email, pw, ip string) fetched {
		t.Helper()
		var h http.Header
		if ip != "" {
			h = xff(ip)
		}
		return postWith(t, c, env.URL+"/login", url.Values{"email": {email}, "password": {pw}}, h)
	}
	spray := func(t *testing.T, env *apptest.Env, n int, ip func(i int) string) {
		t.Helper()
		c := env.Browser(t)
		for i := range n {
			r := loginAs(t, env, c, fmt.Sprintf("nobody%d@example.fi", i), pw, ip(i))
			if r.status != http.StatusUnauthorized {
				t.Fatalf("failure %d: %d, want 401\n%s", i+1, r.status, r.body)
			}
		}
	}
	mustThrottle := func(t *testing.T, r fetched) {
		t.Helper()
		if r.status != http.StatusTooManyRequests {
			t.Fatalf("want 429, got %d\n%s", r.status, r.body)
		}
		if got := r.header.Get("Retry-After"); got != "900" {
			t.Fatalf("Retry-After %q, want 900", got)
		}
		mustContain(t, r.body, "Too many failed sign-ins")
		mustNotContain(t, r.body, txtLoggedIn)
	}
	mustPass := func(t *testing.T, r fetched) {
		t.Helper()
		if r.status != http.StatusOK || !strings.Contains(r.body, txtLoggedIn+email) {
			t.Fatalf("want the account page, got %d\n%s", r.status, r.body)
		}
	}

	t.Run("per client address", func(t *testing.T) {
		env := apptest.Start(t, map[string]string{"PORTTI_THROTTLE_LIMIT": "10"})
		activated(t, env, email, pw)
		spray(t, env, 10, func(int) string { return "" })
		mustThrottle(t, loginAs(t, env, env.Browser(t), email, pw, ""))
		mustThrottle(t, loginAs(t, env, env.Browser(t), "nobody@example.fi", pw, "")) // the same for anyone
		if !hasEvent(allEvents(t, env), audit.LoginThrottled, "") {
			t.Error("no login.throttled event")
		}
		env.Clock.Advance(14 * time.Minute)
		mustThrottle(t, loginAs(t, env, env.Browser(t), email, pw, ""))
		env.Clock.Advance(time.Minute)
		mustPass(t, loginAs(t, env, env.Browser(t), email, pw, ""))
	})

	t.Run("X-Forwarded-For ignored from an untrusted peer", func(t *testing.T) {
		env := apptest.Start(t, map[string]string{"PORTTI_THROTTLE_LIMIT": "10"})
		activated(t, env, email, pw)
		spray(t, env, 10, func(i int) string { return fmt.Sprintf("198.51.100.%d", i+1) })
		mustThrottle(t, loginAs(t, env, env.Browser(t), email, pw, "198.51.100.200"))
		for _, e := range allEvents(t, env) {
			if e.ClientIP != "127.0.0.1" {
				t.Fatalf("event %s recorded client %q; X-Forwarded-For from an untrusted peer was believed", e.Kind, e.ClientIP)
			}
		}
	})

	t.Run("X-Forwarded-For from a trusted proxy", func(t *testing.T) {
		env := apptest.Start(t, map[string]string{"PORTTI_THROTTLE_LIMIT": "10", "PORTTI_TRUSTED_PROXIES": "127.0.0.1"})
		activated(t, env, email, pw)
		spray(t, env, 10, func(int) string { return "203.0.113.7" })
		mustThrottle(t, loginAs(t, env, env.Browser(t), email, pw, "203.0.113.7"))
		// A client cannot pick its own address by prepending one.
		mustThrottle(t, loginAs(t, env, env.Browser(t), email, pw, "192.0.2.1, 203.0.113.7"))
		mustPass(t, loginAs(t, env, env.Browser(t), email, pw, "203.0.113.8"))
		mustPass(t, loginAs(t, env, env.Browser(t), email, pw, "")) // the proxy itself
		found := false
		for _, e := range allEvents(t, env) {
			if e.Kind == audit.LoginFailure && e.ClientIP == "203.0.113.7" {
				found = true
			}
		}
		if !found {
			t.Error("no login.failure event from 203.0.113.7")
		}
	})
}

// 6. Forgot password and the reset link.
func TestForgotPassword(t *testing.T) {
	env := apptest.Start(t, nil)
	const email, unknown = "maria@example.fi", "nobody.here@example.fi"
	const pw, newPW = "kesämökki järven rannalla", "uusi salasana syksyllä"
	acc := activated(t, env, email, pw)
	signedIn := env.Browser(t)
	mustLogIn(t, env, signedIn, email, pw)

	c := env.Browser(t)
	statusU, bodyU := post(t, c, env.URL+"/password/forgot", url.Values{"email": {unknown}})
	statusK, bodyK := post(t, c, env.URL+"/password/forgot", url.Values{"email": {email}})
	if statusU != http.StatusOK || statusK != statusU {
		t.Fatalf("statuses: unknown %d, known %d", statusU, statusK)
	}
	if normalise(bodyU, unknown) != normalise(bodyK, email) {
		t.Fatalf("the pages differ:\nunknown:\n%s\nknown:\n%s", bodyU, bodyK)
	}
	mustContain(t, bodyK, "If "+email+" has an account, we have sent a password reset link")
	env.Settle(t) // the forms' work is done in the background
	if n := len(outboxTo(t, env, unknown, "")); n != 0 {
		t.Fatalf("%d mails to an unknown address", n)
	}
	_, link := waitMail(t, env, email, subjRecovery, "/password/reset")
	token := tokenOf(t, link)

	status, body := get(t, c, link)
	if status != http.StatusOK {
		t.Fatalf("reset form: %d\n%s", status, body)
	}
	mustContain(t, body, "Account: "+email, `name="token" value="`+token+`"`)

	resetForm := func(pw, confirm string) (int, string) {
		return post(t, c, env.URL+"/password/reset", url.Values{"token": {token}, "password": {pw}, "password_confirm": {confirm}})
	}
	t.Run("policy", func(t *testing.T) {
		status, body := resetForm("password1", "password1")
		if status != http.StatusUnprocessableEntity {
			t.Fatalf("common password: %d, want 422\n%s", status, body)
		}
		mustContain(t, body, `<p class="error" id="password-error-0">This password is one of the most common passwords`,
			`id="password" name="password" type="password"`, `aria-invalid="true"`, `name="token" value="`+token+`"`)
		mustNotContain(t, body, `value="password1"`)

		status, body = resetForm(newPW, newPW+"x")
		if status != http.StatusUnprocessableEntity {
			t.Fatalf("mismatch: %d, want 422\n%s", status, body)
		}
		mustContain(t, body, `<p class="error" id="password_confirm-error-0">The passwords do not match.`)
		if a := accountOf(t, env, email); a.PasswordHash != acc.PasswordHash {
			t.Fatal("a refused form changed the password")
		}
	})

	t.Run("reset", func(t *testing.T) {
		status, body := resetForm(newPW, newPW)
		if status != http.StatusOK {
			t.Fatalf("reset: %d\n%s", status, body)
		}
		mustContain(t, body, "Your password has been changed. Sign in with the new password.", `value="`+email+`"`)

		// Every session ended: the browser signed in before is out.
		r := getFull(t, signedIn, env.URL+"/account")
		if r.url.Path != "/login" || !strings.Contains(r.body, `action="/login"`) {
			t.Fatalf("GET /account after the reset ended at %s (%d)\n%s", r.url, r.status, r.body)
		}
		if ss, err := env.App.Store.ListSessions(context.Background(), acc.ID); err != nil || len(ss) != 0 {
			t.Fatalf("sessions after the reset: %v %v", ss, err)
		}
		m, _ := waitMail(t, env, email, subjChanged, "/password/forgot")
		mustContain(t, m.Text, "you were signed out on all other browsers")

		// Single use.
		r = getFull(t, c, link)
		if r.status != http.StatusGone {
			t.Fatalf("used link: %d, want 410\n%s", r.status, r.body)
		}
		mustContain(t, r.body, "This password reset link has already been used", `href="/password/forgot"`)
		status, body = resetForm("kolmas salasana talvella", "kolmas salasana talvella")
		if status != http.StatusGone {
			t.Fatalf("used link posted again: %d, want 410\n%s", status, body)
		}
		mustFailLogin(t, env, c, email, pw)
		mustFailLogin(t, env, c, email, "kolmas salasana talvella")
		mustLogIn(t, env, c, email, newPW)
	})

	t.Run("expired link", func(t *testing.T) {
		before := accountOf(t, env, email)
		status, body := post(t, c, env.URL+"/password/forgot", url.Values{"email": {email}})
		if status != http.StatusOK {
			t.Fatalf("forgot: %d\n%s", status, body)
		}
		_, link2 := waitMail(t, env, email, subjRecovery, "/password/reset", link)
		env.Clock.Advance(31 * time.Minute)
		r := getFull(t, c, link2)
		if r.status != http.StatusGone {
			t.Fatalf("expired link: %d, want 410\n%s", r.status, r.body)
		}
		mustContain(t, r.body, "This password reset link has expired", "Order a new reset link", `href="/password/forgot"`)
		r = postWith(t, c, env.URL+"/password/reset", url.Values{"token": {tokenOf(t, link2)}, "password": {"kolmas salasana talvella"}, "password_confirm": {"kolmas salasana talvella"}}, nil)
		if r.status != http.StatusGone {
			t.Fatalf("expired link posted: %d, want 410\n%s", r.status, r.body)
		}
		if a := accountOf(t, env, email); a.PasswordHash != before.PasswordHash {
			t.Fatal("an expired link changed the password")
		}
	})
}

// inputInvalid reports whether the input with id is marked invalid.
func inputInvalid(body, id string) bool {
	m := regexp.MustCompile(`<input [^>]*\bid="` + regexp.QuoteMeta(id) + `"[^>]*>`).FindString(body)
	return strings.Contains(m, `aria-invalid="true"`)
}

// fieldError returns the first error shown for a field.
func fieldError(body, id string) string {
	m := regexp.MustCompile(`<p class="error" id="` + regexp.QuoteMeta(id) + `-error-0">([^<]*)</p>`).FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return m[1]
}

// 7. The registration form, field by field.
func TestRegistrationValidation(t *testing.T) {
	env := apptest.Start(t, map[string]string{"PORTTI_TERMS_VERSION": "2026-11"})
	const pw = "kesämökki järven rannalla"
	noAccountsNoMail := func(t *testing.T) {
		t.Helper()
		if n := countAccounts(t, env, ""); n != 0 {
			t.Fatalf("%d accounts created by refused forms", n)
		}
		if ms := queuedMail(t, env); len(ms) != 0 {
			t.Fatalf("%d mails queued by refused forms: %q", len(ms), ms[0].Subject)
		}
	}
	mustRefuse := func(t *testing.T, form url.Values) string {
		t.Helper()
		status, body := post(t, env.Browser(t), env.URL+"/register", form)
		if status != http.StatusUnprocessableEntity {
			t.Fatalf("want 422, got %d\n%s", status, body)
		}
		mustContain(t, body, "Please correct the following")
		return body
	}

	t.Run("empty form", func(t *testing.T) {
		body := mustRefuse(t, url.Values{})
		for _, id := range []string{"email", "email_confirm", "password", "password_confirm", "given_name", "family_name", "accept_terms"} {
			if !inputInvalid(body, id) {
				t.Errorf("%s is not marked aria-invalid", id)
			}
			if fieldError(body, id) == "" {
				t.Errorf("no error shown next to %s", id)
			}
			if !strings.Contains(body, `href="#`+id+`"`) {
				t.Errorf("the error summary does not link to %s", id)
			}
		}
		for _, id := range []string{"phone_number", "street_address", "postal_code", "locality"} {
			if inputInvalid(body, id) || fieldError(body, id) != "" {
				t.Errorf("optional %s is marked invalid", id)
			}
		}
		if got := fieldError(body, "accept_terms"); !strings.Contains(got, "You must accept the terms") {
			t.Errorf("accept_terms error %q", got)
		}
		noAccountsNoMail(t)
	})

	t.Run("typed values are kept, passwords are not", func(t *testing.T) {
		body := mustRefuse(t, url.Values{
			"email": {"maija@example.fi"}, "email_confirm": {"maija@example.fi"},
			"password": {"lyhyt1"}, "password_confirm": {"lyhyt1"},
			"given_name": {"Maija"}, "family_name": {""},
			"phone_number": {"040 123 4567"}, "street_address": {"Kauppakatu 1"},
			"postal_code": {"45100"}, "locality": {"Kouvola"},
		})
		for id, v := range map[string]string{
			"email": "maija@example.fi", "email_confirm": "maija@example.fi", "given_name": "Maija",
			"phone_number": "040 123 4567", "street_address": "Kauppakatu 1", "postal_code": "45100", "locality": "Kouvola",
		} {
			if !regexp.MustCompile(`<input id="` + id + `"[^>]* value="` + regexp.QuoteMeta(v) + `"`).MatchString(body) {
				t.Errorf("%s lost its value %q", id, v)
			}
		}
		mustNotContain(t, body, "lyhyt1")
		if !strings.Contains(fieldError(body, "password"), "too short") {
			t.Errorf("password error %q", fieldError(body, "password"))
		}
		for _, id := range []string{"family_name", "accept_terms", "password"} {
			if !inputInvalid(body, id) {
				t.Errorf("%s is not marked invalid", id)
			}
		}
		for _, id := range []string{"email", "email_confirm", "given_name", "password_confirm"} {
			if inputInvalid(body, id) {
				t.Errorf("valid %s is marked invalid", id)
			}
		}
		noAccountsNoMail(t)
	})

	t.Run("e-mail", func(t *testing.T) {
		form := registration("maija@example.fi", pw)
		form.Set("email_confirm", "maija@example.com")
		body := mustRefuse(t, form)
		if got := fieldError(body, "email_confirm"); got != "The email addresses do not match." {
			t.Errorf("email_confirm error %q", got)
		}
		for _, bad := range []string{"maija@", "maija", "maija@example", "maija@@example.fi", "Maija <maija@example.fi>", "maija@exa mple.fi"} {
			body := mustRefuse(t, registration(bad, pw))
			if got := fieldError(body, "email"); !strings.Contains(got, "Enter an email address in the form name@example.fi") {
				t.Errorf("%q: email error %q", bad, got)
			}
		}
		noAccountsNoMail(t)
	})

	t.Run("terms not accepted", func(t *testing.T) {
		form := registration("niko@example.fi", pw)
		form.Del("accept_terms")
		body := mustRefuse(t, form)
		if len(regexp.MustCompile(`aria-invalid="true"`).FindAllString(body, -1)) != 1 || !inputInvalid(body, "accept_terms") {
			t.Errorf("want only accept_terms invalid:\n%s", body)
		}
		mustNotContain(t, body, `name="accept_terms" value="yes" checked`)
		noAccountsNoMail(t)
		time.Sleep(300 * time.Millisecond) // the mail worker would have sent by now
		if ms := env.SMTP.Messages(); len(ms) != 0 {
			t.Fatalf("%d messages sent", len(ms))
		}
	})

	t.Run("accepted terms are stored", func(t *testing.T) {
		const email = "olga@example.fi"
		if status, body := post(t, env.Browser(t), env.URL+"/register", registration(email, pw)); status != http.StatusOK {
			t.Fatalf("register: %d\n%s", status, body)
		}
		env.Settle(t)
		a := accountOf(t, env, email)
		if a.TermsVersion != "2026-11" || !a.TermsAcceptedAt.Equal(env.Clock.Now()) {
			t.Fatalf("terms %q accepted at %v, want 2026-11 at %v", a.TermsVersion, a.TermsAcceptedAt, env.Clock.Now())
		}
		if a.GivenName != "Maija" || a.FamilyName != "Meikäläinen" || a.Activated() {
			t.Fatalf("account %+v", a)
		}
	})

	t.Run("classes policy", func(t *testing.T) {
		env := apptest.Start(t, map[string]string{"PORTTI_PASSWORD_POLICY": "classes"})
		status, body := post(t, env.Browser(t), env.URL+"/register", registration("pekka@example.fi", "abc12!"))
		if status != http.StatusUnprocessableEntity {
			t.Fatalf("abc12!: %d, want 422\n%s", status, body)
		}
		if got := fieldError(body, "password"); !strings.Contains(got, "upper-case") {
			t.Fatalf("password error %q, want the upper-case rule", got)
		}
		mustContain(t, body, "At least one lower-case letter, one upper-case letter, one digit and one special character.")
		status, body = post(t, env.Browser(t), env.URL+"/register", registration("pekka@example.fi", "Abc12!"))
		if status != http.StatusOK {
			t.Fatalf("Abc12!: %d, want 200\n%s", status, body)
		}
		_, link := waitMail(t, env, "pekka@example.fi", subjActivation, "/activate")
		get(t, env.Browser(t), link)
		mustLogIn(t, env, env.Browser(t), "pekka@example.fi", "Abc12!")
	})
}

// userAgent sets one User-Agent on every request.
type userAgent struct {
	ua   string
	next http.RoundTripper
}

func (u userAgent) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("User-Agent", u.ua)
	return u.next.RoundTrip(r)
}

// 8. The audit log says who, what and from where, and holds no secret.
func TestAuditTrail(t *testing.T) {
	env := apptest.Start(t, nil)
	const ua = "Mozilla/5.0 (X11; Linux x86_64) portti-audit-test/1.0"
	const email, pw, wrong, newPW = "paula@example.fi", "kesämökki järven rannalla", "väärä salasana 1", "uusi salasana syksyllä"
	browser := func() *http.Client {
		c := env.Browser(t)
		c.Transport = userAgent{ua, http.DefaultTransport}
		return c
	}
	c := browser()
	secrets := []string{pw, wrong, newPW}
	addToken := func(link string) {
		tok := tokenOf(t, link)
		secrets = append(secrets, tok, secret.Hash(tok))
	}

	post(t, c, env.URL+"/register", registration(email, pw))
	_, link := waitMail(t, env, email, subjActivation, "/activate")
	addToken(link)
	get(t, c, link)
	mustFailLogin(t, env, c, email, wrong)
	mustLogIn(t, env, c, email, pw)
	u, _ := url.Parse(env.URL)
	for _, ck := range c.Jar.Cookies(u) {
		secrets = append(secrets, ck.Value, secret.Hash(ck.Value))
	}
	stranger := browser()
	for range 5 {
		mustFailLogin(t, env, stranger, email, wrong)
	}
	mustBeLocked(t, env, stranger, email, pw)
	resetLink := resetPassword(t, env, stranger, email, newPW)
	addToken(resetLink)
	mustLogIn(t, env, stranger, email, newPW)

	acc := accountOf(t, env, email)
	es := allEvents(t, env)
	for _, kind := range []string{
		audit.Registered, audit.ActivationSent, audit.Activated, audit.LoginFailure,
		audit.LoginSuccess, audit.Locked, audit.RecoveryRequested, audit.PasswordReset,
	} {
		found := false
		for _, e := range es {
			if e.Kind == kind && e.AccountID == acc.ID && e.ClientIP == "127.0.0.1" && e.UserAgent == ua && e.Email == email && !e.Time.IsZero() {
				found = true
			}
		}
		if !found {
			t.Errorf("no %s event for %s from 127.0.0.1 with the user agent; events:\n%s", kind, acc.ID, dumpEvents(es))
		}
	}
	for _, e := range es {
		if e.Kind == audit.LoginFailure && e.Reason == "wrong_password" {
			if e.AccountID != acc.ID {
				t.Errorf("wrong-password failure without the account: %+v", e)
			}
		}
		fields := []string{e.Kind, e.AccountID, e.Email, e.ClientIP, e.UserAgent, e.Reason, e.Ref}
		for _, f := range fields {
			for _, s := range secrets {
				if s != "" && strings.Contains(f, s) {
					t.Errorf("event %d (%s) holds a secret %q", e.ID, e.Kind, s)
				}
			}
		}
	}
	// Nor does the log (portti sends mail here, so it is not in dev mode).
	logs := env.Logs()
	for _, s := range secrets {
		if strings.Contains(logs, s) {
			t.Errorf("the log holds a secret %q", s)
		}
	}
}

func dumpEvents(es []storage.Event) string {
	var b strings.Builder
	for _, e := range es {
		fmt.Fprintf(&b, "  %s account=%q email=%q ip=%q ua=%q reason=%q\n", e.Kind, e.AccountID, e.Email, e.ClientIP, e.UserAgent, e.Reason)
	}
	return b.String()
}

// 9. Registrations of one address racing each other make one account.
func TestConcurrentRegistration(t *testing.T) {
	env := apptest.Start(t, nil)
	ctx := context.Background()
	const email, pw, n = "riikka@example.fi", "kesämökki järven rannalla", 10

	type result struct {
		status int
		body   string
		err    error
	}
	results := make([]result, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		c := env.Browser(t)
		wg.Go(func() {
			<-start
			resp, err := c.PostForm(env.URL+"/register", registration(email, pw))
			if err != nil {
				results[i].err = err
				return
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			results[i] = result{status: resp.StatusCode, body: string(b)}
		})
	}
	close(start)
	wg.Wait()
	for i, r := range results {
		if r.err != nil || r.status != http.StatusOK {
			t.Fatalf("registration %d: %v %d\n%s", i, r.err, r.status, r.body)
		}
		if r.body != results[0].body {
			t.Fatalf("registration %d got another page:\n%s\n---\n%s", i, r.body, results[0].body)
		}
	}

	env.Settle(t)
	if got := countAccounts(t, env, ""); got != 1 {
		t.Fatalf("%d accounts, want 1", got)
	}
	acc := accountOf(t, env, email)
	es := allEvents(t, env)
	registered, sent := 0, 0
	for _, e := range es {
		switch e.Kind {
		case audit.Registered:
			registered++
		case audit.ActivationSent:
			sent++
		}
		if e.AccountID != "" && e.AccountID != acc.ID {
			t.Errorf("event for a vanished account: %+v", e)
		}
	}
	if registered != 1 {
		t.Fatalf("%d %s events, want 1", registered, audit.Registered)
	}

	// Every activation mail's token is stored for the account, and every
	// stored token was mailed.
	mails := outboxTo(t, env, email, subjActivation)
	if len(mails) < 1 || len(mails) > 4 {
		t.Fatalf("%d activation mails, want 1 to 4 (one, plus at most three notices a day)", len(mails))
	}
	if sent != len(mails) {
		t.Fatalf("%d %s events but %d mails", sent, audit.ActivationSent, len(mails))
	}
	var links []string
	for _, m := range mails {
		var link string
		for _, l := range smtptest.Links(smtptest.Message{Text: m.Text}) {
			if strings.HasPrefix(l, env.URL+"/activate") {
				link = l
			}
		}
		tok, err := env.App.Store.GetToken(ctx, secret.Hash(tokenOf(t, link)))
		if err != nil || tok.AccountID != acc.ID || tok.Kind != storage.TokenActivation || tok.Email != email {
			t.Fatalf("token of %s: %+v %v", link, tok, err)
		}
		links = append(links, link)
	}
	db, err := sql.Open("sqlite", strings.TrimPrefix(env.App.Config.DatabaseURL, "sqlite:"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var tokens, orphans, sessions int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM tokens`).Scan(&tokens); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM tokens WHERE account_id NOT IN (SELECT id FROM accounts)`).Scan(&orphans); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM sessions`).Scan(&sessions); err != nil {
		t.Fatal(err)
	}
	if tokens != len(mails) || orphans != 0 || sessions != 0 {
		t.Fatalf("%d tokens (%d orphaned), %d sessions; want %d tokens, none orphaned, no session", tokens, orphans, sessions, len(mails))
	}

	// Any of the links activates the one account.
	status, body := get(t, env.Browser(t), links[len(links)-1])
	if status != http.StatusOK {
		t.Fatalf("activate: %d\n%s", status, body)
	}
	mustLogIn(t, env, env.Browser(t), email, pw)
}
