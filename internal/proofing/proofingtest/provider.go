// Package proofingtest is a strong identification provider for tests: a
// real OpenID provider (zitadel/oidc's op, with its example storage) that
// enforces the FTN OpenID Connect profile the way real brokers do. It
// refuses an authorisation request without a signed request object,
// refuses a token request not authenticated with private_key_jwt, signs
// its id_tokens and returns them only encrypted (JWE, RSA-OAEP-256 and
// A256GCM) to the relying party's encryption key, which it reads, like
// the verification keys, from the relying party's published JWKS.
//
// A person "identifies" on its login page by choosing a test person (a
// personal identity code and a name), as at a broker's test bank; tests
// without a browser set Auto to skip the page.
package proofingtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// HetuClaim is the claim of the Finnish personal identity code.
const HetuClaim = "urn:oid:1.2.246.21"

// ACR is the level of assurance the provider asserts.
const ACR = "http://ftn.ficora.fi/2017/loa3"

// Person is a test identity.
type Person struct {
	Hetu, GivenName, FamilyName string
	// Email, when set, is asserted (unverified) to a relying party that
	// asks for the email scope: the federation tests check that portti
	// never matches an account by it.
	Email string
}

// Provider is a running test provider.
type Provider struct {
	URL      string // the issuer
	ClientID string

	mu sync.Mutex
	// guarded by mu:
	redirectURI string
	jwksURI     string
	persons     []Person
	auto        string // hetu chosen without the login page; "" shows it
	// IdentifierInUserinfo: the identifier is left out of the id_token
	// and given by userinfo only.
	identifierInUserinfo bool
	plainIDToken         bool              // misbehave: return the id_token signed only
	acr                  string            // asserted instead of ACR when set
	acrs                 map[string]string // auth request ID → acr asserted
	// Refused counts requests refused by the profile checks, by reason.
	refused map[string]int

	st  *storage.Storage
	op  *op.Provider
	srv *httptest.Server
}

// Start runs a provider for clientID until the test ends. Configure the
// relying party's addresses with SetClient before the first request.
func Start(t testing.TB, clientID string, persons ...Person) *Provider {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	issuer := "http://" + srv.Listener.Addr().String()
	p := &Provider{URL: issuer, ClientID: clientID, persons: persons, acrs: map[string]string{}, refused: map[string]int{}, srv: srv}
	users := userStore{p: p}
	p.st = storage.NewStorageWithClients(users, map[string]*storage.Client{})
	cfg := &op.Config{
		CryptoKey:               [32]byte{1, 2, 3},
		CodeMethodS256:          true,
		AuthMethodPrivateKeyJWT: true,
		RequestObjectSupported:  true,
		SupportedScopes:         []string{oidc.ScopeOpenID, oidc.ScopeProfile},
	}
	provider, err := op.NewOpenIDProvider(issuer, cfg, &opStorage{Storage: p.st, p: p}, op.WithAllowInsecure())
	if err != nil {
		t.Fatalf("proofingtest: %v", err)
	}
	p.op = provider
	mux := http.NewServeMux()
	mux.HandleFunc("/login", p.login)
	mux.Handle("/authorize", p.requireRequestObject(provider))
	mux.Handle("/oauth/token", p.encryptIDToken(provider))
	mux.Handle("/", provider)
	srv.Config.Handler = mux
	srv.Start()
	t.Cleanup(srv.Close)
	return p
}

// SetClient registers the relying party: where it receives the answer and
// where its keys are published.
func (p *Provider) SetClient(redirectURI, jwksURI string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.redirectURI, p.jwksURI = redirectURI, jwksURI
}

// AddPerson adds a test identity.
func (p *Provider) AddPerson(pe Person) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.persons = append(p.persons, pe)
}

// SetAuto makes the next identifications choose the person with hetu
// without showing the login page ("" shows it again).
func (p *Provider) SetAuto(hetu string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.auto = hetu
}

