package app_test

import (
	"context"
	"errors"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portti/portti/internal/account"
	"github.com/portti/portti/internal/app/apptest"
	"github.com/portti/portti/internal/i18n"
	"github.com/portti/portti/internal/storage"
)

// The helpers in this file are shared by settings_test.go, input_test.go and
// fuzz_test.go. Their names are chosen not to clash with other test files
// of the package.

const (
	uaFirefox = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
	uaChrome  = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
	uaSafari  = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"

	goodPassword  = "kesämökki järven rannalla"
	otherPassword = "revontulet tanssivat taivaalla"
)

var testCatalog = sync.OnceValue(func() *i18n.Catalog {
	c, err := i18n.Load()
	if err != nil {
		panic(err)
	}
	return c
})

// catalogText is what a person reads for key in lang; args alternate
// names and values.
func catalogText(lang, key string, args ...any) string {
	m := map[string]any{}
	for i := 0; i+1 < len(args); i += 2 {
		m[args[i].(string)] = args[i+1]
	}
	return testCatalog().T(lang, key, m)
}

// enText is catalogText in English.
func enText(key string, args ...any) string { return catalogText("en", key, args...) }

// mustContainText is mustContain on the text a person reads: entities in
// the page are decoded first (html/template writes "+" as "&#43;").
func mustContainText(t *testing.T, body string, want ...string) {
	t.Helper()
	text := html.UnescapeString(body)
	for _, w := range want {
		if !strings.Contains(text, w) {
			t.Fatalf("page lacks %q:\n%s", w, body)
		}
	}
}

func mustNotContainText(t *testing.T, body string, unwanted ...string) {
	t.Helper()
	text := html.UnescapeString(body)
	for _, w := range unwanted {
		if strings.Contains(text, w) {
			t.Fatalf("page has %q but should not:\n%s", w, body)
		}
	}
}

// headerTransport adds headers to every request a browser makes, as a
// real browser sends its User-Agent and Accept-Language.
type headerTransport struct{ hdr http.Header }

func (h headerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	for k, v := range h.hdr {
		if r.Header.Get(k) == "" {
			r.Header[k] = v
		}
	}
	return http.DefaultTransport.RoundTrip(r)
}

// newBrowser is a client with its own cookie jar that sends the given
// headers (name, value, name, value...) and follows redirects.
func newBrowser(t testing.TB, headers ...string) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	hdr := http.Header{}
	for i := 0; i+1 < len(headers); i += 2 {
		hdr.Set(headers[i], headers[i+1])
	}
	return &http.Client{Jar: jar, Timeout: 10 * time.Second, Transport: headerTransport{hdr}}
}

// stayPut returns a client sharing c's cookies and headers that does not
// follow redirects, to look at a response's own status and cookies.
func stayPut(c *http.Client) *http.Client {
	cc := *c
	cc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &cc
}

// answer is a response read in full.
type answer struct {
	Status int
	Body   string
	URL    *url.URL // after redirects
	Header http.Header
	Resp   *http.Response
}

// send makes a request; a non-nil form is posted url-encoded. headers are
// name, value pairs.
func send(t testing.TB, c *http.Client, method, u string, form url.Values, headers ...string) answer {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{Status: resp.StatusCode, Body: string(b), URL: resp.Request.URL, Header: resp.Header, Resp: resp}
}

// addUser creates an activated account directly through the account rules.
func addUser(t testing.TB, env *apptest.Env, email, pw string) storage.Account {
	t.Helper()
	a, err := env.App.Accounts.AddUser(context.Background(), email,
		account.Profile{GivenName: "Aino", FamilyName: "Virtanen"}, pw, account.Meta{Lang: "en", ClientIP: "test"})
	if err != nil {
		t.Fatalf("add %s: %v", email, err)
	}
	return a
}

