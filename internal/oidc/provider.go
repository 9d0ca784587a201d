package oidc

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rs/cors"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/portti/portti/internal/authn"
	"github.com/portti/portti/internal/session"
	"github.com/portti/portti/internal/storage"
)

// Paths served by the provider, relative to the issuer. Applications find
// them through discovery; only the discovery path is fixed by the standard.
const (
	PathDiscovery  = "/.well-known/openid-configuration"
	PathAuthorize  = "/oauth2/authorize"
	PathContinue   = "/oauth2/authorize/continue" // where portti's login returns to
	PathToken      = "/oauth2/token"
	PathUserinfo   = "/oauth2/userinfo"
	PathIntrospect = "/oauth2/introspect"
	PathRevoke     = "/oauth2/revoke"
	PathEndSession = "/oauth2/end_session"
	PathJWKS       = "/oauth2/jwks"
)

// Config configures a Provider.
type Config struct {
	Store    storage.Storage
	Sessions *session.Manager
	// MFA decides what a session's sign-in proved (amr, acr) and whether
	// a sign-in needs a second factor (policy, client, acr_values). Nil:
	// passwords only.
	MFA *authn.Service
	// Issuer is portti's public URL (config public_url), without a
	// trailing slash. It is the "iss" of every token.
	Issuer string
	// KeyEncryptionKey (32 bytes) seals the signing keys in the database.
	// Empty: keys are stored unencrypted, with a warning at every start.
	KeyEncryptionKey []byte
	Logger           *slog.Logger
	Now              func() time.Time
	Random           io.Reader // crypto/rand unless a test says otherwise

	AccessTokenTTL  time.Duration // default 10 min
	IDTokenTTL      time.Duration // default 1 h
	RefreshTokenTTL time.Duration // default 30 days, renewed at every rotation
	AuthRequestTTL  time.Duration // default 30 min: how long a sign-in may take
	// KeyPublishDelay is how long a new signing key is published in JWKS
	// before it signs (default 10 min), so that relying parties' JWKS
	// caches (portti serves max-age 5 min) know it before they meet it.
	KeyPublishDelay time.Duration
	// ClientCacheTTL is how long a node trusts its in-memory copy of a
	// client (default 2 s): the delay before a change made with `portti
	// client` takes effect everywhere.
	ClientCacheTTL time.Duration
	// RefreshReuseGrace is how long after a rotation the same client may
	// present the rotated refresh token again and get the same successor
	// rather than the chain's revocation (refreshgrace.go). 0: no grace,
	// every reuse revokes. The configuration's default is 5 s.
	RefreshReuseGrace time.Duration

	// ErrorPage renders a page for a browser when a sign-in cannot go on
	// and there is no safe place to send the error to (an unknown client,
	// a redirect_uri that is not registered, an expired sign-in). Nil: a
	// plain built-in page. The web front may set it to render its own,
	// translated page.
	ErrorPage func(w http.ResponseWriter, r *http.Request, p Problem)

	// Pages renders the provider's own pages — the account chooser, the
	// consent page, the network-restricted page and the logout pages —
	// with the web front's layout and translations. Nil: a plain built-in
	// page saying the page cannot be shown (tools and tests).
	Pages Pages
	// ClientIP returns the address a browser's request comes from, under
	// the same trusted-proxy rule as the web pages (web.ClientIP). It
	// decides whether a network-restricted client may be signed in to.
	// Nil: the direct peer's address.
	ClientIP func(r *http.Request) string
	// Affiliation returns what the registries say about an account (its
	// user type; its groups when groups is true) for the claims and for
	// clients limited to groups. Nil: nothing (package provision's
	// Directory.Affiliation in portti).
	Affiliation func(ctx context.Context, a storage.Account, groups bool) (Affiliation, error)

	// BackchannelClient posts back-channel logout tokens. Nil: a client
	// with a 5 s timeout that follows no redirects.
	BackchannelClient *http.Client
	// LogoutWait is how long the logout page waits for the applications
	// to confirm (default 2 s); the rest are left to the worker.
	LogoutWait time.Duration
	// The logout delivery worker, as the mail outbox: it looks for due
	// deliveries every LogoutPoll (2 s), reserves them for LogoutLease
	// (1 min), and retries a failed one after LogoutMinBackoff (5 s)
	// doubling up to LogoutMaxBackoff (30 min), never giving up.
	LogoutPoll, LogoutLease, LogoutMinBackoff, LogoutMaxBackoff time.Duration
}

