package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/portti/portti/internal/authn"
	"github.com/portti/portti/internal/secret"
	"github.com/portti/portti/internal/storage"
)

// codeTTL is how long an authorization code may wait for its exchange.
// The relying party exchanges it right away; RFC 6749 4.1.2 says at most
// ten minutes.
const codeTTL = 2 * time.Minute

// requestData is the protocol part of an authorization request, kept in
// storage.AuthRequest.Data.
type requestData struct {
	Scopes              []string `json:"scope"`
	ResponseType        string   `json:"response_type"`
	ResponseMode        string   `json:"response_mode,omitempty"`
	RedirectURI         string   `json:"redirect_uri"`
	State               string   `json:"state,omitempty"`
	Nonce               string   `json:"nonce,omitempty"`
	Prompt              []string `json:"prompt,omitempty"`
	MaxAge              *uint    `json:"max_age,omitempty"`
	LoginHint           string   `json:"login_hint,omitempty"`
	HintSubject         string   `json:"hint_sub,omitempty"` // sub of a verified id_token_hint
	UILocales           []string `json:"ui_locales,omitempty"`
	CodeChallenge       string   `json:"code_challenge,omitempty"`
	CodeChallengeMethod string   `json:"code_challenge_method,omitempty"`
	AMR                 []string `json:"amr,omitempty"` // how the person authenticated
	// Resource is the API (RFC 8707) the tokens are for; "" for the client.
	Resource  string   `json:"resource,omitempty"`
	ACR       string   `json:"acr,omitempty"` // the class of that (authn.Service.ACR)
	ACRValues []string `json:"acr_values,omitempty"`

	// What the person said on portti's pages during this request:
	// Chosen is the browser session picked on the account chooser (or
	// shown the consent page), Choose keeps the chooser up after the
	// person signed an account out on it, and ConsentFor is the account
	// that allowed the client on the consent page.
	Chosen     string `json:"chosen,omitempty"`
	Choose     bool   `json:"choose,omitempty"`
	ConsentFor string `json:"consent_for,omitempty"`

	// Exchanged is set when the code is redeemed, and ChainID names the
	// grant it started, so that a second use of the code revokes what the
	// first one issued (RFC 6749 4.1.2).
	Exchanged bool   `json:"exchanged,omitempty"`
	ChainID   string `json:"chain_id,omitempty"`
}

func (d *requestData) prompts(p string) bool { return slices.Contains(d.Prompt, p) }

// updateRequest changes the protocol data of a request that has no code
// yet; errCodeIssued when it has.
func (p *Provider) updateRequest(ctx context.Context, id string, fn func(d *requestData)) error {
	_, err := p.store.UpdateAuthRequest(ctx, id, func(r storage.AuthRequest) (storage.AuthRequest, error) {
		if r.CodeHash != "" {
			return r, errCodeIssued
		}
		a, err := decodeRequest(r)
		if err != nil {
			return r, err
		}
		fn(&a.data)
		r.Data, err = encodeData(a.data)
		return r, err
	})
	if err != nil {
		return fmt.Errorf("update auth request: %w", err)
	}
	return nil
}

// authRequest adapts a stored request to zitadel's op.AuthRequest.
type authRequest struct {
	rec  storage.AuthRequest
	data requestData
}

var _ op.AuthRequest = (*authRequest)(nil)

func (a *authRequest) GetID() string          { return a.rec.ID }
func (a *authRequest) GetACR() string         { return a.data.ACR }
func (a *authRequest) GetAMR() []string       { return a.data.AMR }
func (a *authRequest) GetAudience() []string  { return []string{a.rec.ClientID} }
func (a *authRequest) GetAuthTime() time.Time { return a.rec.AuthTime }
func (a *authRequest) GetClientID() string    { return a.rec.ClientID }
func (a *authRequest) GetCodeChallenge() *oidc.CodeChallenge {
	if a.data.CodeChallenge == "" {
		return nil
	}
	return &oidc.CodeChallenge{Challenge: a.data.CodeChallenge, Method: oidc.CodeChallengeMethod(a.data.CodeChallengeMethod)}
}
func (a *authRequest) GetNonce() string       { return a.data.Nonce }
func (a *authRequest) GetRedirectURI() string { return a.data.RedirectURI }
func (a *authRequest) GetResponseType() oidc.ResponseType {
	return oidc.ResponseType(a.data.ResponseType)
}
func (a *authRequest) GetResponseMode() oidc.ResponseMode {
	return oidc.ResponseMode(a.data.ResponseMode)
}
func (a *authRequest) GetScopes() []string { return a.data.Scopes }
func (a *authRequest) GetState() string    { return a.data.State }
func (a *authRequest) GetSubject() string  { return a.rec.AccountID }

