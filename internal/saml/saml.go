package saml

import (
	"context"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/portti/portti/internal/authn"
	"github.com/portti/portti/internal/refcode"
	"github.com/portti/portti/internal/session"
	"github.com/portti/portti/internal/storage"
)

// Paths under the public URL.
const (
	PathMetadata = "/saml/metadata"
	PathSSO      = "/saml/sso"
	PathContinue = "/saml/sso/continue"
	PathInit     = "/saml/init"
	PathSLO      = "/saml/slo"
	PathLogout   = "/saml/logout"
	pathScript   = "/saml/post.js"
)

// Audit event kinds.
const (
	AuditSSO     = "saml.sso"            // an assertion was sent to a service
	AuditRefused = "saml.refused"        // a message was refused (reason says why)
	AuditLogout  = "saml.logout"         // a session ended by Single Logout
	AuditSP      = "saml.service_change" // a service was added, changed or removed
)

//go:embed templates/*.html
var templates embed.FS

// Templates are the provider's pages, for web.Server.AddPages.
func Templates() (fs.FS, string) { return templates, "templates" }

// Pages renders pages in portti's layout (web.Server).
type Pages interface {
	RenderPage(w http.ResponseWriter, r *http.Request, status int, name, titleKey string, data map[string]any)
	RenderProblem(w http.ResponseWriter, r *http.Request, status int, key, ref string)
}

// Config is what the identity provider needs.
type Config struct {
	Store    storage.Storage
	Sessions *session.Manager
	MFA      *authn.Service // nil: no second factors (tests)
	Pages    Pages

	PublicURL string // portti's public URL
	EntityID  string // "" means PublicURL + /saml/metadata
	// KeyEncryptionKey seals the keys in the database (empty: stored in
	// the clear, development only).
	KeyEncryptionKey []byte
	KeyBits          int // RSA key size of new keys; 0 means 2048

	Scope                string // the organisation's scope (eduPersonPrincipalName…)
	HomeOrganization     string // schacHomeOrganization; "" means Scope
	HomeOrganizationType string // schacHomeOrganizationType
	// OrganizationName is the display name in the metadata by language.
	OrganizationName map[string]string
	// UserType is the account's user type: staff, student, external,
	// guest or "" (unknown: a member).
	UserType func(storage.Account) string
	// IdPInitiated lists the services that may be signed in to from
	// portti's side (/saml/init?sp=ENTITYID).
	IdPInitiated []string
	// DefaultRelease is what a service added without --release gets.
	DefaultRelease []string

	// OnSessionEnded is told of a session Single Logout ended (app tells
	// the OpenID Connect provider, which tells its applications).
	OnSessionEnded func(ctx context.Context, sessionID string)
	ClientIP       func(r *http.Request) string
	Logger         *slog.Logger
	Now            func() time.Time
	// HTTPClient fetches metadata from URLs (aggregates, sp add --metadata URL).
	HTTPClient *http.Client
}

// Provider is the SAML identity provider.
type Provider struct {
	cfg       Config
	keys      *keySet // nil until ensureKeys
	keysMu    sync.Mutex
	keySealer *authn.Sealer
	state     *authn.Sealer
	log       *slog.Logger
	entity    string
	base      string

	spMu    sync.Mutex
	spCache map[string]cachedSP

	mdMu     sync.Mutex
	mdSigned []byte
	mdAt     time.Time
}

// New returns the provider; its keys are loaded (or on first use
// created) when first needed.
func New(ctx context.Context, cfg Config) (*Provider, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.KeyBits == 0 {
		cfg.KeyBits = 2048
	}
	if cfg.KeyBits < 2048 {
		return nil, fmt.Errorf("saml: RSA keys of %d bits are too short (at least 2048)", cfg.KeyBits)
	}
	if cfg.UserType == nil {
		cfg.UserType = func(storage.Account) string { return "" }
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if cfg.Scope == "" {
		cfg.Scope = hostOf(cfg.PublicURL)
	}
	if cfg.HomeOrganization == "" {
		cfg.HomeOrganization = cfg.Scope
	}
	if cfg.HomeOrganizationType == "" {
		cfg.HomeOrganizationType = "urn:schac:homeOrganizationType:int:university"
	}
	if cfg.DefaultRelease == nil {
		cfg.DefaultRelease = AttributeNames()
	}
	base := strings.TrimSuffix(cfg.PublicURL, "/")
	p := &Provider{cfg: cfg, log: cfg.Logger, base: base, entity: cfg.EntityID}
	if p.entity == "" {
		p.entity = base + PathMetadata
	}
	keySealer, err := sealerFor(cfg.KeyEncryptionKey, "portti saml key seal v1", false)
	if err != nil {
		return nil, err
	}
	if p.state, err = sealerFor(cfg.KeyEncryptionKey, "portti saml state seal v1", true); err != nil {
		return nil, err
	}
	p.keySealer = keySealer
	return p, nil
}

// ensureKeys loads the keys on first use (making them on the very first):
// an installation that never uses SAML never waits for RSA key
// generation, and neither does every test that starts an App.
func (p *Provider) ensureKeys(ctx context.Context) error {
	p.keysMu.Lock()
	defer p.keysMu.Unlock()
	if p.keys != nil {
		return nil
	}
	ks, err := loadKeys(ctx, p.cfg.Store, p.keySealer, p.cfg.KeyBits, hostOf(p.cfg.PublicURL), p.now())
	if err != nil {
		return fmt.Errorf("saml: %w", err)
	}
	p.keys = ks
	return nil
}

// sealerFor derives a sealer of its own from the key encryption key.
// State that travels through the browser is never left unsealed: without
// a key encryption key it takes a random key for this process.
func sealerFor(kek []byte, label string, alwaysSeal bool) (*authn.Sealer, error) {
	if len(kek) == 0 {
		if !alwaysSeal {
			return authn.NewSealer(nil, rand.Reader)
		}
		key := make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, err
		}
		return authn.NewSealer(key, rand.Reader)
	}
	key, err := hkdf.Key(sha256.New, kek, nil, label, 32)
	if err != nil {
		return nil, err
	}
	return authn.NewSealer(key, rand.Reader)
}

