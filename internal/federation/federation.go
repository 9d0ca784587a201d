package federation

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"golang.org/x/text/collate"
	"golang.org/x/text/language"
	"golang.org/x/text/unicode/norm"

	"github.com/portti/portti/internal/account"
	"github.com/portti/portti/internal/authn"
	"github.com/portti/portti/internal/mail"
	"github.com/portti/portti/internal/proofing"
	"github.com/portti/portti/internal/secret"
	"github.com/portti/portti/internal/session"
	"github.com/portti/portti/internal/storage"
)

// Factor kinds a federated sign-in records in the session.
const (
	// MethodFed: signed in at a home organisation; one factor.
	MethodFed = "fed"
	// MethodFedMFA: signed in at a home organisation that is trusted to
	// do the second factor and asserted it (acr ACRMFA).
	MethodFedMFA = "fedmfa"
)

// Audit event kinds. The upstream subject never appears in one.
const (
	EventSignIn   = "federation.signin"
	EventNoLink   = "federation.unlinked" // an upstream identity with no account
	EventFailed   = "federation.failed"
	EventLinked   = "federation.linked"
	EventUnlinked = "federation.link_removed"
)

// Flow purposes, in proofing's flow table.
const (
	purposeLogin = "federation.login"
	purposeLink  = "federation.link"
)

// FlowTTL is how long a person has at their home organisation.
const FlowTTL = 15 * time.Minute

// Provider is one upstream OpenID Connect identity provider.
type Provider struct {
	proofing.Provider
	// TrustMFA: the provider's acr https://refeds.org/profile/mfa counts
	// as the second factor.
	TrustMFA bool
}

// Pages is what the package needs from the web front (web.Server).
type Pages interface {
	RenderPage(w http.ResponseWriter, r *http.Request, status int, name, titleKey string, data map[string]any)
	RenderProblem(w http.ResponseWriter, r *http.Request, status int, key, ref string)
	Lang(r *http.Request) string
}

// Config holds a Service's dependencies.
type Config struct {
	Providers []Provider
	PublicURL string // without trailing slash
	Store     storage.Storage
	Keys      *proofing.Keys // for private_key_jwt, request objects, JWE; nil when no provider needs them
	Accounts  *account.Service
	MFA       *authn.Service
	Sessions  *session.Manager
	Outbox    *mail.Outbox // the owner is told of every new link
	Pages     Pages
	Logger    *slog.Logger
	ClientIP  func(*http.Request) string
	Secure    bool // https: cookies are Secure, the flow cookie __Host-
	// HTTPClient talks to the providers; nil: 15-second timeout.
	HTTPClient *http.Client
	Now        func() time.Time
}

// Service runs sign-in with a home organisation.
type Service struct {
	cfg       Config
	providers map[string]Provider
	clients   map[string]*proofing.RP
	order     []string
	guest     GuestAcceptor // guest.go: finishes a guest's acceptance; nil: none
}

// New returns a Service; it talks to no provider until a person starts.
func New(cfg Config) (*Service, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Service{cfg: cfg, providers: map[string]Provider{}, clients: map[string]*proofing.RP{}}
	for _, p := range cfg.Providers {
		if _, dup := s.providers[p.ID]; dup {
			return nil, fmt.Errorf("federation: provider %q given twice", p.ID)
		}
		if p.IdentifierClaim == "" {
			p.IdentifierClaim = "sub"
		}
		needKeys := p.TokenEndpointAuth != proofing.AuthClientSecretBasic || p.RequestObject || p.EncryptedIDToken
		if needKeys && cfg.Keys == nil {
			return nil, fmt.Errorf("federation: provider %q needs portti's relying-party keys (key_encryption_key)", p.ID)
		}
		s.providers[p.ID] = p
		s.clients[p.ID] = proofing.NewRP(p.Provider, s.RedirectURI(), cfg.Keys, cfg.HTTPClient)
		s.order = append(s.order, p.ID)
	}
	return s, nil
}

// Enabled reports whether any provider is configured.
func (s *Service) Enabled() bool { return s != nil && len(s.order) > 0 }

// RedirectURI is what to register with every provider.
func (s *Service) RedirectURI() string { return s.cfg.PublicURL + "/federation/callback" }