// Pages renders a page of the web front. name is a template ("chooser",
// "consent", "restricted", "logout", "logged_out"), titleKey the
// catalogue key of its title, and data what the template reads as .Data.
// A data entry "Path" (string) is where the language switcher returns to
// instead of the request's own URL.
type Pages interface {
	RenderPage(w http.ResponseWriter, r *http.Request, status int, name, titleKey string, data map[string]any)
}

// Problem is an error shown to a person in the browser.
type Problem struct {
	Status  int
	Key     string // stable identifier, e.g. "oidc.redirect_uri", for translations
	Title   string // English
	Message string // English
	Ref     string // reference code also written to the log
}

// Provider is portti's OpenID Connect provider.
type Provider struct {
	cfg     Config
	store   storage.Storage
	log     *slog.Logger
	clients *clientCache
	// resources finds resource servers (APIs) by identifier (resource.go).
	resources *resourceCache
	keys      *keyring
	issuer    string
	// basePath is the issuer's path ("" for a host of its own), put in
	// front of the paths portti sends browsers to.
	basePath string

	op     *op.Provider // zitadel: configuration, request parsing, verifiers
	server *server      // zitadel's Server with portti's overrides

	discovery *document

	handlerOnce  sync.Once
	handler      http.Handler
	protocolOnce sync.Once
	protocolH    http.Handler

	logouts logoutQueue // back-channel logout delivery (backchannel.go)

	// graceSalt salts the keys sealing refresh successors; nil without a
	// key encryption key (refreshgrace.go).
	graceSalt []byte
}

