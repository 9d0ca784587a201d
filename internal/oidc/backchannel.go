package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/portti/portti/internal/storage"
)

// Back-channel logout (OpenID Connect Back-Channel Logout 1.0).
//
// When a browser session ends — RP-initiated logout, portti's own log out
// and "sign out of every browser" (through the web front's OnLogout hook),
// a sign-out on the account chooser — SessionEnded revokes the session's
// refresh tokens and, in one transaction, takes the session's
// session_clients rows and queues a signed logout token for each of those
// clients that has a back-channel logout URI. A worker (RunLogoutWorker,
// the mail outbox's pattern) POSTs them as
// application/x-www-form-urlencoded logout_token=…; a 2xx answer is a
// confirmation, anything else (an error, a timeout of 5 s, a redirect) is
// retried with backoff from 5 s doubling to 30 min, never given up. The
// logout page delivers first itself and waits up to Config.LogoutWait for
// the answers, to say which applications confirmed.
//
// A logout token lives 2 minutes. One that waited longer for a retry is
// signed again with new iat and exp (same jti) just before it is sent,
// after its signature has been checked: only tokens portti signed are
// renewed, so whoever can write the database cannot get anything signed.

const (
	backchannelEvent   = "http://schemas.openid.net/event/backchannel-logout"
	logoutTokenTTL     = 2 * time.Minute
	backchannelTimeout = 5 * time.Second
	// logoutBatch deliveries are claimed at a time and sent logoutParallel
	// at a time: an application that does not answer costs 5 s each.
	logoutBatch    = 20
	logoutParallel = 8
	// logoutErrorAttempts failed attempts make further failures errors
	// in the log rather than warnings.
	logoutErrorAttempts = 10
)

// logoutQueue is the worker's state.
type logoutQueue struct {
	wake chan struct{}
}

// logoutTokenClaims is a logout token's payload (spec 2.4). It has no
// nonce, which is how it cannot pass for an id_token.
type logoutTokenClaims struct {
	Issuer   string              `json:"iss"`
	Subject  string              `json:"sub"`
	Audience []string            `json:"aud"`
	IssuedAt int64               `json:"iat"`
	Expiry   int64               `json:"exp"`
	JWTID    string              `json:"jti"`
	Events   map[string]struct{} `json:"events"`
	SID      string              `json:"sid"`
}

// logoutToken signs a logout token for client c about the session of
// accountID, with the client's id_token algorithm.
func (p *Provider) logoutToken(ctx context.Context, c *client, accountID, sessionID string, now time.Time) (string, error) {
	jti, err := randomID(p.cfg.Random)
	if err != nil {
		return "", err
	}
	return p.signLogout(ctx, c.idTokenAlg(), logoutTokenClaims{
		Issuer: p.issuer, Subject: accountID, Audience: []string{c.rec.ID},
		IssuedAt: now.Unix(), Expiry: now.Add(logoutTokenTTL).Unix(), JWTID: jti,
		Events: map[string]struct{}{backchannelEvent: {}}, SID: SessionSID(sessionID),
	})
}

func (p *Provider) signLogout(ctx context.Context, alg string, claims logoutTokenClaims) (string, error) {
	k, err := p.keys.signer(ctx, alg)
	if err != nil {
		return "", err
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("logout token: %w", err)
	}
	return k.sign(payload, "logout+jwt")
}

// freshLogoutToken returns token, or when it expires within a minute the
// same token signed again with new times.
func (p *Provider) freshLogoutToken(ctx context.Context, token string) (string, error) {
	payload, jws, err := p.keys.verify(ctx, token)
	if err != nil {
		return "", fmt.Errorf("stored logout token: %w", err)
	}
	h := jws.Signatures[0].Header
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); typ != "logout+jwt" {
		return "", errors.New("stored logout token: not a logout token")
	}
	var claims logoutTokenClaims
	if err := json.Unmarshal(payload, &claims); err != nil {
		return "", fmt.Errorf("stored logout token: %w", err)
	}
	if _, ok := claims.Events[backchannelEvent]; !ok {
		return "", errors.New("stored logout token: no logout event")
	}
	now := p.now()
	if time.Unix(claims.Expiry, 0).Sub(now) > time.Minute {
		return token, nil
	}
	claims.IssuedAt, claims.Expiry = now.Unix(), now.Add(logoutTokenTTL).Unix()
	return p.signLogout(ctx, h.Algorithm, claims)
}