// Done: a person has signed in for this request and no code was issued
// for it yet.
func (a *authRequest) Done() bool {
	return a.rec.AccountID != "" && a.rec.SessionID != "" && a.rec.CodeHash == ""
}

// LogValue keeps zitadel's error logs to what is not secret: never the
// state, nonce, hints or code challenge.
func (a *authRequest) LogValue() slog.Value {
	return slog.GroupValue(slog.String("client_id", a.rec.ClientID), slog.String("redirect_uri", a.data.RedirectURI))
}

func decodeRequest(rec storage.AuthRequest) (*authRequest, error) {
	a := &authRequest{rec: rec}
	if err := json.Unmarshal(rec.Data, &a.data); err != nil {
		return nil, fmt.Errorf("auth request %s: decode: %w", rec.ID, err)
	}
	return a, nil
}

func encodeData(d requestData) ([]byte, error) {
	b, err := json.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("encode auth request: %w", err)
	}
	return b, nil
}

// errRequestGone: the request does not exist or has expired. Both read the
// same to the person: the sign-in took too long, start again.
var errRequestGone = errors.New("authorization request not found or expired")

// createAuthRequest stores a validated authorization request.
func (p *Provider) createAuthRequest(ctx context.Context, req *oidc.AuthRequest, hintSubject string) (*authRequest, error) {
	// The ID travels in the browser's URLs; it is random so it cannot be
	// guessed, and the code is issued only against the browser's own
	// session (authenticate).
	id, _, err := secret.New(p.cfg.Random)
	if err != nil {
		return nil, err
	}
	now := p.now()
	d := requestData{
		Scopes: req.Scopes, ResponseType: string(req.ResponseType), ResponseMode: string(req.ResponseMode),
		RedirectURI: req.RedirectURI, State: req.State, Nonce: req.Nonce, Prompt: req.Prompt,
		MaxAge: req.MaxAge, LoginHint: req.LoginHint, HintSubject: hintSubject, ACRValues: req.ACRValues,
		CodeChallenge: req.CodeChallenge, CodeChallengeMethod: string(req.CodeChallengeMethod),
	}
	d.Resource, _ = ctx.Value(ctxResource{}).(string)
	for _, l := range req.UILocales {
		d.UILocales = append(d.UILocales, l.String())
	}
	data, err := encodeData(d)
	if err != nil {
		return nil, err
	}
	// Times with the storage's precision (microseconds, UTC), which the
	// freshness checks compare against: the request as it will be read.
	at := now.UTC().Truncate(time.Microsecond)
	rec := storage.AuthRequest{
		ID: id, ClientID: req.ClientID, Data: data,
		CreatedAt: at, ExpiresAt: at.Add(p.cfg.AuthRequestTTL),
	}
	if err := p.store.CreateAuthRequest(ctx, rec); err != nil {
		return nil, fmt.Errorf("store auth request: %w", err)
	}
	a, err := decodeRequest(rec)
	if err != nil {
		return nil, err
	}
	if h, ok := ctx.Value(createdKey{}).(*createdRequest); ok {
		h.a = a
	}
	return a, nil
}

// createdKey holds, in the context of an authorization request, a
// *createdRequest that createAuthRequest fills with the request it
// stored, so that serveAuthorize continues with it without reading it
// back.
type createdKey struct{}

type createdRequest struct{ a *authRequest }

// authRequest loads an unexpired request.
func (p *Provider) authRequest(ctx context.Context, id string) (*authRequest, error) {
	if !secret.Plausible(id) {
		return nil, errRequestGone
	}
	rec, err := p.store.GetAuthRequest(ctx, id)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, errRequestGone
	}
	if err != nil {
		return nil, fmt.Errorf("load auth request: %w", err)
	}
	if !rec.ExpiresAt.After(p.now()) {
		return nil, errRequestGone
	}
	return decodeRequest(rec)
}

// errCodeIssued: a code was already issued for the request; it is not
// issued twice.
var errCodeIssued = errors.New("a code was already issued for this authorization request")