// Provider returns a configured provider.
func (s *Service) Provider(id string) (Provider, bool) {
	p, ok := s.providers[id]
	return p, ok
}

// Methods are the factor kinds of a federated sign-in, for the app's
// authn registry, so that amr, acr and "has a second factor" count them.
func Methods() []authn.Method { return []authn.Method{fedMethod{}, fedMFAMethod{}} }

type fedMethod struct{}

func (fedMethod) Kind() string       { return MethodFed }
func (fedMethod) TitleKey() string   { return "federation.method" }
func (fedMethod) AMR() []string      { return []string{"fed"} }
func (fedMethod) SecondFactor() bool { return false }
func (fedMethod) Passwordless() bool { return false }

// fedMFAMethod proves two factors in one, as a passkey with user
// verification does: the home organisation did both.
type fedMFAMethod struct{}

func (fedMFAMethod) Kind() string       { return MethodFedMFA }
func (fedMFAMethod) TitleKey() string   { return "federation.method" }
func (fedMFAMethod) AMR() []string      { return []string{"fed"} }
func (fedMFAMethod) SecondFactor() bool { return false }
func (fedMFAMethod) Passwordless() bool { return true }

// Local reports whether factors include one proven at portti itself (a
// password or a passkey), not only at a home organisation.
func Local(factors []storage.AuthFactor) bool {
	return slices.ContainsFunc(factors, func(f storage.AuthFactor) bool {
		return f.Method != MethodFed && f.Method != MethodFedMFA
	})
}

// Choice is a provider as the chooser lists it.
type Choice struct {
	ID, Name string
}

// fold prepares a name for search: NFC, lower case, trimmed.
func fold(s string) string { return strings.ToLower(strings.TrimSpace(norm.NFC.String(s))) }

// Search returns the providers whose name in any language (or ID)
// contains every word of q, named in lang and sorted by that language's
// collation; all of them when q is empty.
func (s *Service) Search(q, lang string) []Choice {
	words := strings.Fields(fold(q))
	var out []Choice
	for _, id := range s.order {
		p := s.providers[id]
		hay := []string{fold(id)}
		for _, n := range p.Name {
			hay = append(hay, fold(n))
		}
		all := strings.Join(hay, "\x00")
		if !slices.ContainsFunc(words, func(w string) bool { return !strings.Contains(all, w) }) {
			out = append(out, Choice{ID: id, Name: p.DisplayName(lang)})
		}
	}
	tag := language.English
	switch lang {
	case "fi":
		tag = language.Finnish
	case "sv":
		tag = language.Swedish
	}
	c := collate.New(tag, collate.IgnoreCase)
	slices.SortStableFunc(out, func(a, b Choice) int { return c.CompareString(a.Name, b.Name) })
	return out
}

// ErrUnknownProvider: no configured provider has that ID.
var ErrUnknownProvider = errors.New("federation: unknown provider")

// begin records a flow and returns the browser's flow secret and where
// to send the browser.
func (s *Service) begin(ctx context.Context, purpose, idp, accountID, ret, lang string) (flowSecret, redirect string, err error) {
	rp, ok := s.clients[idp]
	if !ok {
		return "", "", ErrUnknownProvider
	}
	// The flow secret, state and nonce are 256-bit secrets; the PKCE
	// verifier is one too (43 characters, RFC 7636 4.1).
	var flowHash, stateHash string
	if flowSecret, flowHash, err = newSecret(); err != nil {
		return "", "", err
	}
	state, stateHash, err := newSecret()
	if err != nil {
		return "", "", err
	}
	nonce, _, err := newSecret()
	if err != nil {
		return "", "", err
	}
	verifier, _, err := newSecret()
	if err != nil {
		return "", "", err
	}
	now := s.cfg.Now().UTC()
	f := storage.ProofingFlow{ID: flowHash, Purpose: purpose, Provider: idp, AccountID: accountID,
		Return: ret, Lang: lang, State: stateHash, Nonce: nonce, Verifier: verifier,
		CreatedAt: now, ExpiresAt: now.Add(FlowTTL)}
	if purpose == purposeGuest {
		// A guest's acceptance has no account yet: what it carries is
		// the invitation (its token hash), kept where a flow keeps what
		// it began on.
		f.AccountID, f.Challenge = "", accountID
	}
	if err := s.cfg.Store.CreateProofingFlow(ctx, f); err != nil {
		return "", "", fmt.Errorf("federation: begin: %w", err)
	}
	u, err := rp.AuthURL(ctx, state, nonce, verifier, lang)
	if err != nil {
		_ = s.cfg.Store.DeleteProofingFlow(ctx, f.ID)
		return "", "", fmt.Errorf("federation: %s: %w", idp, err)
	}
	return flowSecret, u, nil
}

