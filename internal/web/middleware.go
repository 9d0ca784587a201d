package web

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/portti/portti/internal/account"
	"github.com/portti/portti/internal/session"
	"github.com/portti/portti/internal/storage"
)

// maxFormBytes bounds a form post. The largest real form (registration) is
// well under 4 KiB.
const maxFormBytes = 64 << 10

func limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
		}
		next.ServeHTTP(w, r)
	})
}

func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setSecurityHeaders(w.Header())
		next.ServeHTTP(w, r)
	})
}

// setSecurityHeaders sets the headers every page has; RenderPage sets them
// too, for pages served outside this middleware.
func setSecurityHeaders(h http.Header) {
	// No form-action: Chromium applies it to the redirects after a
	// form post too, and a login form's whole point is to redirect to
	// the application that asked for it (OpenID Connect).
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
}

func cacheStatic(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		next.ServeHTTP(w, r)
	})
}

// recoverPanics turns a panic into the internal error page instead of a
// dropped connection, and logs it with its reference code.
func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.renderError(w, r, fmt.Errorf("panic: %v", v))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// parseForm reads a posted form, mapping a too-large or malformed body to
// the right error page.
func parseForm(r *http.Request) error {
	if err := r.ParseForm(); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		return &httpError{Status: http.StatusBadRequest, Key: "error.bad_request", Err: err}
	}
	return nil
}

// clientIP is the address a request comes from. X-Forwarded-For is
// believed only when the direct peer is a configured proxy, and then read
// from the right, skipping trusted proxies, so a client cannot choose its
// own address by sending the header.
func (s *Server) clientIP(r *http.Request) string {
	return ClientIP(r, s.cfg.TrustedProxies)
}

// ClientIP implements the client address rule for any handler.
func ClientIP(r *http.Request, trusted []netip.Prefix) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	peer = peer.Unmap()
	if !isTrusted(peer, trusted) {
		return peer.String()
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break
		}
		a = a.Unmap()
		if !isTrusted(a, trusted) {
			return a.String()
		}
		peer = a
	}
	return peer.String()
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// meta gathers what the account rules record about a request. It gives
// the browser a device cookie if it has none.
func (s *Server) meta(w http.ResponseWriter, r *http.Request) account.Meta {
	return account.Meta{
		ClientIP:  s.clientIP(r),
		UserAgent: r.UserAgent(),
		DeviceID:  s.cfg.Sessions.DeviceID(w, r),
		Lang:      s.lang(r),
		Ref:       newRef(), // shown, and audited, only if a problem page needs one
	}
}

func sessionMeta(m account.Meta) session.Meta {
	return session.Meta{ClientIP: m.ClientIP, UserAgent: m.UserAgent, DeviceID: m.DeviceID}
}

// startsSession makes m start this browser's session when the sign-in it
// is given to completes, in the sign-in's own transaction
// (account.Meta.StartSession): one commit per sign-in (issue 8). The
// returned flag is true once that transaction committed; a handler whose
// sign-in completed without it (a path that starts no session in the
// transaction) starts the session itself.
func (s *Server) startsSession(w http.ResponseWriter, r *http.Request, m *account.Meta, remember bool) (*bool, error) {
	pending, err := s.cfg.Sessions.Prepare(r.Context(), r)
	if err != nil {
		return nil, err
	}
	started := new(bool)
	base := sessionMeta(*m)
	m.StartSession = func(ctx context.Context, tx storage.Storage, a storage.Account, factors []storage.AuthFactor) error {
		meta := base
		meta.Factors = factors
		if _, err := pending.Begin(ctx, tx, w, a.ID, remember, meta); err != nil {
			return err
		}
		tx.AfterCommit(func() { *started = true })
		return nil
	}
	return started, nil
}

func isNotFound(err error) bool { return errors.Is(err, storage.ErrNotFound) }