// SetIdentifierInUserinfo moves the identifier from the id_token to userinfo.
func (p *Provider) SetIdentifierInUserinfo(on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.identifierInUserinfo = on
}

// SetPlainIDToken makes the provider misbehave: id_tokens come signed
// but not encrypted, which the relying party must refuse.
func (p *Provider) SetPlainIDToken(on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.plainIDToken = on
}

// SetACR makes the provider assert acr instead of ACR (a lower level
// than the relying party asked for, say).
func (p *Provider) SetACR(acr string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.acr = acr
}

// Refused returns how many requests the profile checks refused for reason
// ("no request object", "no private_key_jwt").
func (p *Provider) Refused(reason string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.refused[reason]
}

func (p *Provider) refuse(w http.ResponseWriter, reason string, status int, body string) {
	p.mu.Lock()
	p.refused[reason]++
	p.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

// requireRequestObject: under the FTN profile the authorisation request
// carries its parameters only inside a signed request object.
func (p *Provider) requireRequestObject(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		ro := r.Form.Get("request")
		if ro == "" || strings.Count(ro, ".") != 2 {
			p.refuse(w, "no request object", http.StatusBadRequest, `{"error":"invalid_request","error_description":"a signed request object (request=) is required"}`)
			return
		}
		for _, k := range []string{"state", "nonce", "redirect_uri", "code_challenge"} {
			if r.Form.Has(k) {
				p.refuse(w, "parameter outside the request object", http.StatusBadRequest, `{"error":"invalid_request","error_description":"`+k+` must be inside the request object"}`)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// encryptIDToken lets op answer the token request, refusing any client
// authentication but private_key_jwt, and replaces the signed id_token
// with a JWE of it addressed to the relying party's encryption key.
func (p *Provider) encryptIDToken(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		if r.PostForm.Get("client_assertion_type") != oidc.ClientAssertionTypeJWTAssertion || r.PostForm.Get("client_assertion") == "" {
			p.refuse(w, "no private_key_jwt", http.StatusUnauthorized, `{"error":"invalid_client","error_description":"private_key_jwt is required"}`)
			return
		}
		if r.PostForm.Get("code_verifier") == "" {
			p.refuse(w, "no PKCE", http.StatusBadRequest, `{"error":"invalid_grant","error_description":"code_verifier is required"}`)
			return
		}
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		body := rec.Body.Bytes()
		p.mu.Lock()
		plain := p.plainIDToken
		p.mu.Unlock()
		if rec.Code == http.StatusOK && !plain {
			var m map[string]any
			if err := json.Unmarshal(body, &m); err == nil {
				if idt, ok := m["id_token"].(string); ok {
					enc, err := p.encrypt(r.Context(), idt)
					if err != nil {
						http.Error(w, err.Error(), http.StatusInternalServerError)
						return
					}
					m["id_token"] = enc
					body, _ = json.Marshal(m)
				}
			}
		}
		for k, v := range rec.Header() {
			if k != "Content-Length" {
				w.Header()[k] = v
			}
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(body)
	})
}

func (p *Provider) rpKeys(ctx context.Context) (jose.JSONWebKeySet, error) {
	p.mu.Lock()
	uri := p.jwksURI
	p.mu.Unlock()
	var set jose.JSONWebKeySet
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, uri, nil)
	if err != nil {
		return set, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return set, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return set, fmt.Errorf("relying party JWKS: %s", resp.Status)
	}
	return set, json.NewDecoder(resp.Body).Decode(&set)
}

func (p *Provider) encrypt(ctx context.Context, jws string) (string, error) {
	set, err := p.rpKeys(ctx)
	if err != nil {
		return "", err
	}
	var key *jose.JSONWebKey
	for i := range set.Keys {
		if set.Keys[i].Use == "enc" {
			key = &set.Keys[i]
		}
	}
	if key == nil {
		return "", errors.New("the relying party publishes no encryption key")
	}
	enc, err := jose.NewEncrypter(jose.A256GCM, jose.Recipient{Algorithm: jose.RSA_OAEP_256, Key: key.Key, KeyID: key.KeyID},
		(&jose.EncrypterOptions{}).WithContentType("JWT").WithType("JWT"))
	if err != nil {
		return "", err
	}
	obj, err := enc.Encrypt([]byte(jws))
	if err != nil {
		return "", err
	}
	return obj.CompactSerialize()
}

var loginPage = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Test identification</title></head>
<body><main><h1>Test identification</h1>
<form method="post" action="/login"><input type="hidden" name="id" value="{{.ID}}">
<fieldset><legend>Choose a test person</legend>
{{range .Persons}}<p><button type="submit" name="hetu" value="{{.Hetu}}">{{.GivenName}} {{.FamilyName}}</button></p>{{end}}
</fieldset>
<p><button type="submit" name="cancel" value="1">Cancel</button></p>
</form></main></body></html>`))

// login is the provider's own sign-in: choose a test person.
func (p *Provider) login(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	id := r.Form.Get("id")
	if id == "" {
		id = r.Form.Get("authRequestID")
	}
	p.mu.Lock()
	auto, persons := p.auto, slices.Clone(p.persons)
	p.mu.Unlock()
	hetu := r.PostForm.Get("hetu")
	if r.Method == http.MethodGet && auto != "" {
		hetu = auto
	}
	if r.PostForm.Get("cancel") != "" {
		req, err := p.st.AuthRequestByID(r.Context(), id)
		if err != nil {
			http.Error(w, "unknown request", http.StatusBadRequest)
			return
		}
		q := url.Values{"error": {"access_denied"}, "state": {req.GetState()}}
		http.Redirect(w, r, req.GetRedirectURI()+"?"+q.Encode(), http.StatusFound)
		return
	}
	if hetu == "" {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = loginPage.Execute(w, map[string]any{"ID": id, "Persons": persons})
		return
	}
	if err := p.st.CheckUsernamePassword(hetu, "test", id); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	http.Redirect(w, r, op.AuthCallbackURL(p.op)(r.Context(), id), http.StatusFound)
}

// userStore serves the test persons to the example storage.
type userStore struct{ p *Provider }

func (u userStore) user(hetu string) *storage.User {
	u.p.mu.Lock()
	defer u.p.mu.Unlock()
	for _, pe := range u.p.persons {
		if pe.Hetu == hetu {
			return &storage.User{ID: "u-" + pe.Hetu, Username: pe.Hetu, Password: "test", FirstName: pe.GivenName, LastName: pe.FamilyName, Email: pe.Email}
		}
	}
	return nil
}

func (u userStore) GetUserByID(id string) *storage.User {
	return u.user(strings.TrimPrefix(id, "u-"))
}
func (u userStore) GetUserByUsername(name string) *storage.User { return u.user(name) }
func (u userStore) ExampleClientID() string                     { return u.p.ClientID }

// opStorage is the example storage with the relying party as its one
// client (private_key_jwt, keys from its JWKS) and the identity claims.
type opStorage struct {
	*storage.Storage
	p *Provider
}

type client struct {
	op.Client
	p *Provider
}

func (c client) AuthMethod() oidc.AuthMethod { return oidc.AuthMethodPrivateKeyJWT }
func (c client) RedirectURIs() []string {
	c.p.mu.Lock()
	defer c.p.mu.Unlock()
	return []string{c.p.redirectURI}
}
func (c client) LoginURL(id string) string            { return "/login?authRequestID=" + url.QueryEscape(id) }
func (c client) IDTokenUserinfoClaimsAssertion() bool { return true }
func (c client) IDTokenLifetime() time.Duration       { return 5 * time.Minute }
func (c client) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}
func (c client) GrantTypes() []oidc.GrantType        { return []oidc.GrantType{oidc.GrantTypeCode} }
func (c client) IsScopeAllowed(scope string) bool    { return scope == HetuClaim }
func (c client) ClockSkew() time.Duration            { return time.Minute }
func (c client) DevMode() bool                       { return true }
func (c client) ApplicationType() op.ApplicationType { return op.ApplicationTypeWeb }
func (c client) AccessTokenType() op.AccessTokenType { return op.AccessTokenTypeBearer }
func (c client) PostLogoutRedirectURIs() []string    { return nil }
func (c client) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}

func (s *opStorage) GetClientByClientID(ctx context.Context, id string) (op.Client, error) {
	if id != s.p.ClientID {
		return nil, errors.New("unknown client")
	}
	return client{Client: storage.WebClient(id, ""), p: s.p}, nil
}

func (s *opStorage) AuthorizeClientIDSecret(ctx context.Context, id, secret string) error {
	return errors.New("client secrets are not accepted: use private_key_jwt")
}

// GetKeyByIDAndClientID returns the relying party's signing key kid from
// its JWKS: it verifies request objects and client assertions.
func (s *opStorage) GetKeyByIDAndClientID(ctx context.Context, kid, clientID string) (*jose.JSONWebKey, error) {
	if clientID != s.p.ClientID {
		return nil, errors.New("unknown client")
	}
	set, err := s.p.rpKeys(ctx)
	if err != nil {
		return nil, err
	}
	for _, k := range set.Key(kid) {
		if k.Use == "sig" {
			return &k, nil
		}
	}
	return nil, errors.New("no such signing key")
}

func (s *opStorage) CreateAuthRequest(ctx context.Context, req *oidc.AuthRequest, userID string) (op.AuthRequest, error) {
	ar, err := s.Storage.CreateAuthRequest(ctx, req, userID)
	if err != nil {
		return nil, err
	}
	acr := ""
	s.p.mu.Lock()
	if len(req.ACRValues) > 0 {
		acr = ACR
		if s.p.acr != "" {
			acr = s.p.acr
		}
	}
	s.p.acrs[ar.GetID()] = acr
	s.p.mu.Unlock()
	return acrRequest{ar, acr}, nil
}

func (s *opStorage) wrap(ar op.AuthRequest, err error) (op.AuthRequest, error) {
	if err != nil {
		return nil, err
	}
	s.p.mu.Lock()
	acr := s.p.acrs[ar.GetID()]
	s.p.mu.Unlock()
	return acrRequest{ar, acr}, nil
}

func (s *opStorage) AuthRequestByID(ctx context.Context, id string) (op.AuthRequest, error) {
	return s.wrap(s.Storage.AuthRequestByID(ctx, id))
}

func (s *opStorage) AuthRequestByCode(ctx context.Context, code string) (op.AuthRequest, error) {
	return s.wrap(s.Storage.AuthRequestByCode(ctx, code))
}

type acrRequest struct {
	op.AuthRequest
	acr string
}

func (a acrRequest) GetACR() string { return a.acr }

func (s *opStorage) hetu(userID string) string { return strings.TrimPrefix(userID, "u-") }

func (s *opStorage) GetPrivateClaimsFromScopes(ctx context.Context, userID, clientID string, scopes []string) (map[string]any, error) {
	s.p.mu.Lock()
	inUserinfo := s.p.identifierInUserinfo
	s.p.mu.Unlock()
	if inUserinfo {
		return map[string]any{}, nil
	}
	return map[string]any{HetuClaim: s.hetu(userID)}, nil
}

func (s *opStorage) SetUserinfoFromToken(ctx context.Context, info *oidc.UserInfo, tokenID, subject, origin string) error {
	if err := s.Storage.SetUserinfoFromToken(ctx, info, tokenID, subject, origin); err != nil {
		return err
	}
	info.AppendClaims(HetuClaim, s.hetu(info.Subject))
	return nil
}

// Compile-time check that the wrapped storage is still an op.Storage.
var _ op.Storage = (*opStorage)(nil)