// authenticated records that the person of browser session se signed in
// for the request, and that the session now uses the client (for
// back-channel logout), and issues the request's code. It returns the
// request as updated and the code, whose hash only is stored.
//
// One transaction for the three writes: they commit together, and a
// sign-in pays for one commit instead of three (issue 8, benchmark h).
// zitadel would save the code in a transaction of its own when it builds
// the answer (SaveAuthCode); issuedCode hands it this code instead.
func (p *Provider) authenticated(ctx context.Context, a *authRequest, se storage.Session) (*authRequest, string, error) {
	code, err := codeCrypto{random: p.cfg.Random}.Encrypt("")
	if err != nil {
		return nil, "", err
	}
	var rec storage.AuthRequest
	err = p.store.InTx(ctx, func(tx storage.Storage) error {
		var err error
		if rec, err = tx.UpdateAuthRequest(ctx, a.rec.ID, func(r storage.AuthRequest) (storage.AuthRequest, error) {
			r, err := p.markAuthenticated(r, se)
			if err != nil {
				return r, err
			}
			return p.withCode(r, code)
		}); err != nil {
			return fmt.Errorf("mark auth request authenticated: %w", err)
		}
		if err := tx.AddSessionClient(ctx, storage.SessionClient{
			SessionID: se.ID, ClientID: a.rec.ClientID, AccountID: se.AccountID, CreatedAt: p.now(),
		}); err != nil {
			return fmt.Errorf("record session client: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	done, err := decodeRequest(rec)
	return done, code, err
}

// markAuthenticated records in auth request r who signed in with session
// se and what the sign-in proved.
func (p *Provider) markAuthenticated(r storage.AuthRequest, se storage.Session) (storage.AuthRequest, error) {
	if r.CodeHash != "" {
		return r, errCodeIssued
	}
	d, err := decodeRequest(r)
	if err != nil {
		return r, err
	}
	// What the session's sign-in proved (package authn): a session
	// from before factors were recorded proved a password.
	d.data.AMR, d.data.ACR = []string{"pwd"}, ""
	authTime := se.CreatedAt
	if p.cfg.MFA != nil && len(se.Factors) > 0 {
		reg := p.cfg.MFA.Registry()
		d.data.AMR, d.data.ACR = reg.AMR(se.Factors), p.cfg.MFA.ACR(se.Factors)
		authTime = authn.FirstAt(se.Factors)
	}
	if r.Data, err = encodeData(d.data); err != nil {
		return r, err
	}
	r.AccountID, r.SessionID, r.AuthTime = se.AccountID, se.ID, authTime
	return r, nil
}

// saveCode stores the hash of a newly issued code; the code itself is
// never stored. A request gets one code, and the code lives codeTTL.
func (p *Provider) saveCode(ctx context.Context, id, code string) error {
	_, err := p.store.UpdateAuthRequest(ctx, id, func(r storage.AuthRequest) (storage.AuthRequest, error) {
		return p.withCode(r, code)
	})
	if err != nil {
		return fmt.Errorf("save code: %w", err)
	}
	return nil
}

// withCode is r with the hash of its newly issued code.
func (p *Provider) withCode(r storage.AuthRequest, code string) (storage.AuthRequest, error) {
	if r.CodeHash != "" {
		return r, errCodeIssued
	}
	if r.AccountID == "" {
		return r, errors.New("no one has signed in for this authorization request")
	}
	r.CodeHash = secret.Hash(code)
	if exp := p.now().Add(codeTTL); exp.Before(r.ExpiresAt) {
		r.ExpiresAt = exp
	}
	return r, nil
}

// issuedCode is the Authorizer zitadel builds a sign-in's answer with:
// p.op, except that the code it makes and saves is the one authenticated
// already stored with the request.
type issuedCode struct {
	op.Authorizer
	code string
}

func (i issuedCode) Crypto() op.Crypto   { return fixedCode(i.code) }
func (i issuedCode) Storage() op.Storage { return savedCode{i.Authorizer.Storage(), i.code} }

// fixedCode "encrypts" every request ID to the code already issued.
type fixedCode string

func (c fixedCode) Encrypt(string) (string, error) { return string(c), nil }
func (c fixedCode) Decrypt(string) (string, error) { return "", errors.New("not an encrypted value") }

// savedCode is op's storage, on which saving the issued code is done.
type savedCode struct {
	op.Storage
	code string
}

func (s savedCode) SaveAuthCode(ctx context.Context, id, code string) error {
	if code != s.code {
		return s.Storage.SaveAuthCode(ctx, id, code)
	}
	return nil
}