// storedAccount reads an account from the database by its login address.
func storedAccount(t testing.TB, env *apptest.Env, email string) storage.Account {
	t.Helper()
	a, err := env.App.Store.GetAccountByEmail(context.Background(), email)
	if err != nil {
		t.Fatalf("account %s: %v", email, err)
	}
	return a
}

func noAccount(t testing.TB, env *apptest.Env, email string) {
	t.Helper()
	if a, err := env.App.Store.GetAccountByEmail(context.Background(), email); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("account %s exists (%+v, %v), want none", email, a, err)
	}
}

func liveSessions(t testing.TB, env *apptest.Env, accountID string) []storage.Session {
	t.Helper()
	all, err := env.App.Store.ListSessions(context.Background(), accountID)
	if err != nil {
		t.Fatal(err)
	}
	var out []storage.Session
	for _, s := range all {
		if s.ExpiresAt.After(env.Clock.Now()) {
			out = append(out, s)
		}
	}
	return out
}

// signIn logs c in and checks that it lands on the account page of email.
func signIn(t testing.TB, env *apptest.Env, c *http.Client, email, pw string, remember bool) answer {
	t.Helper()
	f := url.Values{"email": {email}, "password": {pw}}
	if remember {
		f.Set("remember_me", "yes")
	}
	a := send(t, c, http.MethodPost, env.URL+"/login", f)
	if a.Status != http.StatusOK || a.URL.Path != "/account" {
		t.Fatalf("login %s: %d at %s\n%s", email, a.Status, a.URL, a.Body)
	}
	if !strings.Contains(html.UnescapeString(a.Body), enText("account.signed_in_as", "Email", email)) {
		t.Fatalf("login %s: account page of someone else:\n%s", email, a.Body)
	}
	return a
}

// loginRefused posts a login that must not get in.
func loginRefused(t testing.TB, env *apptest.Env, email, pw string) answer {
	t.Helper()
	a := send(t, newBrowser(t), http.MethodPost, env.URL+"/login", url.Values{"email": {email}, "password": {pw}})
	if a.Status == http.StatusOK || a.URL.Path == "/account" {
		t.Fatalf("login %s got in: %d at %s", email, a.Status, a.URL)
	}
	return a
}

// signedInAs checks who c's /account page is for, or that c is sent to the
// login page when email is "".
func signedInAs(t testing.TB, env *apptest.Env, c *http.Client, email string) answer {
	t.Helper()
	a := send(t, c, http.MethodGet, env.URL+"/account", nil)
	if email == "" {
		if a.URL.Path != "/login" || a.Status != http.StatusOK {
			t.Fatalf("GET /account: %d at %s, want the login page\n%s", a.Status, a.URL, a.Body)
		}
		return a
	}
	if a.Status != http.StatusOK || a.URL.Path != "/account" {
		t.Fatalf("GET /account: %d at %s, want the account page of %s\n%s", a.Status, a.URL, email, a.Body)
	}
	if !strings.Contains(html.UnescapeString(a.Body), enText("account.signed_in_as", "Email", email)) {
		t.Fatalf("GET /account: not the page of %s:\n%s", email, a.Body)
	}
	if p := placeholder.FindString(a.Body); p != "" {
		t.Errorf("account page shows the unfilled placeholder %s", p)
	}
	return a
}

// fieldHTML returns the <div class="field"> drawn for the input with id.
func fieldHTML(t testing.TB, body, id string) string {
	t.Helper()
	at := strings.Index(body, `<input id="`+id+`"`)
	if at < 0 {
		t.Fatalf("no input %q in page:\n%s", id, body)
	}
	start := strings.LastIndex(body[:at], `<div class="field`)
	end := strings.Index(body[at:], "</div>")
	if start < 0 || end < 0 {
		t.Fatalf("input %q is not in a field block", id)
	}
	return body[start : at+end]
}

var hiddenInput = regexp.MustCompile(`<input type="hidden" name="([a-z_]+)" value="([^"]*)">`)

