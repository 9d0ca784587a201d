package proofing

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/portti/portti/internal/account"
	"github.com/portti/portti/internal/authn"
	"github.com/portti/portti/internal/mail"
	"github.com/portti/portti/internal/refcode"
	"github.com/portti/portti/internal/session"
	"github.com/portti/portti/internal/storage"
)

// Flow purposes.
const (
	PurposeMFAReset = "mfa_reset"
	PurposeUsername = "username"
	PurposePassword = "password"
	PurposeBind     = "bind"
)

// Audit event kinds. The identifier never appears in one; the provider's
// ID and the outcome do.
const (
	EventStarted    = "proofing.started"
	EventProven     = "proofing.proven"
	EventFailed     = "proofing.failed"
	EventMismatch   = "proofing.mismatch" // the identity is not the account's
	EventUsernames  = "proofing.usernames_shown"
	EventBound      = "proofing.identity_bound"
	EventIdentifier = "proofing.identifier_set"   // by an operator
	EventUnbound    = "proofing.identity_unbound" // by an operator
)

// FlowTTL is how long a person has from the start to the end of a flow.
const FlowTTL = 15 * time.Minute

// Starts per client address: RateLimit in RateWindow.
const (
	RateLimit  = 10
	RateWindow = 15 * time.Minute
)

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
	Keys      *Keys
	Hasher    *Hasher
	Accounts  *account.Service
	MFA       *authn.Service
	Sessions  *session.Manager
	Outbox    *mail.Outbox
	Pages     Pages
	Logger    *slog.Logger
	ClientIP  func(*http.Request) string
	Secure    bool // https: the flow cookie is Secure and __Host-
	// HTTPClient talks to the providers (tests give one that trusts
	// their TLS); nil: a client with a 15-second timeout.
	HTTPClient *http.Client
	Random     io.Reader
	Now        func() time.Time
}

// Service runs strong identification.
type Service struct {
	cfg     Config
	clients map[string]*rpClient
	order   []string
}

// New returns a Service; it talks to no provider until a person starts.
func New(cfg Config) (*Service, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Random == nil {
		cfg.Random = rand.Reader
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 15 * time.Second}
	}
	s := &Service{cfg: cfg, clients: map[string]*rpClient{}}
	for _, p := range cfg.Providers {
		if _, dup := s.clients[p.ID]; dup {
			return nil, fmt.Errorf("proofing: provider %q given twice", p.ID)
		}
		// The times in request objects and client assertions are checked
		// by the provider against its own clock: the wall clock, never
		// the injected one.
		s.clients[p.ID] = &rpClient{p: p, redirectURI: s.RedirectURI(), keys: cfg.Keys, http: cfg.HTTPClient, now: time.Now}
		s.order = append(s.order, p.ID)
	}
	return s, nil
}

// Keys is the relying-party keyring.
func (s *Service) Keys() *Keys { return s.cfg.Keys }

// Enabled reports whether any provider is configured.
func (s *Service) Enabled() bool { return s != nil && len(s.order) > 0 }

// RedirectURI is what to register with every provider.
func (s *Service) RedirectURI() string { return s.cfg.PublicURL + "/proofing/callback" }

// JWKSURI is where portti's relying-party keys are published.
func (s *Service) JWKSURI() string { return s.cfg.PublicURL + "/proofing/jwks.json" }

func (s *Service) now() time.Time { return s.cfg.Now().UTC() }

