// Package session keeps browser sign-ins: which accounts are signed in in a
// browser, for how long, and which browser this is.
//
// A browser holds up to MaxPerBrowser session secrets, so several accounts
// (staff and student, say) can be signed in side by side. Remembered
// sessions ("remember me on this computer") live in a cookie with a
// lifetime; the others in a cookie that ends when the browser closes. Only
// the SHA-256 of each secret is stored. A separate long-lived device cookie
// lets lockout tell the owner's own browser from a stranger's.
package session

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/portti/portti/internal/secret"
	"github.com/portti/portti/internal/storage"
)

// MaxPerBrowser bounds the accounts signed in side by side in one browser.
const MaxPerBrowser = 8

// Config configures a Manager.
type Config struct {
	Store       storage.Storage
	Secure      bool          // https: Secure cookies with the __Host- prefix
	RememberTTL time.Duration // lifetime of a remembered session (default 30 days)
	BrowserTTL  time.Duration // lifetime of a browser session (default 12 h)
	Now         func() time.Time
	Random      io.Reader
}

// Manager starts, finds and ends sessions.
type Manager struct {
	cfg                            Config
	rememberName, browserName, dev string // cookie names
}

// New returns a Manager.
func New(cfg Config) *Manager {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Random == nil {
		cfg.Random = rand.Reader
	}
	if cfg.RememberTTL <= 0 {
		cfg.RememberTTL = 30 * 24 * time.Hour
	}
	if cfg.BrowserTTL <= 0 {
		cfg.BrowserTTL = 12 * time.Hour
	}
	// The __Host- prefix pins a cookie to this exact host over https; a
	// browser refuses it on plain http, so local development goes without.
	prefix := "portti-"
	if cfg.Secure {
		prefix = "__Host-portti-"
	}
	return &Manager{cfg: cfg, rememberName: prefix + "remember", browserName: prefix + "session", dev: prefix + "device"}
}

// Meta is what a new session records about the request.
type Meta struct {
	ClientIP  string
	UserAgent string
	DeviceID  string
	// Factors are what the sign-in proved (package authn); the session
	// keeps them for amr, acr and freshness checks.
	Factors []storage.AuthFactor
}

// Sessions returns this browser's live sessions, newest first.
func (m *Manager) Sessions(ctx context.Context, r *http.Request) ([]storage.Session, error) {
	now := m.cfg.Now()
	var out []storage.Session
	for _, name := range []string{m.rememberName, m.browserName} {
		for _, s := range m.secrets(r, name) {
			se, err := m.cfg.Store.GetSession(ctx, secret.Hash(s))
			if errors.Is(err, storage.ErrNotFound) {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("session: %w", err)
			}
			if !se.ExpiresAt.After(now) {
				continue
			}
			if now.Sub(se.LastSeenAt) > 5*time.Minute {
				// Coarse "last seen" for the signed-in browsers list; not
				// written on every request.
				_, _ = m.cfg.Store.UpdateSession(ctx, se.ID, func(s storage.Session) (storage.Session, error) {
					s.LastSeenAt = now
					return s, nil
				})
			}
			out = append(out, se)
		}
	}
	slices.SortFunc(out, func(a, b storage.Session) int { return b.CreatedAt.Compare(a.CreatedAt) })
	return out, nil
}

// Current returns the session a page acts for: with accountID empty, the
// newest one; otherwise the one of that account. ErrNotFound when none.
func (m *Manager) Current(ctx context.Context, r *http.Request, accountID string) (storage.Session, error) {
	all, err := m.Sessions(ctx, r)
	if err != nil {
		return storage.Session{}, err
	}
	for _, s := range all {
		if accountID == "" || s.AccountID == accountID {
			return s, nil
		}
	}
	return storage.Session{}, storage.ErrNotFound
}

// Start signs an account in in this browser with a fresh secret. A session
// of the same account already in this browser ends: the id changes at every
// login, so a secret planted before the login is worth nothing after it.
func (m *Manager) Start(ctx context.Context, w http.ResponseWriter, r *http.Request, accountID string, remember bool, meta Meta) (storage.Session, error) {
	p, err := m.Prepare(ctx, r)
	if err != nil {
		return storage.Session{}, err
	}
	return p.Begin(ctx, m.cfg.Store, w, accountID, remember, meta)
}

// Pending is a browser session that Prepare made ready before a sign-in
// and Begin stores in the sign-in's own transaction, so that a sign-in
// commits once (issue 8). Prepare does the reads, Begin only writes: a
// read of this browser's sessions may write (their "last seen"), which
// must not wait for the transaction it runs in.
type Pending struct {
	m        *Manager
	r        *http.Request
	existing []storage.Session // the browser's live sessions, newest first
	code     string            // the new session's secret
	id       string            // its hash, the session's ID
}

// Prepare reads this browser's sessions and makes the secret of the one a
// sign-in will begin with Begin.
func (m *Manager) Prepare(ctx context.Context, r *http.Request) (*Pending, error) {
	existing, err := m.Sessions(ctx, r)
	if err != nil {
		return nil, err
	}
	code, hash, err := secret.New(m.cfg.Random)
	if err != nil {
		return nil, err
	}
	return &Pending{m: m, r: r, existing: existing, code: code, id: hash}, nil
}