// hiddenValue returns the first hidden input name's value in body.
func hiddenValue(t testing.TB, body, name string) string {
	t.Helper()
	for _, m := range hiddenInput.FindAllStringSubmatch(body, -1) {
		if m[1] == name {
			return html.UnescapeString(m[2])
		}
	}
	t.Fatalf("no hidden %q in page:\n%s", name, body)
	return ""
}

func cookieNamed(cs []*http.Cookie, name string) *http.Cookie {
	for _, c := range cs {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func TestSettingsProfile(t *testing.T) {
	t.Parallel()
	env := apptest.Start(t, nil)
	const email = "aino@example.fi"
	acc := addUser(t, env, email, goodPassword)
	c := newBrowser(t)
	signIn(t, env, c, email, goodPassword, false)

	form := url.Values{
		"form": {"profile"}, "account_id": {acc.ID},
		"given_name": {" Aino-Maria "}, "family_name": {"Virtanen"},
		"phone_number": {"+358 40 123 4567"}, "street_address": {"Kauppalankatu 1 A 2"},
		"postal_code": {"45100"}, "locality": {"Kouvola"},
	}
	a := send(t, c, http.MethodPost, env.URL+"/account/profile", form)
	if a.Status != http.StatusOK || a.URL.Path != "/account" {
		t.Fatalf("save profile: %d at %s\n%s", a.Status, a.URL, a.Body)
	}
	mustContainText(t, a.Body, enText("notice.profile_saved"), `value="Kouvola"`, `value="Aino-Maria"`)
	got := storedAccount(t, env, email)
	if got.GivenName != "Aino-Maria" || got.PhoneNumber != "+358 40 123 4567" || got.StreetAddress != "Kauppalankatu 1 A 2" ||
		got.PostalCode != "45100" || got.Locality != "Kouvola" {
		t.Fatalf("stored profile %+v", got)
	}

	// An invalid phone number: 422, the message next to the phone field,
	// everything typed kept, nothing saved.
	form.Set("given_name", "Typed Name")
	form.Set("phone_number", "040-KUKKUU")
	a = send(t, c, http.MethodPost, env.URL+"/account/profile", form)
	if a.Status != http.StatusUnprocessableEntity {
		t.Fatalf("bad phone: %d\n%s", a.Status, a.Body)
	}
	phone := fieldHTML(t, a.Body, "profile-phone_number")
	mustContainText(t, phone, enText("phone.invalid"), `aria-invalid="true"`, `value="040-KUKKUU"`, `id="profile-phone_number-error-0"`)
	mustContainText(t, fieldHTML(t, a.Body, "profile-given_name"), `value="Typed Name"`)
	mustNotContainText(t, fieldHTML(t, a.Body, "profile-given_name"), `class="error"`)
	mustContainText(t, a.Body, `href="#profile-phone_number"`) // the error summary links to the field
	if got := storedAccount(t, env, email); got.GivenName != "Aino-Maria" || got.PhoneNumber != "+358 40 123 4567" {
		t.Fatalf("invalid profile was saved: %+v", got)
	}
	// The page still shows the saved profile afterwards.
	a = signedInAs(t, env, c, email)
	mustContainText(t, fieldHTML(t, a.Body, "profile-given_name"), `value="Aino-Maria"`)
}

func TestSettingsPasswordChange(t *testing.T) {
	t.Parallel()
	env := apptest.Start(t, nil)
	const email = "aino@example.fi"
	acc := addUser(t, env, email, goodPassword)
	here, there := newBrowser(t, "User-Agent", uaFirefox), newBrowser(t, "User-Agent", uaChrome)
	signIn(t, env, here, email, goodPassword, false)
	signIn(t, env, there, email, goodPassword, true)
	hashBefore := storedAccount(t, env, email).PasswordHash

	form := url.Values{
		"form": {"password"}, "account_id": {acc.ID},
		"current_password": {"not my password"}, "password": {otherPassword}, "password_confirm": {otherPassword},
	}
	a := send(t, here, http.MethodPost, env.URL+"/account/password", form)
	if a.Status != http.StatusUnprocessableEntity {
		t.Fatalf("wrong current password: %d\n%s", a.Status, a.Body)
	}
	// The error is on the password form's current_password only: the
	// e-mail form has a field of the same name.
	mustContainText(t, fieldHTML(t, a.Body, "password-current_password"), enText("password.current_wrong"), `aria-invalid="true"`)
	mustNotContainText(t, a.Body, "not my password", otherPassword) // passwords are never sent back
	emailField := fieldHTML(t, a.Body, "email-current_password")
	mustNotContainText(t, emailField, enText("password.current_wrong"), `aria-invalid`)
	if storedAccount(t, env, email).PasswordHash != hashBefore {
		t.Fatal("password changed with a wrong current password")
	}
	signedInAs(t, env, there, email)

	form.Set("current_password", goodPassword)
	a = send(t, here, http.MethodPost, env.URL+"/account/password", form)
	if a.Status != http.StatusOK || a.URL.Path != "/account" {
		t.Fatalf("change password: %d at %s\n%s", a.Status, a.URL, a.Body)
	}
	mustContainText(t, a.Body, enText("notice.password_changed"))
	signedInAs(t, env, here, email) // this browser stays
	signedInAs(t, env, there, "")   // the other one, remembered or not, is out
	if n := len(liveSessions(t, env, acc.ID)); n != 1 {
		t.Fatalf("%d sessions after the change, want 1", n)
	}
	m := env.Mail(t, email, "Your password has been changed")
	if !strings.Contains(m.Text, "/password/forgot") {
		t.Errorf("password changed mail has no way out:\n%s", m.Text)
	}
	loginRefused(t, env, email, goodPassword)
	signIn(t, env, newBrowser(t), email, otherPassword, false)
}

func TestSettingsEmailChange(t *testing.T) {
	t.Parallel()
	env := apptest.Start(t, nil)
	const old, next = "aino@example.fi", "aino.virtanen@example.org"
	acc := addUser(t, env, old, goodPassword)
	c := newBrowser(t)
	signIn(t, env, c, old, goodPassword, false)

	a := send(t, c, http.MethodPost, env.URL+"/account/email", url.Values{
		"form": {"email"}, "account_id": {acc.ID},
		"new_email": {" Aino.Virtanen@Example.ORG "}, "current_password": {goodPassword},
	})
	if a.Status != http.StatusOK || a.URL.Path != "/account" {
		t.Fatalf("change e-mail: %d at %s\n%s", a.Status, a.URL, a.Body)
	}
	mustContainText(t, a.Body, enText("notice.email_change_sent"), enText("account.email_pending", "Email", next))

	confirm := env.Mail(t, next, "Confirm your new email address")
	link := env.Link(t, confirm, "/email/confirm")
	notice := env.Mail(t, old, "Change of your sign-in address requested")
	if !strings.Contains(notice.Text, next) {
		t.Errorf("the notice to the old address does not name the new one:\n%s", notice.Text)
	}

	// Until the link is followed, the old address is the login name.
	loginRefused(t, env, next, goodPassword)
	signIn(t, env, newBrowser(t), old, goodPassword, false)

	// Opening the link (as a mail scanner does) only shows a button.
	for range 2 {
		a = send(t, newBrowser(t), http.MethodGet, link, nil)
		if a.Status != http.StatusOK {
			t.Fatalf("open confirmation link: %d\n%s", a.Status, a.Body)
		}
		mustContainText(t, a.Body, `action="/email/confirm"`, enText("email.confirm.submit"), next)
		if got := storedAccount(t, env, old); got.Email != old || got.PendingEmail != next {
			t.Fatalf("GET changed the account: %+v", got)
		}
	}
	token := hiddenValue(t, a.Body, "token")
	if u, _ := url.Parse(link); u.Query().Get("token") != token {
		t.Fatalf("the confirm button posts token %q, the link has %q", token, u.Query().Get("token"))
	}

	// The button.
	a = send(t, newBrowser(t), http.MethodPost, env.URL+"/email/confirm", url.Values{"token": {token}})
	if a.Status != http.StatusOK || a.URL.Path != "/login" {
		t.Fatalf("confirm: %d at %s\n%s", a.Status, a.URL, a.Body)
	}
	mustContainText(t, a.Body, enText("notice.email_changed"), `value="`+next+`"`)
	got := storedAccount(t, env, next)
	if got.ID != acc.ID || got.PendingEmail != "" {
		t.Fatalf("after confirming: %+v", got)
	}
	noAccount(t, env, old)
	signIn(t, env, newBrowser(t), next, goodPassword, false)
	loginRefused(t, env, old, goodPassword)
	env.Mail(t, old, "Your sign-in address has been changed")

	// The link is single-use.
	a = send(t, newBrowser(t), http.MethodGet, link, nil)
	if a.Status != http.StatusGone {
		t.Fatalf("used link: %d\n%s", a.Status, a.Body)
	}
	mustContainText(t, a.Body, enText("link.email_change.used"))
}

func TestSettingsEmailChangeToTakenAddress(t *testing.T) {
	t.Parallel()
	env := apptest.Start(t, nil)
	const old, next = "aino@example.fi", "shared@example.fi"
	acc := addUser(t, env, old, goodPassword)
	c := newBrowser(t)
	signIn(t, env, c, old, goodPassword, false)
	a := send(t, c, http.MethodPost, env.URL+"/account/email", url.Values{
		"form": {"email"}, "account_id": {acc.ID}, "new_email": {next}, "current_password": {goodPassword},
	})
	if a.Status != http.StatusOK {
		t.Fatalf("change e-mail: %d\n%s", a.Status, a.Body)
	}
	link := env.Link(t, env.Mail(t, next, "Confirm your new email address"), "/email/confirm")

	// Meanwhile the address gets an account of its own.
	other := addUser(t, env, next, otherPassword)

	token := hiddenValue(t, send(t, c, http.MethodGet, link, nil).Body, "token")
	a = send(t, c, http.MethodPost, env.URL+"/email/confirm", url.Values{"token": {token}})
	if a.Status != http.StatusConflict {
		t.Fatalf("confirm a taken address: %d\n%s", a.Status, a.Body)
	}
	mustContainText(t, a.Body, enText("email.taken"))
	if got := storedAccount(t, env, old); got.ID != acc.ID {
		t.Fatalf("old account: %+v", got)
	}
	if got := storedAccount(t, env, next); got.ID != other.ID {
		t.Fatalf("the other account lost its address: %+v", got)
	}
	signIn(t, env, newBrowser(t), old, goodPassword, false)
	signIn(t, env, newBrowser(t), next, otherPassword, false)
}

func TestSettingsSignedInBrowsers(t *testing.T) {
	t.Parallel()
	env := apptest.Start(t, nil)
	const email, stranger = "aino@example.fi", "eero@example.fi"
	acc := addUser(t, env, email, goodPassword)
	addUser(t, env, stranger, otherPassword)
	here, there := newBrowser(t, "User-Agent", uaFirefox), newBrowser(t, "User-Agent", uaChrome)
	signIn(t, env, here, email, goodPassword, false)
	signIn(t, env, there, email, goodPassword, true)
	elsewhere := newBrowser(t, "User-Agent", uaSafari)
	signIn(t, env, elsewhere, stranger, otherPassword, false)

	a := signedInAs(t, env, here, email)
	mustContainText(t, a.Body, "Firefox, Linux", "Chrome, Windows", enText("account.sessions.remembered"))
	mustNotContainText(t, a.Body, "Safari, iPhone")
	this := "(" + enText("account.sessions.this") + ")"
	if n := strings.Count(html.UnescapeString(a.Body), this); n != 1 {
		t.Fatalf("%q appears %d times", this, n)
	}
	if row := a.Body[strings.Index(a.Body, "Firefox, Linux"):]; !strings.HasPrefix(html.UnescapeString(row), "Firefox, Linux <strong>"+this) {
		t.Fatalf("this browser is not marked on its own row: %.80s", row)
	}

	// The other browser's row carries its "Log out" button.
	var thereID, strangerID string
	for _, row := range strings.Split(a.Body, `<li class="card">`) {
		if strings.Contains(row, "Chrome, Windows") {
			thereID = hiddenValue(t, row, "session_id")
		}
	}
	for _, s := range liveSessions(t, env, acc.ID) {
		if s.UserAgent == uaChrome && s.ID != thereID {
			t.Fatalf("the Chrome row's button ends session %q, not Chrome's %q", thereID, s.ID)
		}
	}
	strangerAcc := storedAccount(t, env, stranger)
	strangerID = liveSessions(t, env, strangerAcc.ID)[0].ID

	// Someone else's session id is not ours to end, nor to learn about.
	a = send(t, here, http.MethodPost, env.URL+"/account/sessions/end", url.Values{"account_id": {acc.ID}, "session_id": {strangerID}})
	if a.Status != http.StatusNotFound {
		t.Fatalf("end a stranger's session: %d\n%s", a.Status, a.Body)
	}
	signedInAs(t, env, elsewhere, stranger)

	a = send(t, here, http.MethodPost, env.URL+"/account/sessions/end", url.Values{"account_id": {acc.ID}, "session_id": {thereID}})
	if a.Status != http.StatusOK || a.URL.Path != "/account" {
		t.Fatalf("end the other browser: %d at %s\n%s", a.Status, a.URL, a.Body)
	}
	mustContainText(t, a.Body, enText("notice.session_ended"))
	mustNotContainText(t, a.Body, "Chrome, Windows")
	signedInAs(t, env, there, "")
	signedInAs(t, env, here, email)

	// Log out of all browsers: every session of the account, this one too.
	signIn(t, env, there, email, goodPassword, true)
	a = send(t, here, http.MethodPost, env.URL+"/account/sessions/end-all", url.Values{"account_id": {acc.ID}})
	if a.Status != http.StatusOK || a.URL.Path != "/login" {
		t.Fatalf("end all: %d at %s\n%s", a.Status, a.URL, a.Body)
	}
	mustContainText(t, a.Body, enText("notice.sessions_ended"))
	signedInAs(t, env, here, "")
	signedInAs(t, env, there, "")
	if n := len(liveSessions(t, env, acc.ID)); n != 0 {
		t.Fatalf("%d sessions left", n)
	}
	signedInAs(t, env, elsewhere, stranger) // another account is not touched
}

func TestRememberMeCookie(t *testing.T) {
	t.Parallel()
	env := apptest.Start(t, nil)
	const email = "aino@example.fi"
	addUser(t, env, email, goodPassword)

	for _, remember := range []bool{true, false} {
		c := stayPut(newBrowser(t))
		f := url.Values{"email": {email}, "password": {goodPassword}}
		if remember {
			f.Set("remember_me", "yes")
		}
		a := send(t, c, http.MethodPost, env.URL+"/login", f)
		if a.Status != http.StatusSeeOther || a.Header.Get("Location") != "/account" {
			t.Fatalf("login: %d to %q", a.Status, a.Header.Get("Location"))
		}
		cookies := a.Resp.Cookies()
		kept, dropped := "portti-remember", "portti-session"
		if !remember {
			kept, dropped = dropped, kept
		}
		k := cookieNamed(cookies, kept)
		if k == nil || k.Value == "" {
			t.Fatalf("remember=%v: no %s cookie in %v", remember, kept, a.Header.Values("Set-Cookie"))
		}
		if !k.HttpOnly || k.SameSite != http.SameSiteLaxMode || k.Path != "/" {
			t.Errorf("%s cookie attributes: %s", kept, k.Raw)
		}
		if remember {
			if want := 30 * 24 * 3600; k.MaxAge < want-60 || k.MaxAge > want {
				t.Errorf("remembered cookie Max-Age %d, want about 30 days: %s", k.MaxAge, k.Raw)
			}
		} else if k.MaxAge != 0 || !k.Expires.IsZero() || strings.Contains(strings.ToLower(k.Raw), "expires") {
			t.Errorf("browser session cookie outlives the browser: %s", k.Raw)
		}
		if d := cookieNamed(cookies, dropped); d != nil && d.MaxAge >= 0 {
			t.Errorf("remember=%v: %s cookie set too: %s", remember, dropped, d.Raw)
		}
		// The server agrees on the kind of session.
		sessions := liveSessions(t, env, storedAccount(t, env, email).ID)
		if sessions[0].Persistent != remember {
			t.Errorf("remember=%v: stored session persistent=%v", remember, sessions[0].Persistent)
		}
		env.Clock.Advance(time.Second) // "newest" is by login time
	}
}

func TestSessionLifetimes(t *testing.T) {
	t.Parallel()
	env := apptest.Start(t, nil)
	const email = "aino@example.fi"
	addUser(t, env, email, goodPassword)
	browserOnly, remembered := newBrowser(t), newBrowser(t)
	signIn(t, env, browserOnly, email, goodPassword, false)
	signIn(t, env, remembered, email, goodPassword, true)

	env.Clock.Advance(11*time.Hour + 50*time.Minute)
	signedInAs(t, env, browserOnly, email)
	signedInAs(t, env, remembered, email)

	env.Clock.Advance(11 * time.Minute) // 12 h 1 min
	signedInAs(t, env, browserOnly, "")
	signedInAs(t, env, remembered, email)

	env.Clock.Advance(29 * 24 * time.Hour) // 29 d 12 h
	signedInAs(t, env, remembered, email)
	env.Clock.Advance(36 * time.Hour) // 31 d
	signedInAs(t, env, remembered, "")
}

func TestTwoAccountsInOneBrowser(t *testing.T) {
	t.Parallel()
	env := apptest.Start(t, nil)
	const staff, student = "aino.virtanen@example.fi", "aino.virtanen@student.example.fi"
	accA := addUser(t, env, staff, goodPassword)
	accB := addUser(t, env, student, otherPassword)
	c := newBrowser(t)
	signIn(t, env, c, staff, goodPassword, false)
	env.Clock.Advance(time.Second) // "newest" is by login time
	signIn(t, env, c, student, otherPassword, true)

	a := signedInAs(t, env, c, student)
	mustContainText(t, a.Body, enText("account.other_accounts"), staff, `href="/account?account=`+accA.ID+`"`)
	a = send(t, c, http.MethodGet, env.URL+"/account?account="+accA.ID, nil)
	mustContainText(t, a.Body, enText("account.signed_in_as", "Email", staff), student)
	// An account not signed in here cannot be chosen by its id.
	stranger := addUser(t, env, "eero@example.fi", goodPassword)
	if a := send(t, c, http.MethodGet, env.URL+"/account?account="+stranger.ID, nil); a.URL.Path != "/login" {
		t.Fatalf("/account?account=<not signed in here>: %d at %s", a.Status, a.URL)
	}

	// Logging the student account out leaves the staff account signed in.
	a = send(t, c, http.MethodPost, env.URL+"/logout", url.Values{"account_id": {accB.ID}})
	if a.Status != http.StatusOK || a.URL.Path != "/login" {
		t.Fatalf("logout: %d at %s", a.Status, a.URL)
	}
	mustContainText(t, a.Body, enText("notice.logged_out"))
	a = signedInAs(t, env, c, staff)
	mustNotContainText(t, a.Body, enText("account.other_accounts"))
	if n := len(liveSessions(t, env, accB.ID)); n != 0 {
		t.Fatalf("student account has %d sessions", n)
	}
	if n := len(liveSessions(t, env, accA.ID)); n != 1 {
		t.Fatalf("staff account has %d sessions", n)
	}
}

// TestManyAccountsInOneBrowser fills the browser's session slots: a new
// login must always win a slot, whichever cookie it goes in.
func TestManyAccountsInOneBrowser(t *testing.T) {
	t.Parallel()
	env := apptest.Start(t, nil)
	c := newBrowser(t)
	var emails []string
	for i := range 9 {
		email := "user" + string(rune('a'+i)) + "@example.fi"
		addUser(t, env, email, goodPassword)
		emails = append(emails, email)
	}
	for _, email := range emails[:8] {
		signIn(t, env, c, email, goodPassword, true)
		env.Clock.Advance(time.Second) // "newest" is by login time
	}
	// The ninth, not remembered: still signed in.
	signIn(t, env, c, emails[8], goodPassword, false)
	signedInAs(t, env, c, emails[8])
	// The oldest was pushed out of the browser, and so ended; the rest
	// are still there.
	if n := len(liveSessions(t, env, storedAccount(t, env, emails[0]).ID)); n != 0 {
		t.Errorf("the pushed-out session lives on (%d)", n)
	}
	a := send(t, c, http.MethodGet, env.URL+"/account?account="+storedAccount(t, env, emails[1]).ID, nil)
	mustContainText(t, a.Body, enText("account.signed_in_as", "Email", emails[1]))
}

// TestStaleSessionSecretsDoNotPileUp: an expired remembered session leaves
// its secret in the cookie; logging in again and again over months must
// not fill the browser's slots with dead secrets.
func TestStaleSessionSecretsDoNotPileUp(t *testing.T) {
	t.Parallel()
	env := apptest.Start(t, nil)
	const email, other = "aino@example.fi", "eero@example.fi"
	addUser(t, env, email, goodPassword)
	addUser(t, env, other, otherPassword)
	c := newBrowser(t)
	for range 9 {
		signIn(t, env, c, email, goodPassword, true)
		env.Clock.Advance(31 * 24 * time.Hour)
	}
	signIn(t, env, c, other, otherPassword, false)
	signedInAs(t, env, c, other)
	u, _ := url.Parse(env.URL)
	for _, ck := range c.Jar.Cookies(u) {
		if n := strings.Count(ck.Value, ".") + 1; ck.Name == "portti-remember" && n > 1 {
			t.Errorf("remember cookie holds %d secrets, all dead", n)
		}
	}
}

func TestSessionIDRotatesAtLogin(t *testing.T) {
	t.Parallel()
	env := apptest.Start(t, nil)
	const email = "aino@example.fi"
	acc := addUser(t, env, email, goodPassword)
	u, _ := url.Parse(env.URL)
	secretOf := func(c *http.Client) string {
		for _, ck := range c.Jar.Cookies(u) {
			if ck.Name == "portti-session" {
				return ck.Value
			}
		}
		t.Fatal("no session cookie")
		return ""
	}

	// A secret planted before the login (session fixation) is not what the
	// login signs in.
	const planted = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	c := newBrowser(t)
	c.Jar.SetCookies(u, []*http.Cookie{{Name: "portti-session", Value: planted, Path: "/"}})
	signIn(t, env, c, email, goodPassword, false)
	first := secretOf(c)
	if strings.Contains(first, planted) {
		t.Errorf("planted secret kept in the cookie: %q", first)
	}
	signIn(t, env, c, email, goodPassword, false)
	second := secretOf(c)
	if second == first {
		t.Fatal("the session secret did not change at the second login")
	}
	if n := len(liveSessions(t, env, acc.ID)); n != 1 {
		t.Fatalf("%d sessions after logging in twice in one browser, want 1", n)
	}
	// The first secret is worth nothing now.
	old := newBrowser(t)
	old.Jar.SetCookies(u, []*http.Cookie{{Name: "portti-session", Value: first, Path: "/"}})
	signedInAs(t, env, old, "")
}
