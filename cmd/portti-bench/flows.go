package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
)

// The seeded user and client.
const (
	benchEmail    = "bench@example.fi"
	benchPassword = "kesämökki järven rannalla, kuikka huutaa"
	benchClient   = "bench"
	// The redirect URI is never reached: the benchmark stops at the
	// redirect to it and takes the code from the Location header.
	benchRedirect = "http://127.0.0.1:1/cb"
	loginScopes   = "openid profile email"
	offlineScopes = "openid profile email offline_access"
)

func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails since Go 1.24
	return base64.RawURLEncoding.EncodeToString(b)
}

// tokenResponse is what the token endpoint answers.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	IDToken      string `json:"id_token"`
	Error        string `json:"error"`
	Description  string `json:"error_description"`
}

// statusError is an unexpected answer.
type statusError struct {
	what   string
	status int
	body   string
}

func (e *statusError) Error() string {
	body := e.body
	if len(body) > 300 {
		body = body[:300] + "…"
	}
	return fmt.Sprintf("%s: status %d: %s", e.what, e.status, strings.TrimSpace(body))
}

// do sends req and reads the whole body (so the connection is reused),
// expecting status want.
func do(c *http.Client, req *http.Request, want int, what string) (*http.Response, []byte, error) {
	resp, err := c.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", what, err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, nil, fmt.Errorf("%s: read body: %w", what, err)
	}
	if resp.StatusCode != want {
		return nil, nil, &statusError{what, resp.StatusCode, string(body)}
	}
	return resp, body, nil
}

// tokenRequest posts form to the token endpoint as the bench client
// (client_secret_basic).
func (b *bench) tokenRequest(ctx context.Context, form url.Values, what string) (tokenResponse, error) {
	return b.postToken(ctx, form.Encode(), what)
}

func (b *bench) postToken(ctx context.Context, body, what string) (tokenResponse, error) {
	var tr tokenResponse
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.base+"/oauth2/token", strings.NewReader(body))
	if err != nil {
		return tr, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(benchClient, b.secret)
	_, raw, err := do(b.client, req, http.StatusOK, what)
	if err != nil {
		return tr, err
	}
	if err := json.Unmarshal(raw, &tr); err != nil {
		return tr, fmt.Errorf("%s: %w", what, err)
	}
	if tr.AccessToken == "" {
		return tr, fmt.Errorf("%s: no access_token in %s", what, raw)
	}
	return tr, nil
}

// newBrowser is a browser with its own cookie jar on the shared transport.
// It follows redirects, except the last one, to the application.
func (b *bench) newBrowser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{
		Transport: b.transport,
		Jar:       jar,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if strings.HasPrefix(req.URL.String(), benchRedirect) {
				return http.ErrUseLastResponse
			}
			if len(via) >= 10 {
				return errors.New("more than 10 redirects")
			}
			return nil
		},
	}
}

var returnField = regexp.MustCompile(`<input type="hidden" name="return" value="([^"]*)">`)

// codeFlow runs the authorization code flow with PKCE in browser c: GET
// authorize, the login form when portti shows it (POST /login with the
// password), the redirects to the application, and the code exchange.
func (b *bench) codeFlow(ctx context.Context, c *http.Client, scope string) (tokenResponse, error) {
	return b.codeFlowAs(ctx, c, scope, benchEmail, nil)
}

// secondStep answers the second step's page (scenario (g)); ret is the
// login form's return field.
type secondStep func(c *http.Client, page []byte, ret string) (*http.Response, []byte, error)

// codeFlowAs is codeFlow signing in as email, with second answering the
// second step when portti asks for one.
func (b *bench) codeFlowAs(ctx context.Context, c *http.Client, scope, email string, second secondStep) (tokenResponse, error) {
	state, nonce, verifier := randomString(16), randomString(16), randomString(32)
	sum := sha256.Sum256([]byte(verifier))
	q := url.Values{
		"client_id": {benchClient}, "redirect_uri": {benchRedirect}, "response_type": {"code"},
		"scope": {scope}, "state": {state}, "nonce": {nonce},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.base+"/oauth2/authorize?"+q.Encode(), nil)
	if err != nil {
		return tokenResponse{}, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return tokenResponse{}, fmt.Errorf("authorize: %w", err)
	}
	page, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return tokenResponse{}, fmt.Errorf("authorize: %w", err)
	}
	if resp.StatusCode == http.StatusOK && resp.Request.URL.Path == "/login" {
		// The login form: post what a person types, and the form's
		// hidden return field.
		m := returnField.FindSubmatch(page)
		if m == nil {
			return tokenResponse{}, errors.New("login form without a return field")
		}
		ret := html.UnescapeString(string(m[1]))
		form := url.Values{"email": {email}, "password": {benchPassword}, "return": {ret}}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.base+"/login", strings.NewReader(form.Encode()))
		if err != nil {
			return tokenResponse{}, err
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if resp, err = c.Do(req); err != nil {
			return tokenResponse{}, fmt.Errorf("login: %w", err)
		}
		page, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		if second != nil && resp.StatusCode == http.StatusOK {
			if resp, page, err = second(c, page, ret); err != nil {
				return tokenResponse{}, err
			}
		}
	}
	if resp.StatusCode != http.StatusFound {
		return tokenResponse{}, &statusError{"sign-in ended at " + resp.Request.URL.Path, resp.StatusCode, string(page)}
	}
	loc, err := resp.Location()
	if err != nil || !strings.HasPrefix(loc.String(), benchRedirect) {
		return tokenResponse{}, fmt.Errorf("sign-in redirected to %v, not the application", loc)
	}
	cb := loc.Query()
	if cb.Get("state") != state || cb.Get("code") == "" {
		return tokenResponse{}, fmt.Errorf("callback %v", cb)
	}
	return b.tokenRequest(ctx, url.Values{
		"grant_type": {"authorization_code"}, "code": {cb.Get("code")},
		"redirect_uri": {benchRedirect}, "code_verifier": {verifier},
	}, "code exchange")
}