// Upstream is what a home organisation said about the person.
type Upstream struct {
	Provider string
	Subject  string
	ACR      string
	AMR      []string
	MFA      bool // a trusted provider asserted the REFEDS MFA profile
}

// Errors of a callback.
var (
	ErrFlowGone = errors.New("federation: the sign-in expired or was already used")
	ErrState    = errors.New("federation: the state does not match")
)

// finish checks the provider's answer against the browser's flow (which
// it spends) and returns the flow and the upstream identity.
func (s *Service) finish(ctx context.Context, flowSecret string, q map[string][]string) (storage.ProofingFlow, Upstream, error) {
	if !secret.Plausible(flowSecret) {
		return storage.ProofingFlow{}, Upstream{}, ErrFlowGone
	}
	f, err := s.cfg.Store.GetProofingFlow(ctx, secret.Hash(flowSecret), s.cfg.Now().UTC())
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return f, Upstream{}, ErrFlowGone
	case err != nil:
		return f, Upstream{}, err
	case !strings.HasPrefix(f.Purpose, "federation."):
		return f, Upstream{}, ErrFlowGone
	}
	params, err := proofing.ParseCallback(q)
	if err != nil {
		return f, Upstream{}, err
	}
	if !secret.Equal(secret.Hash(params.State), f.State) {
		return f, Upstream{}, ErrState
	}
	// Used once, whatever the answer.
	if err := s.cfg.Store.DeleteProofingFlow(ctx, f.ID); err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return f, Upstream{}, ErrFlowGone
		}
		return f, Upstream{}, err
	}
	if params.Error != "" {
		return f, Upstream{}, fmt.Errorf("%w: %s", proofing.ErrProviderError, params.Error)
	}
	p, ok := s.providers[f.Provider]
	if !ok {
		return f, Upstream{}, ErrUnknownProvider
	}
	claims, err := s.clients[f.Provider].Claims(ctx, params.Code, f.Verifier, f.Nonce)
	if err != nil {
		return f, Upstream{}, err
	}
	u := Upstream{Provider: f.Provider, Subject: claimString(claims, p.IdentifierClaim)}
	if u.Subject == "" {
		return f, Upstream{}, fmt.Errorf("%w %q", proofing.ErrNoIdentifier, p.IdentifierClaim)
	}
	u.ACR, _ = claims["acr"].(string)
	if list, ok := claims["amr"].([]any); ok {
		for _, v := range list {
			if s, ok := v.(string); ok && len(u.AMR) < 8 && len(s) < 32 {
				u.AMR = append(u.AMR, s)
			}
		}
	}
	u.MFA = p.TrustMFA && u.ACR == authn.ACRMFA
	return f, u, nil
}

// factors are what a federated sign-in proved.
func (s *Service) factors(u Upstream) []storage.AuthFactor {
	kind := MethodFed
	if u.MFA {
		kind = MethodFedMFA
	}
	f := authn.Factor(kind, s.cfg.Now())
	if len(u.AMR) > 0 {
		// What the home organisation says it checked (pwd, otp, …),
		// with "fed" first so applications see where it happened.
		f.AMR = append([]string{"fed"}, slices.DeleteFunc(slices.Clone(u.AMR), func(v string) bool { return v == "fed" || v == "mfa" })...)
	}
	return []storage.AuthFactor{f}
}

func claimString(m map[string]any, name string) string {
	if v, ok := m[name].(string); ok && len(v) <= 255 {
		return v
	}
	return ""
}

func newSecret() (string, string, error) {
	v, h, err := secret.New(rand.Reader)
	if err != nil {
		return "", "", fmt.Errorf("federation: %w", err)
	}
	return v, h, nil
}