// loggedOutApp is an application told of a logout, for the logout page.
type loggedOutApp struct {
	Name      string
	Confirmed bool
	delivery  storage.LogoutDelivery
}

// SessionEnded tells the applications browser session sessionID signed in
// to that it has ended: it revokes the session's refresh tokens, queues a
// back-channel logout token for each client with a back-channel logout
// URI, forgets the session's clients and wakes the worker. The session
// itself must have been ended by the caller. Calling it again for the
// same session does nothing more.
func (p *Provider) SessionEnded(ctx context.Context, sessionID string) error {
	_, err := p.endSessionClients(ctx, sessionID, false, true)
	if err == nil {
		p.WakeLogoutWorker()
	}
	return err
}

// endedSessionsBatch is how many sessions EndExpiredSessions reads at once.
const endedSessionsBatch = 100

// EndExpiredSessions tells the applications of sessions that ended with
// nobody logging out — they expired, or the process stopped between
// ending a session and telling them — with a back-channel logout token
// each, and forgets the sessions' clients. It returns how many sessions
// it handled. The tokens of such a session are not revoked: they have
// lifetimes of their own, and offline access is meant to outlive the
// browser session.
func (p *Provider) EndExpiredSessions(ctx context.Context) (int, error) {
	n := 0
	defer func() {
		if n > 0 {
			p.WakeLogoutWorker()
		}
	}()
	for {
		ids, err := p.store.EndedSessionsWithClients(ctx, p.now(), endedSessionsBatch)
		if err != nil {
			return n, fmt.Errorf("ended sessions: %w", err)
		}
		for _, id := range ids {
			if _, err := p.endSessionClients(ctx, id, false, false); err != nil {
				return n, err
			}
			n++
		}
		if len(ids) < endedSessionsBatch {
			return n, nil
		}
	}
}

