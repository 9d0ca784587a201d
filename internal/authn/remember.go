package authn

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/portti/portti/internal/secret"
	"github.com/portti/portti/internal/storage"
)

// Remembered browsers: "don't ask again in this browser for N days"
// (Config.RememberBrowser; 0 turns it off).
//
// After a second step that succeeded with the box ticked, the browser
// gets a random token in a cookie; only its hash is stored, as a token of
// kind storage.TokenMFABrowser bound to the account and its expiry. A
// later password sign-in of that account in that browser skips the second
// step, and says so: its session records the password and a factor of
// kind MethodRememberedBrowser, which is no Method, so amr and acr do not
// claim a second factor (amr ["pwd"], acr the password's). It satisfies
// the operator's policy (mfa.policy, the domain lists) — the operator who
// turned remembering on accepted that — but never a client with
// require_mfa, acr_values asking for MFA, or max_age: those get the second
// step (package oidc sends them to the login form with mfa=required or
// mfa=fresh, which turns the skip off).
//
// A remembered browser is forgotten when the password changes (the token
// must be younger than the password, and ending the account's sessions
// deletes the tokens), when the operator resets MFA, when a method is
// removed, and on "sign out of every browser".

// MethodRememberedBrowser is the factor kind of a second step skipped
// because the browser was remembered. It proves nothing in amr or acr.
const MethodRememberedBrowser = "browser"

// maxRememberedTokens bounds the tokens one browser's cookie carries (one
// per account remembered there).
const maxRememberedTokens = 8

// RememberBrowser is how long a browser is remembered; 0: never.
func (s *Service) RememberBrowser() time.Duration { return s.cfg.RememberBrowser }

// RememberThisBrowser stores a new remembered browser for account a and
// returns the token for the cookie.
func (s *Service) RememberThisBrowser(ctx context.Context, a storage.Account) (string, error) {
	if s.cfg.RememberBrowser <= 0 {
		return "", errors.New("authn: remembering browsers is off")
	}
	code, hash, err := secret.New(s.cfg.Random)
	if err != nil {
		return "", err
	}
	now := s.now()
	err = s.cfg.Store.CreateToken(ctx, storage.Token{
		Hash: hash, Kind: storage.TokenMFABrowser, AccountID: a.ID, Email: a.Email,
		CreatedAt: now, ExpiresAt: now.Add(s.cfg.RememberBrowser),
	})
	if err != nil {
		return "", fmt.Errorf("remember browser: %w", err)
	}
	return code, nil
}

// BrowserRemembered reports whether one of tokens (from this browser's
// cookie) remembers this browser for account a: a token of a's own, not
// expired, made after a's last password change. A token of another
// account, an altered one or an expired one does nothing.
func (s *Service) BrowserRemembered(ctx context.Context, a storage.Account, tokens []string) (bool, error) {
	if s.cfg.RememberBrowser <= 0 {
		return false, nil
	}
	now := s.now()
	for i, tok := range tokens {
		if i >= maxRememberedTokens {
			break
		}
		if !secret.Plausible(tok) {
			continue
		}
		t, err := s.cfg.Store.GetToken(ctx, secret.Hash(tok))
		if errors.Is(err, storage.ErrNotFound) {
			continue
		}
		if err != nil {
			return false, fmt.Errorf("remembered browser: %w", err)
		}
		if t.Kind == storage.TokenMFABrowser && t.AccountID == a.ID && now.Before(t.ExpiresAt) &&
			t.CreatedAt.After(a.PasswordChangedAt) {
			return true, nil
		}
	}
	return false, nil
}

// RememberedTokens splits a cookie's value into its tokens.
func RememberedTokens(cookie string) []string {
	if cookie == "" {
		return nil
	}
	return strings.Split(cookie, ".")
}

// ForgetBrowsers revokes every remembered browser of account accountID,
// inside tx.
func ForgetBrowsers(ctx context.Context, tx storage.Storage, accountID string) error {
	_, err := tx.DeleteTokens(ctx, accountID, storage.TokenMFABrowser)
	return err
}

// PolicySatisfied reports whether factors satisfy the operator's policy:
// a second factor, or a browser remembered after one. Clients that demand
// a second factor ask MultiFactor instead.
func (r *Registry) PolicySatisfied(factors []storage.AuthFactor) bool {
	if r.MultiFactor(factors) {
		return true
	}
	for _, f := range factors {
		if f.Method == MethodRememberedBrowser {
			return true
		}
	}
	return false
}
