package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/portti/portti/internal/account"
	"github.com/portti/portti/internal/app"
	"github.com/portti/portti/internal/config"
)

const (
	email    = "aino.virtanen@example.fi"
	password = "kesämökki järven rannalla"
)

// setup points every command at a fresh SQLite file with cheap hashing.
func setup(t *testing.T) string {
	t.Helper()
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "PORTTI_") {
			t.Setenv(k, "") // set, so that Setenv restores it afterwards
			os.Unsetenv(k)
		}
	}
	db := filepath.Join(t.TempDir(), "portti.db")
	t.Setenv("PORTTI_DATABASE_URL", "sqlite:"+db)
	t.Setenv("PORTTI_ARGON2_MEMORY", "64")
	t.Setenv("PORTTI_ARGON2_TIME", "1")
	return db
}

// openApp opens the App the server would run, on the configured database.
func openApp(t *testing.T) *app.App {
	t.Helper()
	cfg, err := config.Load("", os.LookupEnv)
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.New(context.Background(), cfg, slog.New(slog.DiscardHandler), app.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

// cli runs a command as the binary would.
func cli(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), args, strings.NewReader(stdin), &out, &errOut)
	return out.String(), err
}

func mustCLI(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	out, err := cli(t, stdin, args...)
	if err != nil {
		t.Fatalf("portti %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// field returns the value of a "name:  value" line of `user show`.
func field(t *testing.T, out, name string) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + `:\s+(.*)$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no %q in:\n%s", name, out)
	}
	return m[1]
}

func addArgs(e string) []string {
	return []string{"user", "add", "--email", e, "--given-name", "Aino", "--family-name", "Virtanen", "--password-stdin"}
}

func TestHelpAndUnknownCommands(t *testing.T) {
	setup(t)
	out := mustCLI(t, "", "--help")
	if !strings.Contains(out, "portti user add") {
		t.Errorf("help:\n%s", out)
	}
	for _, args := range [][]string{{"frobnicate"}, {"user"}, {"user", "frobnicate", email}, {"user", "show"}} {
		if _, err := cli(t, "", args...); err == nil {
			t.Errorf("portti %v: no error", args)
		}
	}
}

func TestUserCommands(t *testing.T) {
	setup(t)

	out := mustCLI(t, password+"\n", addArgs(" Aino.Virtanen@Example.FI ")...)
	if !strings.Contains(out, "added "+email) || !strings.Contains(out, "activated") {
		t.Fatalf("user add: %q", out)
	}
	out = mustCLI(t, "", "user", "show", email)
	if got := field(t, out, "activated"); !strings.HasPrefix(got, "yes") {
		t.Errorf("activated: %q", got)
	}
	for name, want := range map[string]string{"email": email, "name": "Aino Virtanen", "disabled": "no", "locked": "no", "failed attempts": "0", "active sessions": "0"} {
		if got := field(t, out, name); got != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
	if got := field(t, out, "password changed"); !regexp.MustCompile(`^\d{4}-\d\d-\d\dT.* \(age \d+s\)$`).MatchString(got) {
		t.Errorf("password changed: %q", got)
	}
	// The address is case-insensitive for the operator too.
	mustCLI(t, "", "user", "show", "AINO.VIRTANEN@example.fi")

	// A weak password is refused, saying why.
	for pw, problem := range map[string]string{
		"short":       "password.too_short",
		"password123": "password.common",
		"":            "field.required",
	} {
		_, err := cli(t, pw+"\n", addArgs("weak@example.fi")...)
		if err == nil || !strings.Contains(err.Error(), problem) || !strings.Contains(err.Error(), "password") {
			t.Errorf("password %q: %v, want it to name %s", pw, err, problem)
		}
	}
	if _, err := cli(t, "short\n", addArgs("weak@example.fi")...); err == nil || !strings.Contains(err.Error(), "too short") {
		t.Errorf("the problem is not explained in words: %v", err)
	}
	if _, err := cli(t, "", "user", "show", "weak@example.fi"); err == nil || !strings.Contains(err.Error(), "no account") {
		t.Errorf("refused account exists: %v", err)
	}
	// Other refusals.
	if _, err := cli(t, password+"\n", addArgs(email)...); !errors.Is(err, account.ErrExists) {
		t.Errorf("duplicate: %v", err)
	}
	if _, err := cli(t, password+"\n", addArgs("not an address")...); err == nil || !strings.Contains(err.Error(), "email.invalid") {
		t.Errorf("bad address: %v", err)
	}
	if _, err := cli(t, password+"\n", "user", "add", "--email", "x@example.fi", "--given-name", "X", "--family-name", "Y"); err == nil ||
		!strings.Contains(err.Error(), "--password-stdin") {
		t.Errorf("no --password-stdin: %v", err)
	}
	if _, err := cli(t, password+"\n", "user", "add", "--email", "x@example.fi", "--password-stdin"); err == nil || !strings.Contains(err.Error(), "given name") {
		t.Errorf("no names: %v", err)
	}
	// Flags after the address count: a --config left unread would send the
	// command to another database.
	missing := filepath.Join(t.TempDir(), "missing.yaml")
	if _, err := cli(t, "", "user", "show", email, "--config", missing); err == nil || !strings.Contains(err.Error(), "missing.yaml") {
		t.Errorf("--config after the address: %v", err)
	}
	if _, err := cli(t, "", "user", "show", email, "other@example.fi"); err == nil {
		t.Errorf("two addresses: no error")
	}
	// Only the first line of stdin is the password, with its line end gone.
	mustCLI(t, password+"\r\nsecond line\n", addArgs("crlf@example.fi")...)
	if _, err := openApp(t).Accounts.Login(context.Background(), "crlf@example.fi", password, account.Meta{}); err != nil {
		t.Errorf("login with the password given on stdin: %v", err)
	}

	out = mustCLI(t, "", "user", "disable", email)
	if got := field(t, out, "disabled"); got != "yes" {
		t.Errorf("after disable: %q", got)
	}
	if got := field(t, mustCLI(t, "", "user", "show", email), "disabled"); got != "yes" {
		t.Errorf("show after disable: %q", got)
	}
	if got := field(t, mustCLI(t, "", "user", "enable", email), "disabled"); got != "no" {
		t.Errorf("after enable: %q", got)
	}
	for _, verb := range []string{"show", "unlock", "disable", "enable"} {
		if _, err := cli(t, "", "user", verb, "nobody@example.fi"); err == nil || !strings.Contains(err.Error(), "no account") {
			t.Errorf("%s of an unknown address: %v", verb, err)
		}
	}
}

func TestUserUnlock(t *testing.T) {
	setup(t)
	mustCLI(t, password+"\n", addArgs(email)...)

	// Lock it through the account rules, on the same database.
	a := openApp(t)
	m := account.Meta{ClientIP: "192.0.2.1"}
	for range 2 {
		a.Accounts.Login(context.Background(), email, "wrong", m)
	}
	if got := field(t, mustCLI(t, "", "user", "show", email), "failed attempts"); got != "2" {
		t.Errorf("failed attempts after two wrong passwords: %q", got)
	}
	for range 3 {
		a.Accounts.Login(context.Background(), email, "wrong", m)
	}
	out := mustCLI(t, "", "user", "show", email)
	if got := field(t, out, "locked"); !strings.HasPrefix(got, "yes (until ") {
		t.Fatalf("locked: %q", got)
	}
	var locked *account.LockedError
	if _, err := a.Accounts.Login(context.Background(), email, password, m); !errors.As(err, &locked) {
		t.Fatalf("login while locked: %v", err)
	}

	out = mustCLI(t, "", "user", "unlock", email)
	if got := field(t, out, "locked"); got != "no" {
		t.Errorf("locked after unlock: %q", got)
	}
	if got := field(t, out, "failed attempts"); got != "0" {
		t.Errorf("failed attempts after unlock: %q", got)
	}
	if _, err := a.Accounts.Login(context.Background(), email, password, m); err != nil {
		t.Fatalf("login after unlock: %v", err)
	}
}

// browser is an HTTP client with its own cookies.
func browser(t *testing.T) *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Timeout: 10 * time.Second}
}

func login(t *testing.T, c *http.Client, base, e, pw string) (int, string, string) {
	t.Helper()
	resp, err := c.PostForm(base+"/login", url.Values{"email": {e}, "password": {pw}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Request.URL.Path, string(b)
}

// TestServerSeesCLIChanges: the operator commands work on the database of
// a running server, and the server acts on them at once.
func TestServerSeesCLIChanges(t *testing.T) {
	setup(t)
	srv := httptest.NewServer(openApp(t).Handler())
	defer srv.Close()
	signedIn := fmt.Sprintf("You are signed in as %s.", email)
	disabled := "This account has been disabled"

	if status, _, _ := login(t, browser(t), srv.URL, email, password); status != http.StatusUnauthorized {
		t.Fatalf("login before the account exists: %d", status)
	}
	mustCLI(t, password+"\n", addArgs(email)...)
	own := browser(t)
	if status, path, body := login(t, own, srv.URL, email, password); status != http.StatusOK || path != "/account" || !strings.Contains(body, signedIn) {
		t.Fatalf("login after user add: %d at %s\n%s", status, path, body)
	}
	if got := field(t, mustCLI(t, "", "user", "show", email), "active sessions"); got != "1" {
		t.Errorf("active sessions: %q", got)
	}

	// Disabled: the open session ends and the next login says why.
	mustCLI(t, "", "user", "disable", email)
	resp, err := own.Get(srv.URL + "/account")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if strings.Contains(string(body), signedIn) || (resp.Request.URL.Path != "/login" && resp.StatusCode != http.StatusForbidden) {
		t.Fatalf("the open session of a disabled account: %d at %s\n%s", resp.StatusCode, resp.Request.URL.Path, body)
	}
	if status, _, body := login(t, own, srv.URL, email, password); status != http.StatusForbidden || !strings.Contains(body, disabled) {
		t.Fatalf("login of a disabled account: %d\n%s", status, body)
	}
	// ...but only with the right password: a stranger learns nothing.
	if status, _, body := login(t, browser(t), srv.URL, email, "wrong password"); status != http.StatusUnauthorized || strings.Contains(body, disabled) {
		t.Fatalf("wrong password for a disabled account: %d", status)
	}

	mustCLI(t, "", "user", "enable", email)
	if status, path, _ := login(t, own, srv.URL, email, password); status != http.StatusOK || path != "/account" {
		t.Fatalf("login after enable: %d at %s", status, path)
	}

	// Locked by wrong passwords over HTTP, unlocked by the operator.
	for range 5 {
		login(t, browser(t), srv.URL, email, "wrong password")
	}
	if got := field(t, mustCLI(t, "", "user", "show", email), "locked"); !strings.HasPrefix(got, "yes") {
		t.Fatalf("locked after five wrong passwords over HTTP: %q", got)
	}
	if status, _, _ := login(t, browser(t), srv.URL, email, password); status != http.StatusForbidden {
		t.Fatalf("login while locked: %d", status)
	}
	mustCLI(t, "", "user", "unlock", email)
	if status, path, _ := login(t, browser(t), srv.URL, email, password); status != http.StatusOK || path != "/account" {
		t.Fatalf("login after unlock: %d at %s", status, path)
	}
}

func TestServeRejectsBadConfig(t *testing.T) {
	setup(t)
	t.Setenv("PORTTI_LOCKOUT_THRESHOLD", "abc")
	t.Setenv("PORTTI_ACTIVATION_TTL", "soon")
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"serve"}, strings.NewReader(""), &out, &errOut)
	if err == nil {
		t.Fatal("serve started with bad settings")
	}
	for _, key := range []string{"PORTTI_LOCKOUT_THRESHOLD", "PORTTI_ACTIVATION_TTL", `"abc"`, `"soon"`} {
		if !strings.Contains(err.Error(), key) {
			t.Errorf("error does not name %s:\n%v", key, err)
		}
	}
	// The user commands read the same settings and refuse the same way.
	if _, err := cli(t, "", "user", "show", email); err == nil || !strings.Contains(err.Error(), "PORTTI_LOCKOUT_THRESHOLD") {
		t.Errorf("user show with bad settings: %v", err)
	}
}

func TestServe(t *testing.T) {
	setup(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	t.Setenv("PORTTI_LISTEN", addr)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errOut bytes.Buffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"serve"}, strings.NewReader(""), &out, &errOut) }()

	deadline := time.Now().Add(2 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), `"ok"`) {
				t.Fatalf("healthz: %d %s", resp.StatusCode, b)
			}
			break
		}
		select {
		case err := <-done:
			t.Fatalf("serve ended: %v\n%s", err, errOut.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no answer on %s within 2 s: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve after cancel: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop")
	}
	if !strings.Contains(out.String(), "portti is serving at http://"+addr) {
		t.Errorf("stdout: %q", out.String())
	}
}