// endSessionClients does SessionEnded's work. With hold, the queued
// deliveries are reserved for the caller (for a lease), who sends them
// at once; otherwise they are due now, for the worker. With revoke, the
// session's tokens are revoked too.
func (p *Provider) endSessionClients(ctx context.Context, sessionID string, hold, revoke bool) ([]loggedOutApp, error) {
	if sessionID == "" {
		return nil, nil
	}
	now := p.now()
	next := now
	if hold {
		next = now.Add(p.cfg.LogoutLease)
	}
	// Sign outside the transaction, for the clients recorded now.
	recorded, err := p.store.ListSessionClients(ctx, sessionID)
	if err != nil {
		return nil, fmt.Errorf("logout: %w", err)
	}
	prepared := map[string]storage.LogoutDelivery{}
	names := map[string]string{}
	prepare := func(sc storage.SessionClient) error {
		if _, ok := prepared[sc.ClientID]; ok {
			return nil
		}
		c, err := p.clients.get(ctx, sc.ClientID)
		if errors.Is(err, errUnknownClient) {
			return nil // removed since
		}
		if err != nil {
			return err
		}
		names[sc.ClientID] = c.displayName()
		if c.rec.BackchannelLogoutURI == "" {
			return nil
		}
		token, err := p.logoutToken(ctx, c, sc.AccountID, sessionID, now)
		if err != nil {
			return fmt.Errorf("logout token for client %s: %w", sc.ClientID, err)
		}
		prepared[sc.ClientID] = storage.LogoutDelivery{
			ClientID: sc.ClientID, URI: c.rec.BackchannelLogoutURI, Token: token,
			CreatedAt: now, NextAttemptAt: next,
		}
		return nil
	}
	for _, sc := range recorded {
		if err := prepare(sc); err != nil {
			return nil, err
		}
	}

	var apps []loggedOutApp
	err = p.store.InTx(ctx, func(tx storage.Storage) error {
		apps = nil
		if revoke {
			if _, err := tx.RevokeSessionTokens(ctx, sessionID, "", now); err != nil {
				return fmt.Errorf("revoke the session's tokens: %w", err)
			}
		}
		// Whoever deletes the rows tells the clients: a logout racing
		// this one gets none.
		taken, err := tx.DeleteSessionClients(ctx, sessionID)
		if err != nil {
			return err
		}
		for _, sc := range taken {
			if err := prepare(sc); err != nil { // signed in meanwhile
				return err
			}
			d, ok := prepared[sc.ClientID]
			if !ok {
				continue // no back-channel logout URI
			}
			id, err := tx.EnqueueLogout(ctx, d)
			if errors.Is(err, storage.ErrNotFound) {
				continue // the client was removed meanwhile
			}
			if err != nil {
				return err
			}
			d.ID = id
			apps = append(apps, loggedOutApp{Name: names[sc.ClientID], delivery: d})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("logout: %w", err)
	}
	if len(apps) > 0 {
		p.log.InfoContext(ctx, "oidc: back-channel logout queued", "session_sid", SessionSID(sessionID), "deliveries", len(apps))
	}
	return apps, nil
}

// deliverNow sends the deliveries of apps (reserved by endSessionClients
// with hold) at once and waits up to Config.LogoutWait for the answers,
// marking the confirmed ones. Deliveries still under way go on in the
// background and record their outcome; failed ones are the worker's.
func (p *Provider) deliverNow(ctx context.Context, apps []loggedOutApp) {
	if len(apps) == 0 {
		return
	}
	type answer struct {
		i  int
		ok bool
	}
	answers := make(chan answer, len(apps))
	// The request may end before the answers come; the deliveries may not.
	bg := context.WithoutCancel(ctx)
	for i := range apps {
		go func() { answers <- answer{i, p.deliverLogout(bg, apps[i].delivery)} }()
	}
	timer := time.NewTimer(p.cfg.LogoutWait)
	defer timer.Stop()
	for range apps {
		select {
		case a := <-answers:
			apps[a.i].Confirmed = a.ok
		case <-timer.C:
			return
		case <-ctx.Done():
			return
		}
	}
}

// deliverLogout posts one logout token and records the outcome: delivered,
// or a failed attempt and the time of the next one. It reports whether
// the application confirmed.
func (p *Provider) deliverLogout(ctx context.Context, d storage.LogoutDelivery) bool {
	err := p.postLogout(ctx, d)
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	now := p.now()
	if err == nil {
		_, uerr := p.store.UpdateLogout(rctx, d.ID, func(d storage.LogoutDelivery) (storage.LogoutDelivery, error) {
			d.DeliveredAt = now
			return d, nil
		})
		if uerr != nil && !errors.Is(uerr, storage.ErrNotFound) {
			// Sent again after the lease; logout is idempotent.
			p.log.ErrorContext(ctx, "oidc: logout token delivered but not marked so", "delivery_id", d.ID, "error", uerr)
		}
		p.log.InfoContext(ctx, "oidc: back-channel logout delivered", "delivery_id", d.ID, "client_id", d.ClientID, "attempts", d.Attempts+1)
		return true
	}
	if ctx.Err() != nil {
		// Shutting down: not the application's fault.
		p.releaseLogouts(ctx, []storage.LogoutDelivery{d})
		return false
	}
	var next time.Time
	updated, uerr := p.store.UpdateLogout(rctx, d.ID, func(d storage.LogoutDelivery) (storage.LogoutDelivery, error) {
		d.Attempts++
		d.LastError = truncate(err.Error(), 1000)
		next = now.Add(p.logoutBackoff(d.Attempts))
		d.NextAttemptAt = next
		return d, nil
	})
	if errors.Is(uerr, storage.ErrNotFound) {
		return false // the client was removed
	}
	if uerr != nil {
		p.log.ErrorContext(ctx, "oidc: back-channel logout failed and the failure was not recorded",
			"delivery_id", d.ID, "client_id", d.ClientID, "error", err, "update_error", uerr)
		return false
	}
	level := slog.LevelWarn
	if updated.Attempts >= logoutErrorAttempts {
		level = slog.LevelError
	}
	p.log.Log(ctx, level, "oidc: back-channel logout not confirmed, will retry", "delivery_id", d.ID,
		"client_id", d.ClientID, "attempts", updated.Attempts, "next_attempt", next, "error", err)
	return false
}

// postLogout sends the token; nil only for a 2xx answer.
func (p *Provider) postLogout(ctx context.Context, d storage.LogoutDelivery) error {
	token, err := p.freshLogoutToken(ctx, d.Token)
	if err != nil {
		// Keys rotated out long ago: send it as it is; the application
		// decides.
		p.log.WarnContext(ctx, "oidc: cannot renew a logout token; sending it as stored", "delivery_id", d.ID, "error", err)
		token = d.Token
	}
	ctx, cancel := context.WithTimeout(ctx, backchannelTimeout)
	defer cancel()
	body := url.Values{"logout_token": {token}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.URI, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "*/*")
	resp, err := p.cfg.BackchannelClient.Do(req)
	if err != nil {
		// The URL is the operator's, the token is not in the error.
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return nil
}

// logoutBackoff is the delay after the given number of failed attempts:
// LogoutMinBackoff doubling up to LogoutMaxBackoff, less up to a fifth at
// random so that deliveries failing together do not retry together.
func (p *Provider) logoutBackoff(attempts int) time.Duration {
	d := p.cfg.LogoutMinBackoff
	for i := 1; i < attempts && d < p.cfg.LogoutMaxBackoff; i++ {
		d *= 2
	}
	d = min(d, p.cfg.LogoutMaxBackoff)
	return d - time.Duration(rand.Int64N(int64(d)/5+1))
}

// WakeLogoutWorker makes the worker look for due deliveries now rather
// than at its next poll. It never blocks.
func (p *Provider) WakeLogoutWorker() {
	select {
	case p.logouts.wake <- struct{}{}:
	default:
	}
}

// RunLogoutWorker delivers queued logout tokens until ctx is done, then
// returns nil. Any number of workers, on any number of nodes, may run
// against one database: each claims deliveries for a lease.
func (p *Provider) RunLogoutWorker(ctx context.Context) error {
	p.log.InfoContext(ctx, "oidc: back-channel logout worker started")
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		woken := false
		select {
		case <-ctx.Done():
			return nil
		case <-p.logouts.wake:
			woken = true
		case <-timer.C:
		}
		next := p.cfg.LogoutPoll
		if full := p.deliverLogoutBatch(ctx); full {
			next = 0
		} else if woken {
			// A delivery queued inside a transaction may not have been
			// committed when the wake-up came.
			next = min(250*time.Millisecond, p.cfg.LogoutPoll)
		}
		timer.Reset(next)
	}
}

// deliverLogoutBatch claims due deliveries and sends them. It reports
// whether it claimed a full batch.
func (p *Provider) deliverLogoutBatch(ctx context.Context) bool {
	claimed := p.now()
	due, err := p.store.ClaimLogouts(ctx, claimed, p.cfg.LogoutLease, logoutBatch)
	if err != nil {
		if ctx.Err() == nil {
			p.log.ErrorContext(ctx, "oidc: logout worker cannot claim deliveries", "error", err)
		}
		return false
	}
	sem := make(chan struct{}, logoutParallel)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var late []storage.LogoutDelivery
	for _, d := range due {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			// Send only well within the lease: past it another worker
			// may claim the same delivery. Give it back instead.
			if ctx.Err() != nil || p.now().Sub(claimed) > p.cfg.LogoutLease/2 {
				mu.Lock()
				late = append(late, d)
				mu.Unlock()
				return
			}
			p.deliverLogout(ctx, d)
		})
	}
	wg.Wait()
	if len(late) > 0 {
		p.releaseLogouts(ctx, late)
		return false
	}
	return len(due) == logoutBatch
}

// releaseLogouts hands claimed but unsent deliveries back for an
// immediate retry, without counting an attempt.
func (p *Provider) releaseLogouts(ctx context.Context, ds []storage.LogoutDelivery) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	now := p.now()
	for _, d := range ds {
		_, err := p.store.UpdateLogout(rctx, d.ID, func(d storage.LogoutDelivery) (storage.LogoutDelivery, error) {
			if d.DeliveredAt.IsZero() {
				d.NextAttemptAt = now
			}
			return d, nil
		})
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			p.log.WarnContext(ctx, "oidc: cannot release a logout delivery; it waits for its lease", "delivery_id", d.ID, "error", err)
		}
	}
}
