package app_test

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/portti/portti/internal/app/apptest"
)

// post submits a form and returns the final status and body.
func post(t *testing.T, c *http.Client, u string, form url.Values) (int, string) {
	t.Helper()
	resp, err := c.PostForm(u, form)
	if err != nil {
		t.Fatalf("POST %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func get(t *testing.T, c *http.Client, u string) (int, string) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func registration(email, pw string) url.Values {
	return url.Values{
		"email": {email}, "email_confirm": {email},
		"password": {pw}, "password_confirm": {pw},
		"given_name": {"Maija"}, "family_name": {"Meikäläinen"},
		"accept_terms": {"yes"},
	}
}

func mustContain(t *testing.T, body string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(body, w) {
			t.Fatalf("page lacks %q:\n%s", w, body)
		}
	}
}

// TestJourney walks the account lifecycle a newcomer meets first:
// register, activate from the e-mail, log in, see the account, log out.
func TestJourney(t *testing.T) {
	env := apptest.Start(t, nil)
	c := env.Browser(t)
	const email, pw = "maija.meikalainen@example.fi", "kesämökki järven rannalla"

	status, body := post(t, c, env.URL+"/register", registration(" Maija.Meikalainen@Example.FI ", pw))
	if status != http.StatusOK {
		t.Fatalf("register: %d\n%s", status, body)
	}
	mustContain(t, body, "Check your email", email, "noreply@portti.test")

	m := env.Mail(t, email, "")
	link := env.Link(t, m, "/activate")

	// Logging in before activation, with the right password, explains.
	status, body = post(t, c, env.URL+"/login", url.Values{"email": {email}, "password": {pw}})
	if status != http.StatusForbidden || !strings.Contains(body, "has not been activated") {
		t.Fatalf("login before activation: %d\n%s", status, body)
	}

	status, body = get(t, c, link)
	if status != http.StatusOK {
		t.Fatalf("activate: %d\n%s", status, body)
	}
	mustContain(t, body, "Your account is now active")

	// The link is single-use: following it again says the account is active.
	_, body = get(t, c, link)
	mustContain(t, body, "already active")

	status, body = post(t, c, env.URL+"/login", url.Values{"email": {"  MAIJA.meikalainen@example.fi"}, "password": {pw}})
	if status != http.StatusOK {
		t.Fatalf("login: %d\n%s", status, body)
	}
	mustContain(t, body, "You are signed in as "+email)

	status, body = post(t, c, env.URL+"/logout", nil)
	if status != http.StatusOK {
		t.Fatalf("logout: %d\n%s", status, body)
	}
	mustContain(t, body, "You have signed out.")
	_, body = get(t, c, env.URL+"/account")
	mustContain(t, body, `action="/login"`)
}
