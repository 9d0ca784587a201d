package main

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/portti/portti/internal/authn/passkey/softkey"
)

// Scenario (h): a passwordless sign-in with a passkey through the code
// flow. The load generator is the browser and the authenticator: it signs
// each challenge with an ECDSA P-256 key of its own (softkey), as a
// security key does, one key per worker so that each key's signature
// counter grows in order. The passkeys belong to an account of their own,
// so the password scenario's account keeps signing in without a second
// step.

const (
	passkeyEmail    = "passkey@example.fi"
	passkeyPassword = "kuikka huutaa, salasana unohtuu"
)

var (
	optionsAttr = regexp.MustCompile(`data-options="([^"]*)"`)
	pendingAttr = regexp.MustCompile(`<input type="hidden" name="pending" value="([^"]*)">`)
)

// post sends a form in browser c and returns the final answer's body.
func (b *bench) post(ctx context.Context, c *http.Client, path string, form url.Values, want int, what string) (*http.Response, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.base+path, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return do(c, req, want, what)
}

func (b *bench) get(ctx context.Context, c *http.Client, path string, want int, what string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.base+path, nil)
	if err != nil {
		return nil, err
	}
	_, body, err := do(c, req, want, what)
	return body, err
}

// seedPasskeys signs the passkey account in with its password and adds n
// passkeys through /account/mfa, as a person does, one per worker.
func (b *bench) seedPasskeys(ctx context.Context, n int) ([]*softkey.Key, error) {
	c := b.newBrowser()
	if _, _, err := b.post(ctx, c, "/login", url.Values{"email": {passkeyEmail}, "password": {passkeyPassword}}, http.StatusOK, "passkey account: sign in"); err != nil {
		return nil, err
	}
	var keys []*softkey.Key
	for i := range n {
		page, err := b.get(ctx, c, "/account/mfa/webauthn/new", http.StatusOK, "passkey enrolment page")
		if err != nil {
			return nil, err
		}
		om, pm := optionsAttr.FindSubmatch(page), pendingAttr.FindSubmatch(page)
		if om == nil || pm == nil {
			return nil, errors.New("passkey enrolment page without options or pending state")
		}
		k, err := softkey.New(b.base)
		if err != nil {
			return nil, err
		}
		resp, err := k.Register([]byte(html.UnescapeString(string(om[1]))))
		if err != nil {
			return nil, err
		}
		if _, _, err := b.post(ctx, c, "/account/mfa/webauthn/new", url.Values{
			"pending": {html.UnescapeString(string(pm[1]))}, "response": {string(resp)}, "name": {fmt.Sprintf("bench key %d", i+1)},
		}, http.StatusOK, "passkey enrolment"); err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// passkeyLogin is one sign-in of scenario (h) in a new browser: the
// application's authorization request, the login page, the passkey's
// options, the signed answer, the redirects back to the application and
// the code exchange.
func (b *bench) passkeyLogin(ctx context.Context, key *softkey.Key) error {
	c := b.newBrowser()
	state, nonce, verifier := randomString(16), randomString(16), randomString(32)
	sum := sha256.Sum256([]byte(verifier))
	q := url.Values{
		"client_id": {benchClient}, "redirect_uri": {benchRedirect}, "response_type": {"code"},
		"scope": {loginScopes}, "state": {state}, "nonce": {nonce},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"},
	}
	page, err := b.get(ctx, c, "/oauth2/authorize?"+q.Encode(), http.StatusOK, "authorize")
	if err != nil {
		return err
	}
	m := returnField.FindSubmatch(page)
	if m == nil {
		return errors.New("login page without a return field")
	}
	ret := html.UnescapeString(string(m[1]))
	_, opts, err := b.post(ctx, c, "/login/passkey/options", url.Values{"return": {ret}}, http.StatusOK, "passkey options")
	if err != nil {
		return err
	}
	answer, err := key.Assert(opts)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.base+"/login/passkey", strings.NewReader(url.Values{"response": {string(answer)}, "return": {ret}}.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("passkey sign-in: %w", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		return &statusError{"passkey sign-in ended at " + resp.Request.URL.Path, resp.StatusCode, string(body)}
	}
	loc, err := resp.Location()
	if err != nil || !strings.HasPrefix(loc.String(), benchRedirect) {
		return fmt.Errorf("passkey sign-in redirected to %v, not the application", loc)
	}
	cb := loc.Query()
	if cb.Get("state") != state || cb.Get("code") == "" {
		return fmt.Errorf("callback %v", cb)
	}
	tr, err := b.tokenRequest(ctx, url.Values{
		"grant_type": {"authorization_code"}, "code": {cb.Get("code")},
		"redirect_uri": {benchRedirect}, "code_verifier": {verifier},
	}, "code exchange")
	if err == nil && tr.IDToken == "" {
		err = errors.New("code exchange: no id_token")
	}
	return err
}