// New returns a Provider. On first start it creates the signing keys.
func New(cfg Config) (*Provider, error) {
	if cfg.Store == nil {
		return nil, errors.New("oidc: no store")
	}
	if cfg.Sessions == nil {
		return nil, errors.New("oidc: no session manager")
	}
	issuer := strings.TrimRight(cfg.Issuer, "/")
	u, err := url.Parse(issuer)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("oidc: issuer %q must be an absolute http(s) URL without query or fragment", cfg.Issuer)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cfg.Random = randomReader(cfg.Random)
	setDefault(&cfg.AccessTokenTTL, 10*time.Minute)
	setDefault(&cfg.IDTokenTTL, time.Hour)
	setDefault(&cfg.RefreshTokenTTL, 30*24*time.Hour)
	setDefault(&cfg.AuthRequestTTL, 30*time.Minute)
	setDefault(&cfg.KeyPublishDelay, 10*time.Minute)
	setDefault(&cfg.ClientCacheTTL, 2*time.Second)
	setDefault(&cfg.LogoutWait, 2*time.Second)
	setDefault(&cfg.LogoutPoll, 2*time.Second)
	setDefault(&cfg.LogoutLease, time.Minute)
	setDefault(&cfg.LogoutMinBackoff, 5*time.Second)
	setDefault(&cfg.LogoutMaxBackoff, 30*time.Minute)
	if cfg.LogoutMaxBackoff < cfg.LogoutMinBackoff {
		cfg.LogoutMaxBackoff = cfg.LogoutMinBackoff
	}
	if cfg.BackchannelClient == nil {
		cfg.BackchannelClient = &http.Client{
			Timeout: backchannelTimeout,
			// A redirect is not a confirmation: the delivery is retried.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	if cfg.KeyPublishDelay < docMaxAge+keyRefresh {
		// Shorter, and a relying party's cached JWKS may not yet hold the
		// key its tokens are signed with.
		return nil, fmt.Errorf("oidc: key publish delay %s must be at least %s (JWKS cache lifetime plus key refresh)", cfg.KeyPublishDelay, docMaxAge+keyRefresh)
	}

	p := &Provider{cfg: cfg, store: cfg.Store, log: cfg.Logger, issuer: issuer, basePath: strings.TrimRight(u.Path, "/")}
	p.logouts.wake = make(chan struct{}, 1)
	p.clients = &clientCache{
		store: cfg.Store, ttl: cfg.ClientCacheTTL, now: p.now, idTTL: cfg.IDTokenTTL,
		loginPath: p.basePath + PathContinue, m: map[string]cachedClient{},
	}
	p.resources = &resourceCache{store: cfg.Store, clients: p.clients, ttl: cfg.ClientCacheTTL, now: p.now, m: map[string]cachedResource{}}

	seal, err := newSealer(cfg.KeyEncryptionKey, cfg.Random)
	if err != nil {
		return nil, fmt.Errorf("oidc: %w", err)
	}
	if p.graceSalt, err = graceSaltFor(cfg.KeyEncryptionKey); err != nil {
		return nil, fmt.Errorf("oidc: %w", err)
	}
	if cfg.RefreshReuseGrace < 0 {
		return nil, fmt.Errorf("oidc: refresh reuse grace %s is negative", cfg.RefreshReuseGrace)
	}
	p.keys = &keyring{
		store: cfg.Store, sealer: seal, random: cfg.Random, now: p.now, log: p.log,
		publishDelay: cfg.KeyPublishDelay, maxTokenTTL: max(cfg.IDTokenTTL, cfg.AccessTokenTTL),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := p.keys.ensure(ctx); err != nil {
		return nil, fmt.Errorf("oidc: %w", err)
	}

	endpoints := op.Endpoints{
		Authorization: op.NewEndpoint(PathAuthorize),
		Token:         op.NewEndpoint(PathToken),
		Introspection: op.NewEndpoint(PathIntrospect),
		Userinfo:      op.NewEndpoint(PathUserinfo),
		Revocation:    op.NewEndpoint(PathRevoke),
		EndSession:    op.NewEndpoint(PathEndSession),
		JwksURI:       op.NewEndpoint(PathJWKS),
	}
	opts := []op.Option{
		op.WithCustomEndpoints(endpoints.Authorization, endpoints.Token, endpoints.Userinfo,
			endpoints.Revocation, endpoints.EndSession, endpoints.JwksURI),
		op.WithCustomIntrospectionEndpoint(endpoints.Introspection),
		op.WithCrypto(codeCrypto{random: cfg.Random}),
		op.WithIDTokenHintKeySet(keySet{p.keys}),
		op.WithAccessTokenKeySet(keySet{p.keys}),
		op.WithIDTokenHintVerifierOpts(op.WithSupportedIDTokenHintSigningAlgorithms(signingAlgs...)),
	}
	if u.Scheme == "http" {
		// config.Validate allows plain http only on localhost.
		opts = append(opts, op.WithAllowInsecure())
	}
	p.op, err = op.NewProvider(&op.Config{
		CodeMethodS256:           true,
		AuthMethodPost:           true,
		GrantTypeRefreshToken:    true,
		SupportedScopes:          supportedScopes,
		SupportedClaims:          supportedClaims,
		DefaultLogoutRedirectURI: p.basePath + loggedOutPath,
	}, &opStorage{p: p}, op.StaticIssuer(issuer), opts...)
	if err != nil {
		return nil, fmt.Errorf("oidc: %w", err)
	}
	p.server = &server{
		LegacyServer: op.NewLegacyServer(p.op, endpoints),
		p:            p,
	}
	body, err := json.Marshal(p.discoveryConfig())
	if err != nil {
		return nil, fmt.Errorf("oidc: discovery: %w", err)
	}
	p.discovery = newDocument(body)
	return p, nil
}

func setDefault(d *time.Duration, v time.Duration) {
	if *d <= 0 {
		*d = v
	}
}

func (p *Provider) now() time.Time { return p.cfg.Now().UTC() }

// Issuer returns the issuer URL.
func (p *Provider) Issuer() string { return p.issuer }

// RotateKeys creates new signing keys that sign after KeyPublishDelay and
// retires the current ones at that moment; they stay in JWKS until the
// tokens they signed have expired. It returns the new keys' IDs.
func (p *Provider) RotateKeys(ctx context.Context) ([]string, error) {
	recs, err := p.keys.rotate(ctx)
	var ids []string
	for _, r := range recs {
		ids = append(ids, r.ID)
	}
	if err != nil {
		return ids, fmt.Errorf("oidc: rotate keys: %w", err)
	}
	p.log.InfoContext(ctx, "oidc: signing keys rotated", "new_kids", strings.Join(ids, ","),
		"sign_from", p.now().Add(p.cfg.KeyPublishDelay).Format(time.RFC3339))
	return ids, nil
}

// SigningKeys lists the stored signing keys (for `portti keys list` and
// tests); Private is left out.
func (p *Provider) SigningKeys(ctx context.Context) ([]storage.SigningKey, error) {
	recs, err := p.store.ListSigningKeys(ctx)
	for i := range recs {
		recs[i].Private = nil
	}
	return recs, err
}

// Handler serves the provider's endpoints: discovery under /.well-known/
// and everything else under /oauth2/. The application mounts it in front
// of the web pages.
func (p *Provider) Handler() http.Handler {
	p.handlerOnce.Do(func() { p.handler = p.routes() })
	return p.handler
}

// protocol is zitadel's handler: it parses requests, authenticates
// clients and writes protocol errors, and the server's overrides issue and
// check portti's tokens. Built on first use: zitadel logs every route it
// registers, which the CLI commands have no use for.
func (p *Provider) protocol() http.Handler {
	p.protocolOnce.Do(func() {
		p.protocolH = op.RegisterLegacyServer(p.server, http.NotFound,
			op.WithServerCORSOptions(&cors.Options{
				// Browser apps (public clients) call the token, userinfo
				// and revocation endpoints from their own origin. No
				// credentials: these endpoints authenticate with tokens
				// and client secrets, never with portti's cookies.
				AllowedOrigins:   []string{"*"},
				AllowedMethods:   []string{http.MethodGet, http.MethodPost},
				AllowedHeaders:   []string{"Authorization", "Content-Type", "Accept"},
				AllowCredentials: false,
				MaxAge:           600,
			}))
	})
	return p.protocolH
}

func (p *Provider) routes() http.Handler {
	protocol := p.protocol()
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+PathDiscovery, func(w http.ResponseWriter, r *http.Request) {
		p.discovery.serve(w, r)
	})
	mux.HandleFunc("GET "+PathJWKS, p.serveJWKS)
	mux.HandleFunc(PathAuthorize, p.serveAuthorize)
	mux.HandleFunc("GET "+PathContinue, p.serveContinue)
	mux.HandleFunc("POST "+PathContinue, p.serveChoice)
	mux.HandleFunc(PathEndSession, p.serveEndSession)
	mux.Handle(PathToken, protocol)
	// Machines' two most frequent requests, without zitadel's handling
	// when they succeed (fastpath.go).
	mux.HandleFunc("POST "+PathToken, func(w http.ResponseWriter, r *http.Request) {
		if !p.serveTokenFast(w, r) {
			protocol.ServeHTTP(w, r)
		}
	})
	mux.HandleFunc("POST "+PathIntrospect, func(w http.ResponseWriter, r *http.Request) {
		if !p.serveIntrospectFast(w, r) {
			protocol.ServeHTTP(w, r)
		}
	})
	mux.HandleFunc(PathUserinfo, func(w http.ResponseWriter, r *http.Request) {
		// RFC 6750 2.3 allows the token in the query string, where
		// proxies and access logs keep it: portti does not.
		if r.URL.Query().Has("access_token") {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"error":"invalid_request","error_description":"send the access token in the Authorization header"}` + "\n"))
			return
		}
		protocol.ServeHTTP(w, r)
	})
	mux.Handle(PathIntrospect, protocol)
	mux.Handle(PathRevoke, protocol)
	mux.HandleFunc("/", http.NotFound)

	issuer := op.NewIssuerInterceptor(p.op.IssuerFromRequest)
	return issuer.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		if r.URL.Path != PathDiscovery && r.URL.Path != PathJWKS {
			// Tokens, codes and personal data: never stored by a cache
			// (RFC 6749 5.1, OIDC Core 5.3.2).
			h.Set("Cache-Control", "no-store")
			h.Set("Pragma", "no-cache")
		}
		// The continuation and error pages are never framed.
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		mux.ServeHTTP(w, r)
	}))
}

func (p *Provider) serveJWKS(w http.ResponseWriter, r *http.Request) {
	doc, err := p.keys.jwksDocument(r.Context())
	if err != nil {
		p.log.ErrorContext(r.Context(), "oidc: JWKS", "error", err)
		http.Error(w, "signing keys unavailable", http.StatusInternalServerError)
		return
	}
	doc.serve(w, r)
}

// document is a JSON document served from memory with an ETag.
type document struct {
	body []byte
	etag string
}

func newDocument(body []byte) *document {
	sum := sha256.Sum256(body)
	return &document{body: body, etag: `"` + base64.RawURLEncoding.EncodeToString(sum[:16]) + `"`}
}

// docMaxAge is how long relying parties may cache discovery and JWKS. It
// must stay well under Config.KeyPublishDelay.
const docMaxAge = 5 * time.Minute

func (d *document) serve(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "public, max-age="+strconv.Itoa(int(docMaxAge.Seconds())))
	h.Set("ETag", d.etag)
	// Browser apps read both documents from their own origin.
	h.Set("Access-Control-Allow-Origin", "*")
	if match := r.Header.Get("If-None-Match"); match != "" && etagMatches(match, d.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Length", strconv.Itoa(len(d.body)))
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(d.body)
}

func etagMatches(header, etag string) bool {
	for t := range strings.SplitSeq(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == etag {
			return true
		}
	}
	return false
}

var supportedScopes = []string{
	oidc.ScopeOpenID, oidc.ScopeProfile, oidc.ScopeEmail, oidc.ScopePhone, oidc.ScopeAddress, oidc.ScopeOfflineAccess,
	ScopeGroups, ScopeUserType,
}

var supportedClaims = []string{
	"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "amr", "acr", "azp", "sid", "at_hash",
	"name", "given_name", "family_name", "locale", "email", "email_verified", "phone_number", "address",
	"portti_user_type", "groups",
}

func (p *Provider) discoveryConfig() *oidc.DiscoveryConfiguration {
	abs := func(path string) string { return p.issuer + path }
	acrValues := []string{authn.ACRMFA, authn.ACRPassword}
	if p.cfg.MFA != nil {
		n := p.cfg.MFA.ACRNames()
		acrValues = []string{n.MFA, n.Password}
	}
	authMethods := []oidc.AuthMethod{oidc.AuthMethodBasic, oidc.AuthMethodPost, oidc.AuthMethodNone}
	return &oidc.DiscoveryConfiguration{
		Issuer:                                 p.issuer,
		AuthorizationEndpoint:                  abs(PathAuthorize),
		TokenEndpoint:                          abs(PathToken),
		IntrospectionEndpoint:                  abs(PathIntrospect),
		UserinfoEndpoint:                       abs(PathUserinfo),
		RevocationEndpoint:                     abs(PathRevoke),
		EndSessionEndpoint:                     abs(PathEndSession),
		JwksURI:                                abs(PathJWKS),
		ScopesSupported:                        supportedScopes,
		ResponseTypesSupported:                 []string{string(oidc.ResponseTypeCode)},
		ResponseModesSupported:                 []string{string(oidc.ResponseModeQuery), string(oidc.ResponseModeFragment), string(oidc.ResponseModeFormPost)},
		GrantTypesSupported:                    []oidc.GrantType{oidc.GrantTypeCode, oidc.GrantTypeRefreshToken, oidc.GrantTypeClientCredentials},
		SubjectTypesSupported:                  []string{"public"},
		IDTokenSigningAlgValuesSupported:       signingAlgs,
		TokenEndpointAuthMethodsSupported:      authMethods,
		RevocationEndpointAuthMethodsSupported: authMethods,
		// Introspection is for confidential clients (resource servers).
		IntrospectionEndpointAuthMethodsSupported: []oidc.AuthMethod{oidc.AuthMethodBasic, oidc.AuthMethodPost},
		ClaimsSupported:               supportedClaims,
		ACRValuesSupported:            acrValues,
		CodeChallengeMethodsSupported: []oidc.CodeChallengeMethod{oidc.CodeChallengeMethodS256},
		RequestParameterSupported:     false,
		RequestURIParameterSupported:  false,
		// Logout tokens carry sid (backchannel.go).
		BackChannelLogoutSupported:        true,
		BackChannelLogoutSessionSupported: true,
	}
}