// EntityID is the identity provider's entity ID.
func (p *Provider) EntityID() string { return p.entity }

func (p *Provider) now() time.Time { return p.cfg.Now().UTC() }

// Handler serves /saml/. It is not behind the cross-origin form
// protection: the bindings post across sites by design, and every such
// message is authenticated by its signature and replay cache instead.
func (p *Provider) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+PathMetadata, p.serveMetadata)
	mux.HandleFunc("GET "+PathSSO, p.serveSSO)
	mux.HandleFunc("POST "+PathSSO, p.serveSSO)
	mux.HandleFunc("GET "+PathContinue, p.serveContinue)
	mux.HandleFunc("GET "+PathInit, p.serveInit)
	mux.HandleFunc("GET "+PathSLO, p.serveSLO)
	mux.HandleFunc("POST "+PathSLO, p.serveSLO)
	// portti's own Single Logout is a form post from its pages: it
	// keeps the cross-origin check (no other site may sign people out).
	mux.Handle("POST "+PathLogout, http.NewCrossOriginProtection().Handler(http.HandlerFunc(p.serveLogout)))
	mux.HandleFunc("GET "+pathScript, serveScript)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := p.ensureKeys(r.Context()); err != nil {
			p.failInternal(w, r, err)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// sealState seals v for a URL.
func (p *Provider) sealState(purpose string, v any) (string, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	sealed, err := p.state.Seal("portti saml "+purpose, raw)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(sealed), nil
}

var errBadState = errors.New("saml: state does not open")

func (p *Provider) openState(purpose, s string, v any) error {
	if len(s) > 8192 {
		return errBadState
	}
	sealed, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return errBadState
	}
	raw, err := p.state.Open("portti saml "+purpose, sealed)
	if err != nil {
		return errBadState
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return errBadState
	}
	return nil
}

// refuse shows the error page for a message that cannot be answered to
// its service, and records why (audit event with the page's reference
// code). key names the explanation (saml.error.*).
func (p *Provider) refuse(w http.ResponseWriter, r *http.Request, status int, key, entityID string, cause error) {
	ref := refcode.New()
	reason := key
	if entityID != "" {
		reason += " service " + truncate(entityID, 200)
	}
	if cause != nil {
		reason += ": " + truncate(cause.Error(), 300)
	}
	p.audit(r, storage.Event{Kind: AuditRefused, Reason: reason, Ref: ref})
	p.log.InfoContext(r.Context(), "saml: message refused", "ref", ref, "reason", reason)
	p.cfg.Pages.RenderProblem(w, r, status, key, ref)
}

func (p *Provider) audit(r *http.Request, e storage.Event) {
	e.Time = p.now()
	e.UserAgent = truncate(r.UserAgent(), 256)
	if p.cfg.ClientIP != nil {
		e.ClientIP = p.cfg.ClientIP(r)
	}
	if err := p.cfg.Store.AppendEvent(r.Context(), e); err != nil {
		p.log.WarnContext(r.Context(), "saml: audit event not stored", "kind", e.Kind, "error", err)
	}
}

func (p *Provider) failInternal(w http.ResponseWriter, r *http.Request, err error) {
	ref := refcode.New()
	p.log.ErrorContext(r.Context(), "saml: internal error", "ref", ref, "error", err)
	p.cfg.Pages.RenderProblem(w, r, http.StatusInternalServerError, "saml.error.internal", ref)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

const postScript = `document.getElementById("saml-post").submit();` + "\n"

// serveScript submits the POST binding's form (a script file of its own:
// the pages' Content-Security-Policy allows no inline script).
func serveScript(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=86400")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write([]byte(postScript))
}
