package main

import (
	"context"
	"errors"
	"fmt"
	"html"
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

// passkeyLogin is one sign-in of scenario (h) in a new browser on the
// worker's connection: the application's authorization request, the
// login page, the passkey's options, the signed answer, the redirects
// back to the application and the code exchange.
func (b *bench) passkeyLogin(ctx context.Context, w *wire, key *softkey.Key) error {
	c := b.newWireBrowser(w)
	state, verifier, authorize := b.authorizeRequest()
	a, err := c.get(ctx, authorize)
	if err != nil {
		return fmt.Errorf("authorize: %w", err)
	}
	if a.status != http.StatusOK {
		return &statusError{"authorize ended at " + a.path, a.status, string(a.body)}
	}
	m := returnField.FindSubmatch(a.body)
	if m == nil {
		return errors.New("login page without a return field")
	}
	ret := html.UnescapeString(string(m[1]))
	if a, err = c.post(ctx, "/login/passkey/options", url.Values{"return": {ret}}); err != nil {
		return fmt.Errorf("passkey options: %w", err)
	}
	if a.status != http.StatusOK {
		return &statusError{"passkey options", a.status, string(a.body)}
	}
	answer, err := key.Assert(a.body)
	if err != nil {
		return err
	}
	if a, err = c.post(ctx, "/login/passkey", url.Values{"response": {string(answer)}, "return": {ret}}); err != nil {
		return fmt.Errorf("passkey sign-in: %w", err)
	}
	if a.location == "" {
		return &statusError{"passkey sign-in ended at " + a.path, a.status, string(a.body)}
	}
	_, err = c.exchange(ctx, a.location, state, verifier)
	return err
}