func randomString(n int) (string, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(rand.Reader, b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func hashHex(v string) string {
	sum := sha256.Sum256([]byte(v))
	return hex.EncodeToString(sum[:])
}

func (s *Service) random(n int) (string, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(s.cfg.Random, b); err != nil {
		return "", fmt.Errorf("proofing: random: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// Start is a flow about to begin.
type Start struct {
	Purpose   string
	Provider  string
	AccountID string
	Challenge string
	Return    string
	Lang      string
}

// ErrRateLimited: too many starts from one client address.
var ErrRateLimited = errors.New("proofing: too many strong identifications from this address")

// ErrUnknownProvider: the form named no configured provider.
var ErrUnknownProvider = errors.New("proofing: unknown provider")

// Begin records a new flow and returns the browser's flow secret and the
// address to send the person to.
func (s *Service) Begin(ctx context.Context, st Start, m account.Meta) (flowSecret, redirect string, err error) {
	c, ok := s.clients[st.Provider]
	if !ok {
		return "", "", ErrUnknownProvider
	}
	now := s.now()
	n, err := s.cfg.Store.CountAttempt(ctx, "proofing:ip:"+m.ClientIP, now, RateWindow)
	if err != nil {
		return "", "", err
	}
	if n > RateLimit {
		return "", "", ErrRateLimited
	}
	if _, err := s.cfg.Store.DeleteExpiredProofingFlows(ctx, now); err != nil {
		s.cfg.Logger.WarnContext(ctx, "clean-up of expired strong identification flows failed", "error", err)
	}
	var vals [4]string
	for i := range vals {
		if vals[i], err = s.random(32); err != nil {
			return "", "", err
		}
	}
	flowSecret, state, nonce, verifier := vals[0], vals[1], vals[2], vals[3]
	redirect, err = c.AuthURL(ctx, state, nonce, verifier, st.Lang)
	if err != nil {
		return "", "", err
	}
	f := storage.ProofingFlow{
		ID: hashHex(flowSecret), Purpose: st.Purpose, Provider: st.Provider, AccountID: st.AccountID,
		Challenge: st.Challenge, Return: st.Return, Lang: st.Lang,
		State: hashHex(state), Nonce: nonce, Verifier: verifier,
		CreatedAt: now, ExpiresAt: now.Add(FlowTTL),
	}
	if err := s.cfg.Store.CreateProofingFlow(ctx, f); err != nil {
		return "", "", err
	}
	s.event(ctx, m, storage.Event{Kind: EventStarted, AccountID: st.AccountID, Reason: st.Purpose + " via " + st.Provider})
	return flowSecret, redirect, nil
}

// ErrFlowGone: no flow for this browser (expired, used, never begun, or
// the callback opened in another browser).
var ErrFlowGone = errors.New("proofing: the identification has expired or was not started in this browser")

// Callback checks the provider's answer for the browser's flow and
// records what was proven. The answer's error, if any, is returned as
// ErrProviderError wrapping its code. A failure's audit event carries
// m.Ref, the reference code the person's page shows.
func (s *Service) Callback(ctx context.Context, flowSecret string, q map[string][]string, m account.Meta) (storage.ProofingFlow, error) {
	p, err := ParseCallback(q)
	if err != nil {
		return storage.ProofingFlow{}, err
	}
	f, err := s.flow(ctx, flowSecret)
	if err != nil {
		return f, err
	}
	if !f.ProvenAt.IsZero() || f.State == "" {
		return f, ErrFlowGone
	}
	// The state must be the one this browser's flow sent (RFC 6749 10.12):
	// a link that starts a callback in the victim's browser with the
	// attacker's code fails here.
	if subtle.ConstantTimeCompare([]byte(hashHex(p.State)), []byte(f.State)) != 1 {
		return f, fmt.Errorf("%w: state does not match", ErrBadAnswer)
	}
	// One answer per flow, whatever it was.
	f, err = s.cfg.Store.UpdateProofingFlow(ctx, f.ID, func(f storage.ProofingFlow) (storage.ProofingFlow, error) {
		if f.State == "" {
			return f, ErrFlowGone
		}
		f.State = ""
		return f, nil
	})
	if err != nil {
		return f, err
	}
	nonce, verifier := f.Nonce, f.Verifier
	if p.Error != "" {
		s.event(ctx, m, storage.Event{Kind: EventFailed, AccountID: f.AccountID, Reason: f.Provider + ": " + p.Error})
		return f, fmt.Errorf("%w: %s", ErrProviderError, p.Error)
	}
	c, ok := s.clients[f.Provider]
	if !ok {
		return f, ErrUnknownProvider
	}
	proven, err := c.Exchange(ctx, p.Code, verifier, nonce)
	if err != nil {
		s.event(ctx, m, storage.Event{Kind: EventFailed, AccountID: f.AccountID, Reason: f.Provider + ": " + err.Error()})
		return f, err
	}
	identity, err := s.cfg.Hasher.Hash(proven.Identifier)
	if err != nil {
		return f, fmt.Errorf("%w: %w", ErrBadAnswer, err)
	}
	f, err = s.cfg.Store.UpdateProofingFlow(ctx, f.ID, func(f storage.ProofingFlow) (storage.ProofingFlow, error) {
		f.Identity, f.GivenName, f.FamilyName = identity, clip(proven.GivenName), clip(proven.FamilyName)
		f.ProvenAt, f.Nonce, f.Verifier = s.now(), "", ""
		return f, nil
	})
	if err != nil {
		return f, err
	}
	m.Ref = "" // shown only when it failed
	s.event(ctx, m, storage.Event{Kind: EventProven, AccountID: f.AccountID, Reason: f.Purpose + " via " + f.Provider + " acr " + proven.ACR})
	return f, nil
}

func clip(s string) string {
	if len(s) > 200 {
		return s[:200]
	}
	return s
}

// flow returns the browser's flow.
func (s *Service) flow(ctx context.Context, flowSecret string) (storage.ProofingFlow, error) {
	if flowSecret == "" || len(flowSecret) > 100 {
		return storage.ProofingFlow{}, ErrFlowGone
	}
	f, err := s.cfg.Store.GetProofingFlow(ctx, hashHex(flowSecret), s.now())
	if errors.Is(err, storage.ErrNotFound) {
		return f, ErrFlowGone
	}
	return f, err
}

// Proven returns the browser's flow once its identity is proven.
func (s *Service) Proven(ctx context.Context, flowSecret string) (storage.ProofingFlow, error) {
	f, err := s.flow(ctx, flowSecret)
	if err == nil && (f.ProvenAt.IsZero() || f.Identity == "") {
		err = ErrFlowGone
	}
	return f, err
}

// End forgets a flow (its result used).
func (s *Service) End(ctx context.Context, f storage.ProofingFlow) {
	if err := s.cfg.Store.DeleteProofingFlow(ctx, f.ID); err != nil && !errors.Is(err, storage.ErrNotFound) {
		s.cfg.Logger.WarnContext(ctx, "strong identification flow not deleted", "error", err)
	}
}

// Bound lists the accounts bound to the flow's identity.
func (s *Service) Bound(ctx context.Context, f storage.ProofingFlow) ([]storage.Account, error) {
	ids, err := s.cfg.Store.AccountsWithIdentity(ctx, f.Identity)
	if err != nil {
		return nil, err
	}
	out := make([]storage.Account, 0, len(ids))
	for _, b := range ids {
		if !Same(b.Identity, f.Identity) {
			continue
		}
		a, err := s.cfg.Store.GetAccount(ctx, b.AccountID)
		if errors.Is(err, storage.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

// Matches reports whether accountID is bound to the flow's identity,
// comparing the hashes in constant time.
func (s *Service) Matches(ctx context.Context, f storage.ProofingFlow, accountID string) (bool, error) {
	if accountID == "" {
		return false, nil
	}
	b, err := s.cfg.Store.GetIdentity(ctx, accountID)
	if errors.Is(err, storage.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return Same(b.Identity, f.Identity), nil
}

// ResetMFA removes every second factor of the flow's account when its
// identity matches (authn.Service.Reset: sessions end, the owner is
// told, the reset is audited). matched is false, and nothing changes,
// otherwise.
func (s *Service) ResetMFA(ctx context.Context, f storage.ProofingFlow, m account.Meta) (a storage.Account, matched bool, err error) {
	ok, err := s.Matches(ctx, f, f.AccountID)
	if err != nil || !ok {
		if err == nil && f.AccountID != "" {
			s.event(ctx, m, storage.Event{Kind: EventMismatch, AccountID: f.AccountID, Reason: f.Purpose + " via " + f.Provider})
		}
		return a, false, err
	}
	a, err = s.cfg.Store.GetAccount(ctx, f.AccountID)
	if err != nil {
		return a, false, err
	}
	a, _, err = s.cfg.MFA.ResetProofed(ctx, a.Email, "strong identification via "+f.Provider, m)
	return a, err == nil, err
}

// SetPassword sets a new password on an account bound to the flow's
// identity, through the account rules of a reset link (policy, unlock,
// every session ended, the owner told, audited): a single-use recovery
// token is made here and used at once, never sent anywhere.
func (s *Service) SetPassword(ctx context.Context, f storage.ProofingFlow, accountID, pw, confirm string, m account.Meta) (storage.Account, error) {
	ok, err := s.Matches(ctx, f, accountID)
	if err != nil {
		return storage.Account{}, err
	}
	if !ok {
		return storage.Account{}, ErrFlowGone
	}
	a, err := s.cfg.Store.GetAccount(ctx, accountID)
	if err != nil {
		return a, err
	}
	code, err := s.random(32)
	if err != nil {
		return a, err
	}
	now := s.now()
	if err := s.cfg.Store.CreateToken(ctx, storage.Token{Hash: hashHex(code), Kind: storage.TokenRecovery,
		AccountID: a.ID, Email: a.Email, CreatedAt: now, ExpiresAt: now.Add(time.Minute)}); err != nil {
		return a, err
	}
	a, err = s.cfg.Accounts.ResetPassword(ctx, code, pw, confirm, m)
	if err != nil {
		// A refused password leaves the token unused: drop it.
		_, _ = s.cfg.Store.DeleteTokens(ctx, accountID, storage.TokenRecovery)
	}
	return a, err
}

// ErrAlreadyBound: the account holds an identity already.
var ErrAlreadyBound = errors.New("proofing: the account has an identity already")

// Bind binds the flow's identity to the signed-in account, and tells
// every other account bound to the same identity.
func (s *Service) Bind(ctx context.Context, f storage.ProofingFlow, a storage.Account, m account.Meta) error {
	if _, err := s.cfg.Store.GetIdentity(ctx, a.ID); err == nil {
		return ErrAlreadyBound
	} else if !errors.Is(err, storage.ErrNotFound) {
		return err
	}
	others, err := s.Bound(ctx, f)
	if err != nil {
		return err
	}
	now := s.now()
	return s.cfg.Store.InTx(ctx, func(tx storage.Storage) error {
		if err := tx.BindIdentity(ctx, storage.ProofedIdentity{AccountID: a.ID, Identity: f.Identity, Provider: f.Provider, BoundAt: now}); err != nil {
			return err
		}
		s.eventTx(ctx, tx, m, storage.Event{Kind: EventBound, AccountID: a.ID, Email: a.Email, Reason: "via " + f.Provider})
		for _, o := range others {
			if o.ID == a.ID || s.cfg.Outbox == nil {
				continue
			}
			msg := mail.IdentityBound{Name: displayName(o), OtherEmail: a.Email, When: now,
				ResetLink: s.cfg.PublicURL + "/password/forgot?email=" + url.QueryEscape(o.Email)}
			if err := s.cfg.Outbox.Enqueue(ctx, tx, o.Email, langOf(o, m), msg); err != nil {
				return err
			}
		}
		return nil
	})
}

// SetIdentifier is the operator's: binds identifier (hashed) to the
// account of email.
func (s *Service) SetIdentifier(ctx context.Context, email, identifier string, m account.Meta) (storage.Account, error) {
	a, err := s.cfg.Accounts.Find(ctx, email)
	if err != nil {
		return a, err
	}
	h, err := s.cfg.Hasher.Hash(identifier)
	if err != nil {
		return a, err
	}
	err = s.cfg.Store.InTx(ctx, func(tx storage.Storage) error {
		if err := tx.BindIdentity(ctx, storage.ProofedIdentity{AccountID: a.ID, Identity: h, Provider: "cli", BoundAt: s.now()}); err != nil {
			return err
		}
		s.eventTx(ctx, tx, m, storage.Event{Kind: EventIdentifier, AccountID: a.ID, Email: a.Email, Reason: "by an operator"})
		return nil
	})
	return a, err
}

// UsernamesShown audits that the addresses of accounts were shown.
func (s *Service) UsernamesShown(ctx context.Context, f storage.ProofingFlow, accounts []storage.Account, m account.Meta) {
	for _, a := range accounts {
		s.event(ctx, m, storage.Event{Kind: EventUsernames, AccountID: a.ID, Email: a.Email, Reason: "via " + f.Provider})
	}
}

func (s *Service) event(ctx context.Context, m account.Meta, e storage.Event) {
	s.eventTx(ctx, s.cfg.Store, m, e)
}

func (s *Service) eventTx(ctx context.Context, st storage.Storage, m account.Meta, e storage.Event) {
	e.Time, e.ClientIP, e.UserAgent, e.Ref = s.now(), m.ClientIP, m.UserAgent, m.Ref
	if err := st.AppendEvent(ctx, e); err != nil {
		s.cfg.Logger.ErrorContext(ctx, "audit event not recorded", "kind", e.Kind, "error", err)
	}
}

func displayName(a storage.Account) string {
	if a.GivenName != "" {
		return a.GivenName
	}
	return ""
}

func langOf(a storage.Account, m account.Meta) string {
	if a.Locale != "" {
		return a.Locale
	}
	if m.Lang != "" {
		return m.Lang
	}
	return "en"
}

// newRef is a reference code for a page that shows one.
func newRef() string { return refcode.New() }