// Begin stores the prepared session for accountID through st (a
// transaction, or the store) and gives the browser its cookie once st
// commits (AfterCommit). Call it once.
func (p *Pending) Begin(ctx context.Context, st storage.Storage, w http.ResponseWriter, accountID string, remember bool, meta Meta) (storage.Session, error) {
	m := p.m
	now := m.cfg.Now().UTC()
	ttl := m.cfg.BrowserTTL
	if remember {
		ttl = m.cfg.RememberTTL
	}
	se := storage.Session{
		ID: p.id, AccountID: accountID, DeviceID: meta.DeviceID, Persistent: remember,
		CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(ttl),
		ClientIP: meta.ClientIP, UserAgent: truncate(meta.UserAgent, 256),
		Factors: meta.Factors,
	}
	if err := st.CreateSession(ctx, se); err != nil {
		return se, fmt.Errorf("start session: %w", err)
	}
	// The browser keeps the secrets of its other live sessions (existing is
	// newest first), as many as fit next to the new one. The secrets of
	// ended or expired sessions, and any never issued, are dropped: left
	// in, they would fill the browser's slots until a new login no longer
	// fit in its cookie. A session pushed out of a full browser is ended,
	// as nobody can reach it any more.
	keep := map[string]bool{}
	for _, old := range p.existing {
		replaced := old.AccountID == accountID
		if !replaced && !keep[old.ID] && len(keep) < MaxPerBrowser-1 {
			keep[old.ID] = true
			continue
		}
		if keep[old.ID] {
			continue
		}
		if err := st.DeleteSession(ctx, old.ID); err != nil && !errors.Is(err, storage.ErrNotFound) {
			return se, fmt.Errorf("replace session: %w", err)
		}
	}
	st.AfterCommit(func() {
		m.rewrite(w, p.r, func(name string, secrets []string) []string {
			secrets = slices.DeleteFunc(secrets, func(s string) bool { return !keep[secret.Hash(s)] })
			if (name == m.rememberName) == remember {
				secrets = append([]string{p.code}, secrets...)
			}
			return secrets
		})
	})
	return se, nil
}

// End ends one session of this browser.
func (m *Manager) End(ctx context.Context, w http.ResponseWriter, r *http.Request, id string) error {
	if err := m.cfg.Store.DeleteSession(ctx, id); err != nil && !errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("end session: %w", err)
	}
	m.rewrite(w, r, func(_ string, secrets []string) []string {
		return slices.DeleteFunc(secrets, func(s string) bool { return secret.Hash(s) == id })
	})
	return nil
}

// EndAll ends every session of this browser.
func (m *Manager) EndAll(ctx context.Context, w http.ResponseWriter, r *http.Request) error {
	all, err := m.Sessions(ctx, r)
	if err != nil {
		return err
	}
	for _, s := range all {
		if err := m.cfg.Store.DeleteSession(ctx, s.ID); err != nil && !errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("end session: %w", err)
		}
	}
	m.rewrite(w, r, func(string, []string) []string { return nil })
	return nil
}

// DeviceID returns the hash identifying this browser, giving the browser a
// device cookie first if it has none. The cookie carries nothing but a
// random value and is kept for a year.
func (m *Manager) DeviceID(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(m.dev); err == nil && secret.Plausible(c.Value) {
		return secret.Hash(c.Value)
	}
	code, hash, err := secret.New(m.cfg.Random)
	if err != nil {
		return ""
	}
	http.SetCookie(w, m.cookie(m.dev, code, 365*24*time.Hour))
	return hash
}

// secrets reads the plausible secrets from one of the session cookies.
func (m *Manager) secrets(r *http.Request, name string) []string {
	c, err := r.Cookie(name)
	if err != nil {
		return nil
	}
	var out []string
	for s := range strings.SplitSeq(c.Value, ".") {
		if secret.Plausible(s) && len(out) < MaxPerBrowser {
			out = append(out, s)
		}
	}
	return out
}

// EndedElsewhere returns the note left for a session of this browser that
// was ended from elsewhere (a password change, a sign-out from another
// browser), and deletes it, so that the browser's next page can say why
// it is signed out, once. ok is false when there is none.
func (m *Manager) EndedElsewhere(ctx context.Context, r *http.Request) (storage.EndedSession, bool) {
	now := m.cfg.Now().UTC()
	for _, name := range []string{m.rememberName, m.browserName} {
		for _, s := range m.secrets(r, name) {
			id := secret.Hash(s)
			if _, err := m.cfg.Store.GetSession(ctx, id); !errors.Is(err, storage.ErrNotFound) {
				continue // alive (or unreadable): nothing to explain
			}
			if e, err := m.cfg.Store.TakeEndedSession(ctx, id, now); err == nil {
				return e, true
			}
		}
	}
	return storage.EndedSession{}, false
}

// rewrite changes the list of secrets in both session cookies and sets
// them on the response. The remembered cookie gets the remember lifetime;
// the other one none, so it ends with the browser.
func (m *Manager) rewrite(w http.ResponseWriter, r *http.Request, change func(name string, secrets []string) []string) {
	total := 0
	for _, name := range []string{m.rememberName, m.browserName} {
		secrets := change(name, m.secrets(r, name))
		if len(secrets) > MaxPerBrowser-total {
			secrets = secrets[:MaxPerBrowser-total]
		}
		total += len(secrets)
		switch {
		case len(secrets) == 0:
			http.SetCookie(w, m.cookie(name, "", -1))
		case name == m.rememberName:
			http.SetCookie(w, m.cookie(name, strings.Join(secrets, "."), m.cfg.RememberTTL))
		default:
			http.SetCookie(w, m.cookie(name, strings.Join(secrets, "."), 0))
		}
	}
}

func (m *Manager) cookie(name, value string, maxAge time.Duration) *http.Cookie {
	c := &http.Cookie{
		Name: name, Value: value, Path: "/",
		HttpOnly: true, Secure: m.cfg.Secure, SameSite: http.SameSiteLaxMode,
	}
	switch {
	case maxAge < 0:
		c.MaxAge = -1
	case maxAge > 0:
		c.MaxAge = int(maxAge.Seconds())
	}
	return c
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