// clientCredentials is scenario (a); req is the prepared grant request.
func (b *bench) clientCredentials(ctx context.Context, w *wire, req []byte) error {
	_, err := w.expect(ctx, req, "client_credentials", []byte(`"access_token"`))
	return err
}

// refresh is scenario (b): it presents the newest token of the chain
// and keeps the rotated one.
func (b *bench) refresh(ctx context.Context, w *wire, chain *string) error {
	req := b.rawRequest(http.MethodPost, "/oauth2/token", "grant_type=refresh_token&refresh_token="+url.QueryEscape(*chain),
		"Content-Type", "application/x-www-form-urlencoded", "Authorization", b.basicAuth())
	body, err := w.expect(ctx, req, "refresh", []byte(`"refresh_token"`))
	if err != nil {
		return err
	}
	var tr tokenResponse
	if err := json.Unmarshal(body, &tr); err != nil {
		return fmt.Errorf("refresh: %w", err)
	}
	if tr.AccessToken == "" || tr.RefreshToken == "" || tr.RefreshToken == *chain {
		return errors.New("refresh: the refresh token was not rotated")
	}
	*chain = tr.RefreshToken
	return nil
}

// basicAuth is the bench client's client_secret_basic header. Its ID and
// secret need no form-encoding (RFC 6749 2.3.1): letters, digits, - and _.
func (b *bench) basicAuth() string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(benchClient+":"+b.secret))
}

// login is scenario (c): a whole sign-in with a password in a new
// browser on the worker's connection.
func (b *bench) login(ctx context.Context, w *wire) error {
	_, err := b.signIn(ctx, b.newWireBrowser(w), benchEmail, nil)
	return err
}

// signIn runs the authorization code flow with PKCE in browser c as a
// person with a password: GET authorize, the login form (POST /login with
// the password and the form's return field), second's answer to the
// second step when portti asks for one, the redirects to the application,
// and the code exchange.
func (b *bench) signIn(ctx context.Context, c *wireBrowser, email string, second func(page []byte, ret string) (answer, error)) (tokenResponse, error) {
	state, verifier, authorize := b.authorizeRequest()
	a, err := c.get(ctx, authorize)
	if err != nil {
		return tokenResponse{}, fmt.Errorf("authorize: %w", err)
	}
	if a.status != http.StatusOK || !strings.HasPrefix(a.path, "/login") {
		return tokenResponse{}, &statusError{"authorize ended at " + a.path, a.status, string(a.body)}
	}
	m := returnField.FindSubmatch(a.body)
	if m == nil {
		return tokenResponse{}, errors.New("login form without a return field")
	}
	ret := html.UnescapeString(string(m[1]))
	if a, err = c.post(ctx, "/login", url.Values{"email": {email}, "password": {benchPassword}, "return": {ret}}); err != nil {
		return tokenResponse{}, fmt.Errorf("login: %w", err)
	}
	if second != nil && a.status == http.StatusOK {
		if a, err = second(a.body, ret); err != nil {
			return tokenResponse{}, err
		}
	}
	if a.location == "" {
		return tokenResponse{}, &statusError{"sign-in ended at " + a.path, a.status, string(a.body)}
	}
	return c.exchange(ctx, a.location, state, verifier)
}

// authorizeRequest returns a new authorization request's state, PKCE
// verifier and path.
func (b *bench) authorizeRequest() (state, verifier, path string) {
	state, nonce, verifier := randomString(16), randomString(16), randomString(32)
	sum := sha256.Sum256([]byte(verifier))
	q := url.Values{
		"client_id": {benchClient}, "redirect_uri": {benchRedirect}, "response_type": {"code"},
		"scope": {loginScopes}, "state": {state}, "nonce": {nonce},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"},
	}
	return state, verifier, "/oauth2/authorize?" + q.Encode()
}

// The prepared requests and expected answers of (a), (d), (e) and (f).
type loadRequests struct {
	clientCredentials, userinfo, introspect, jwks []byte
}

func (b *bench) loadRequests(userToken string) loadRequests {
	form := "application/x-www-form-urlencoded"
	return loadRequests{
		clientCredentials: b.rawRequest(http.MethodPost, "/oauth2/token", "grant_type=client_credentials",
			"Content-Type", form, "Authorization", b.basicAuth()),
		userinfo: b.rawRequest(http.MethodGet, "/oauth2/userinfo", "", "Authorization", "Bearer "+userToken),
		introspect: b.rawRequest(http.MethodPost, "/oauth2/introspect", "token="+url.QueryEscape(userToken)+"&token_type_hint=access_token",
			"Content-Type", form, "Authorization", b.basicAuth()),
		jwks: b.rawRequest(http.MethodGet, "/oauth2/jwks", ""),
	}
}

var (
	wantSub    = []byte(`"sub":`)
	wantActive = []byte(`"active":true`)
	wantKeys   = []byte(`"keys"`)
)
