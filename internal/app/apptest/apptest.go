// Package apptest starts a whole portti for end-to-end tests: the real
// App on a loopback HTTP server, a real SQLite database in a temporary
// directory, and a real SMTP server (smtptest) receiving its e-mail. Time
// comes from a Clock the test moves, so a 30-minute expiry is tested in
// microseconds.
package apptest

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portti/portti/internal/app"
	"github.com/portti/portti/internal/config"
	"github.com/portti/portti/internal/mail/smtptest"
)

// Clock is a settable clock shared by the App and the test.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// Env is a running portti and its mailbox.
type Env struct {
	App   *app.App
	URL   string // base URL, e.g. http://127.0.0.1:41234
	SMTP  *smtptest.Server
	Clock *Clock
	Log   *strings.Builder // everything portti logged (guarded by logMu)
	logMu *sync.Mutex
}

// Localhost, given as PORTTI_PUBLIC_URL, makes the public URL
// http://localhost:PORT with the test server's port: passkeys need a
// domain name, and a browser treats localhost as a secure context.
const Localhost = "http://localhost"

// Start runs portti with test settings. env holds PORTTI_* overrides,
// applied as the real binary applies the environment.
func Start(t testing.TB, env map[string]string) *Env {
	t.Helper()
	return StartWithFile(t, "", env)
}

// StartWithFile is Start with a configuration file holding file (YAML),
// read as `portti serve --config` reads it, under the environment: env is
// also what the file's clients read with secret_env. An empty file means
// no --config.
func StartWithFile(t testing.TB, file string, env map[string]string) *Env {
	t.Helper()
	path := ""
	if file != "" {
		path = filepath.Join(t.TempDir(), "portti.yaml")
		if err := os.WriteFile(path, []byte(file), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	smtp := smtptest.Start(t)
	srv := httptest.NewUnstartedServer(nil)
	base := "http://" + srv.Listener.Addr().String()

	vars := map[string]string{
		"PORTTI_LISTEN":       srv.Listener.Addr().String(),
		"PORTTI_PUBLIC_URL":   base,
		"PORTTI_DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "portti.db"),
		"PORTTI_SMTP_URL":     smtp.URL(),
		"PORTTI_MAIL_FROM":    "portti <noreply@portti.test>",
		// Cheap hashing keeps the suite fast; the parameters' effect on
		// timing is measured by the password package's benchmark.
		"PORTTI_ARGON2_MEMORY": "64",
		"PORTTI_ARGON2_TIME":   "1",
	}
	for k, v := range env {
		vars[k] = v
	}
	if vars["PORTTI_PUBLIC_URL"] == Localhost {
		_, port, _ := strings.Cut(srv.Listener.Addr().String(), ":")
		base = "http://localhost:" + port
		vars["PORTTI_PUBLIC_URL"] = base
	}
	cfg, err := config.Load(path, func(k string) (string, bool) { v, ok := vars[k]; return v, ok })
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	var logMu sync.Mutex
	logBuf := &strings.Builder{}
	logger := slog.New(slog.NewTextHandler(lockedWriter{&logMu, logBuf}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	clock := &Clock{t: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)}

	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, cfg, logger, app.Options{Now: clock.Now})
	if err != nil {
		cancel()
		t.Fatalf("app: %v", err)
	}
	a.RunWorkers(ctx)
	srv.Config.Handler = a.Handler()
	srv.Start()
	t.Cleanup(func() {
		srv.Close()
		cancel()
		a.Close()
	})
	return &Env{App: a, URL: base, SMTP: smtp, Clock: clock, Log: logBuf, logMu: &logMu}
}

// Logs returns what portti has logged so far.
func (e *Env) Logs() string {
	e.logMu.Lock()
	defer e.logMu.Unlock()
	return e.Log.String()
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// Browser returns an HTTP client with its own cookie jar, like one browser.
// It follows redirects.
func (e *Env) Browser(t testing.TB) *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, Timeout: 10 * time.Second}
}

// Mail waits for a message to addr whose subject contains subject.
func (e *Env) Mail(t testing.TB, addr, subject string) smtptest.Message {
	t.Helper()
	to := smtptest.To(addr)
	return e.SMTP.WaitFor(t, func(m smtptest.Message) bool {
		return to(m) && strings.Contains(m.Subject, subject)
	}, 10*time.Second)
}

// Link returns the first link in m that goes to path on this portti.
func (e *Env) Link(t testing.TB, m smtptest.Message, path string) string {
	t.Helper()
	for _, l := range smtptest.Links(m) {
		if strings.HasPrefix(l, e.URL+path) {
			return l
		}
	}
	t.Fatalf("no %s link in message %q:\n%s", path, m.Subject, m.Text)
	return ""
}

// Settle waits until the account tasks the forms queued (registrations,
// reset and activation links) are done and their e-mails queued, for tests
// that look into the database right after such a form.
func (e *Env) Settle(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		n, err := e.App.Accounts.PendingTasks(context.Background())
		if err != nil {
			t.Fatalf("pending account tasks: %v", err)
		}
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d account tasks still pending after 10 s", n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
