// Package passkey is the WebAuthn method: passkeys and security keys, as a
// second factor after a password and, with a discoverable credential and
// user verification, as a sign-in on their own (passwordless). The
// ceremonies are github.com/go-webauthn/webauthn's; this package decides
// what portti keeps and checks:
//
//   - The relying party is the public URL: its host is the RP ID
//     (localhost included) and its origin the only origin accepted.
//   - The user handle is the account's ID (random, no personal data), so a
//     discoverable credential names its account.
//   - A credential is a storage.Credential of kind "webauthn": Lookup is
//     the credential ID (base64url; unique), Data the public key, flags,
//     AAGUID, transports and attachment (JSON), Counter the signature
//     counter. Nothing about a passkey is secret, so Secret is empty.
//   - Challenges never live in a page only. Enrolment state is sealed in
//     the form (as TOTP's); a sign-in ceremony's state is sealed for a
//     cookie of the browser that asked, expires after five minutes, and is
//     spent in the database (a token row named by the challenge's hash)
//     in the same transaction that records the credential's use, so an
//     answer replayed, from a second tab or after a sign-in, finds it gone.
//   - Before the library verifies the signature, the answer's challenge,
//     origin, credential and account are checked here, so each mismatch
//     gets its own error (and page); a signature counter that did not grow
//     (when the authenticator counts) is a cloned or replayed key: refused.
//
// What a use proves (RFC 8176 amr), decided from the authenticator data of
// each assertion: "hwk" when the credential is not backup eligible (BE=0:
// the key cannot leave its hardware — a security key, a TPM or secure
// enclave), "swk" when it is (a synced passkey, whose key a sync service
// copies between devices in software); and "user" when the authenticator
// verified its user (UV: PIN or biometric, which it does not tell apart).
// The attachment (platform or cross-platform) is not used: a platform
// authenticator can be device-bound hardware, a cross-platform one a phone
// with synced passkeys. A passwordless sign-in always has UV, so it is two
// factors in one (possession and knowledge or inherence): amr
// ["hwk","user","mfa"] or ["swk","user","mfa"], acr the REFEDS MFA profile.
package passkey

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/portti/portti/internal/authn"
	"github.com/portti/portti/internal/storage"
)

// Kind is the method's kind.
const Kind = "webauthn"

// TokenCeremony is the kind of the token row that marks a sign-in
// ceremony's challenge as spent.
const TokenCeremony storage.TokenKind = "webauthn_ceremony"

const (
	// CeremonyTTL is how long a sign-in ceremony may take; the browser is
	// told the same as its timeout.
	CeremonyTTL = 5 * time.Minute
	enrolTTL    = 10 * time.Minute
	// MaxResponse bounds the browser's JSON answer: an assertion is well
	// under 2 KiB; an attestation with a certificate chain a few KiB.
	MaxResponse = 32 << 10
	maxState    = 8 << 10
)

var b64 = base64.RawURLEncoding

// Config configures the method.
type Config struct {
	PublicURL string        // the relying party: its host is the RP ID, its origin the only one accepted
	Product   string        // the relying party's name, which some authenticators show
	Forms     *authn.Sealer // seals enrolment and ceremony state
	Store     storage.Storage
	Random    io.Reader
	Now       func() time.Time
}

// ErrIPAddress: WebAuthn needs a domain name as the relying party ID; a
// public URL whose host is an IP address cannot have passkeys (localhost
// can).
var ErrIPAddress = errors.New("passkey: the public URL's host is an IP address; passkeys need a domain name (localhost works)")

// Method is the WebAuthn method.
type Method struct {
	cfg          Config
	wa           *webauthn.WebAuthn
	rpID, origin string
}

var (
	_ authn.Enroller = (*Method)(nil)
	_ authn.Asserter = (*Method)(nil)
)

// New returns the method for the public URL.
func New(cfg Config) (*Method, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	u, err := url.Parse(cfg.PublicURL)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, fmt.Errorf("passkey: public URL %q is not an absolute http(s) URL", cfg.PublicURL)
	}
	if _, err := netip.ParseAddr(u.Hostname()); err == nil {
		return nil, ErrIPAddress
	}
	m := &Method{cfg: cfg, rpID: u.Hostname(), origin: u.Scheme + "://" + u.Host}
	m.wa, err = webauthn.New(&webauthn.Config{
		RPID: m.rpID, RPDisplayName: cfg.Product, RPOrigins: []string{m.origin},
		Timeouts: webauthn.TimeoutsConfig{
			Login:        webauthn.TimeoutConfig{Timeout: CeremonyTTL, TimeoutUVD: CeremonyTTL},
			Registration: webauthn.TimeoutConfig{Timeout: enrolTTL, TimeoutUVD: enrolTTL},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("passkey: %w", err)
	}
	return m, nil
}

// RPID and Origin are the relying party's ID and origin.
func (m *Method) RPID() string   { return m.rpID }
func (m *Method) Origin() string { return m.origin }

func (*Method) Kind() string     { return Kind }
func (*Method) TitleKey() string { return "mfa.webauthn" }

// AMR is what a passkey proves when its factor does not say more: the
// weaker "swk". Each sign-in records the credential's own (see the
// package comment).
func (*Method) AMR() []string      { return []string{"swk"} }
func (*Method) SecondFactor() bool { return true }
func (*Method) Passwordless() bool { return true }

// user is an account as the library sees it.
type user struct {
	id          []byte
	name, shown string
	creds       []webauthn.Credential
}

func (u *user) WebAuthnID() []byte                         { return u.id }
func (u *user) WebAuthnName() string                       { return u.name }
func (u *user) WebAuthnDisplayName() string                { return u.shown }
func (u *user) WebAuthnCredentials() []webauthn.Credential { return u.creds }

// record is what Data keeps of a credential.
type record struct {
	Cred webauthn.Credential `json:"c"`
}

// Decode returns the library's credential of a stored one, with its
// signature counter.
func Decode(c storage.Credential) (webauthn.Credential, error) {
	var r record
	if err := json.Unmarshal(c.Data, &r); err != nil {
		return webauthn.Credential{}, fmt.Errorf("passkey: credential %s: %w", c.ID, err)
	}
	r.Cred.Authenticator.SignCount = uint32(c.Counter)
	return r.Cred, nil
}

// Credential returns the stored credential of a library credential, for
// account accountID; the benchmark and tests register keys with it.
func Credential(id, accountID, name string, wc webauthn.Credential, now time.Time) (storage.Credential, error) {
	wc.Attestation = webauthn.CredentialAttestation{} // the attestation is not kept: "none" is asked for
	data, err := json.Marshal(record{Cred: wc})
	if err != nil {
		return storage.Credential{}, err
	}
	return storage.Credential{
		ID: id, AccountID: accountID, Kind: Kind, Name: authn.CleanName(name),
		Lookup: b64.EncodeToString(wc.ID), Secret: []byte{}, Data: data,
		Counter: int64(wc.Authenticator.SignCount), CreatedAt: now, LastUsedAt: now,
	}, nil
}

// Describe says how the key is kept, on /account/mfa.
func (m *Method) Describe(c storage.Credential) (string, map[string]any) {
	wc, err := Decode(c)
	if err != nil {
		return "mfa.webauthn.kind.key", nil
	}
	if wc.Flags.BackupEligible {
		return "mfa.webauthn.kind.synced", nil
	}
	return "mfa.webauthn.kind.key", nil
}

// --- enrolment

type pending struct {
	ID      string               `json:"id"`
	Account string               `json:"acc"`
	Session webauthn.SessionData `json:"s"`
	Options string               `json:"o"`
	Expires int64                `json:"exp"`
}

func pendingAAD(accountID string) string { return "webauthn enrolment\x00" + accountID }

const ceremonyAAD = "webauthn ceremony"

func (m *Method) accountUser(a storage.Account) *user {
	shown := a.GivenName
	if shown == "" {
		shown = a.Email
	}
	return &user{id: []byte(a.ID), name: a.Email, shown: shown}
}

// Begin starts registering a passkey for account a: the options for
// navigator.credentials.create in the page, the state sealed in the form.
// The account's passkeys are excluded (an authenticator that already holds
// one says so instead of making a second).
func (m *Method) Begin(ctx context.Context, a storage.Account) (authn.Enrolment, error) {
	u := m.accountUser(a)
	var exclude []protocol.CredentialDescriptor
	if m.cfg.Store != nil {
		creds, err := m.cfg.Store.ListCredentials(ctx, a.ID)
		if err != nil {
			return authn.Enrolment{}, err
		}
		for _, c := range creds {
			if wc, err := Decode(c); c.Kind == Kind && err == nil {
				exclude = append(exclude, wc.Descriptor())
			}
		}
	}
	creation, session, err := m.wa.BeginRegistration(u,
		webauthn.WithAuthenticatorSelection(protocol.AuthenticatorSelection{
			// Preferred, not required: an older security key without
			// room for discoverable credentials still works as a
			// second factor (not for passwordless sign-in).
			ResidentKey:      protocol.ResidentKeyRequirementPreferred,
			UserVerification: protocol.VerificationPreferred,
		}),
		webauthn.WithConveyancePreference(protocol.PreferNoAttestation),
		webauthn.WithExclusions(exclude),
	)
	if err != nil {
		return authn.Enrolment{}, fmt.Errorf("passkey: begin registration: %w", err)
	}
	opts, err := json.Marshal(creation)
	if err != nil {
		return authn.Enrolment{}, err
	}
	idb := make([]byte, 16)
	if _, err := io.ReadFull(m.cfg.Random, idb); err != nil {
		return authn.Enrolment{}, fmt.Errorf("passkey: random: %w", err)
	}
	p := pending{
		ID: "wa_" + b64.EncodeToString(idb), Account: a.ID, Session: *session,
		Options: string(opts), Expires: m.cfg.Now().Add(enrolTTL).Unix(),
	}
	state, err := m.seal(pendingAAD(a.ID), p)
	if err != nil {
		return authn.Enrolment{}, err
	}
	return authn.Enrolment{Template: "mfa_webauthn", Pending: state, Data: map[string]any{"Options": p.Options}}, nil
}

// Refresh shows an enrolment in progress again (after an error), with the
// same options.
func (m *Method) Refresh(a storage.Account, state string) (authn.Enrolment, error) {
	var p pending
	if err := m.open(pendingAAD(a.ID), state, &p); err != nil || p.Account != a.ID || m.cfg.Now().Unix() > p.Expires {
		return authn.Enrolment{}, authn.ErrPendingInvalid
	}
	return authn.Enrolment{Template: "mfa_webauthn", Pending: state, Data: map[string]any{"Options": p.Options}}, nil
}

// Finish checks the browser's answer (form field "response", the
// PublicKeyCredential's JSON) and returns the credential, named by the
// form's "name".
func (m *Method) Finish(ctx context.Context, a storage.Account, state string, form url.Values, now time.Time) (storage.Credential, error) {
	var p pending
	if err := m.open(pendingAAD(a.ID), state, &p); err != nil || p.Account != a.ID || now.Unix() > p.Expires {
		return storage.Credential{}, authn.ErrPendingInvalid
	}
	resp := form.Get("response")
	if resp == "" {
		return storage.Credential{}, authn.ErrMalformed
	}
	parsed, err := ParseRegistration([]byte(resp))
	if err != nil {
		return storage.Credential{}, err
	}
	cd := parsed.Response.CollectedClientData
	switch {
	case cd.Challenge != p.Session.Challenge:
		return storage.Credential{}, authn.ErrWrongChallenge
	case !sameOrigin(cd.Origin, m.origin):
		return storage.Credential{}, authn.ErrWrongOrigin
	}
	wc, err := m.wa.CreateCredential(m.accountUser(a), p.Session, parsed)
	if err != nil {
		return storage.Credential{}, authn.ErrAssertionInvalid
	}
	return Credential(p.ID, a.ID, form.Get("name"), *wc, now)
}

// --- sign-in

type ceremony struct {
	Account string               `json:"acc"` // "" for passwordless
	Session webauthn.SessionData `json:"s"`
	Expires int64                `json:"exp"`
}

// BeginAssertion starts a sign-in ceremony (see authn.Asserter).
func (m *Method) BeginAssertion(ctx context.Context, accountID string, creds []storage.Credential) (authn.Ceremony, error) {
	var (
		assertion *protocol.CredentialAssertion
		session   *webauthn.SessionData
		err       error
	)
	if accountID == "" {
		assertion, session, err = m.wa.BeginDiscoverableLogin(webauthn.WithUserVerification(protocol.VerificationRequired))
	} else {
		u := &user{id: []byte(accountID)}
		for _, c := range creds {
			wc, err := Decode(c)
			if err != nil {
				return authn.Ceremony{}, err
			}
			u.creds = append(u.creds, wc)
		}
		// A second factor after a password: presence is enough; a
		// security key is not made to ask for its PIN as well.
		assertion, session, err = m.wa.BeginLogin(u, webauthn.WithUserVerification(protocol.VerificationDiscouraged))
	}
	if err != nil {
		return authn.Ceremony{}, fmt.Errorf("passkey: begin sign-in: %w", err)
	}
	opts, err := json.Marshal(assertion)
	if err != nil {
		return authn.Ceremony{}, err
	}
	exp := m.cfg.Now().Add(CeremonyTTL)
	state, err := m.seal(ceremonyAAD, ceremony{Account: accountID, Session: *session, Expires: exp.Unix()})
	if err != nil {
		return authn.Ceremony{}, err
	}
	return authn.Ceremony{Options: opts, State: state, Expires: exp}, nil
}

// ParseRegistration parses the browser's answer to a registration (the
// enrolment form's `response`); fuzzed like ParseAssertion.
func ParseRegistration(response []byte) (*protocol.ParsedCredentialCreationData, error) {
	if len(response) == 0 || len(response) > MaxResponse {
		return nil, authn.ErrAssertionInvalid
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(response)
	if err != nil {
		return nil, authn.ErrAssertionInvalid
	}
	return parsed, nil
}

// ParseAssertion parses the browser's answer to a sign-in ceremony; every
// request body passes here first (and it is fuzzed).
func ParseAssertion(response []byte) (*protocol.ParsedCredentialAssertionData, error) {
	if len(response) == 0 || len(response) > MaxResponse {
		return nil, authn.ErrAssertionInvalid
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(response)
	if err != nil {
		return nil, authn.ErrAssertionInvalid
	}
	return parsed, nil
}

// VerifyAssertion checks an answer with reads only; what it returns
// records the use (see authn.Asserter).
func (m *Method) VerifyAssertion(ctx context.Context, st storage.Storage, state string, response []byte, accountID string, now time.Time) (authn.Asserted, error) {
	var c ceremony
	if err := m.open(ceremonyAAD, state, &c); err != nil || now.Unix() > c.Expires || c.Account != accountID {
		return authn.Asserted{}, authn.ErrCeremonyGone
	}
	parsed, err := ParseAssertion(response)
	if err != nil {
		return authn.Asserted{}, err
	}
	cd := parsed.Response.CollectedClientData
	switch {
	case cd.Challenge != c.Session.Challenge:
		return authn.Asserted{}, authn.ErrWrongChallenge
	case !sameOrigin(cd.Origin, m.origin):
		return authn.Asserted{}, authn.ErrWrongOrigin
	}
	rec, err := st.GetCredentialByLookup(ctx, Kind, b64.EncodeToString(parsed.RawID))
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return authn.Asserted{}, authn.ErrUnknownCredential
	case err != nil:
		return authn.Asserted{}, err
	}
	handle := parsed.Response.UserHandle
	if (accountID != "" && rec.AccountID != accountID) || (len(handle) > 0 && !bytes.Equal(handle, []byte(rec.AccountID))) {
		return authn.Asserted{Credential: storage.Credential{AccountID: rec.AccountID}}, authn.ErrOtherAccount
	}
	flags := parsed.Response.AuthenticatorData.Flags
	if c.Session.UserVerification == protocol.VerificationRequired && !flags.HasUserVerified() {
		return authn.Asserted{Credential: storage.Credential{AccountID: rec.AccountID}}, authn.ErrUserNotVerified
	}
	wc, err := Decode(rec)
	if err != nil {
		return authn.Asserted{}, err
	}
	u := &user{id: []byte(rec.AccountID), creds: []webauthn.Credential{wc}}
	var got *webauthn.Credential
	if accountID == "" {
		_, got, err = m.wa.ValidatePasskeyLogin(func(_, _ []byte) (webauthn.User, error) { return u, nil }, c.Session, parsed)
	} else {
		got, err = m.wa.ValidateLogin(u, c.Session, parsed)
	}
	if err != nil {
		return authn.Asserted{Credential: storage.Credential{AccountID: rec.AccountID}}, authn.ErrAssertionInvalid
	}
	if got.Authenticator.CloneWarning {
		return authn.Asserted{Credential: storage.Credential{AccountID: rec.AccountID}}, authn.ErrReplayed
	}
	count := int64(parsed.Response.AuthenticatorData.Counter)
	amr := []string{"hwk"}
	if flags.HasBackupEligible() {
		amr = []string{"swk"}
	}
	if flags.HasUserVerified() {
		amr = append(amr, "user")
	}
	data, err := json.Marshal(record{Cred: stripped(*got)})
	if err != nil {
		return authn.Asserted{}, err
	}
	challenge, expires := c.Session.Challenge, time.Unix(c.Expires, 0)
	return authn.Asserted{Credential: rec, AMR: amr, Record: func(ctx context.Context, tx storage.Storage) error {
		// Spend the ceremony: a second answer to it (replayed, or
		// from another tab) finds the row and is refused.
		err := tx.CreateToken(ctx, storage.Token{
			Hash: spentHash(challenge), Kind: TokenCeremony, AccountID: rec.AccountID,
			CreatedAt: now, ExpiresAt: expires, UsedAt: now,
		})
		if errors.Is(err, storage.ErrConflict) {
			return authn.ErrCeremonyGone
		} else if err != nil {
			return err
		}
		_, err = tx.UpdateCredential(ctx, rec.ID, func(x storage.Credential) (storage.Credential, error) {
			// Checked again on the row as it is now: a concurrent
			// sign-in with the same counter value is a replay too.
			if (count != 0 || x.Counter != 0) && count <= x.Counter {
				return x, authn.ErrReplayed
			}
			x.Counter, x.LastUsedAt, x.Data = count, now, data
			return x, nil
		})
		if errors.Is(err, storage.ErrNotFound) {
			return authn.ErrUnknownCredential // removed meanwhile
		}
		return err
	}}, nil
}

func stripped(wc webauthn.Credential) webauthn.Credential {
	wc.Attestation = webauthn.CredentialAttestation{}
	wc.Authenticator.CloneWarning = false
	return wc
}

// spentHash names a spent ceremony's token row.
func spentHash(challenge string) string {
	h := sha256.Sum256([]byte("webauthn ceremony\x00" + challenge))
	return hex.EncodeToString(h[:])
}

// sameOrigin compares origins as the library does: scheme and host
// without regard to case.
func sameOrigin(got, want string) bool {
	return strings.EqualFold(got, want)
}

func (m *Method) seal(aad string, v any) (string, error) {
	js, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	sealed, err := m.cfg.Forms.Seal(aad, js)
	if err != nil {
		return "", err
	}
	return b64.EncodeToString(sealed), nil
}

func (m *Method) open(aad, state string, v any) error {
	if state == "" || len(state) > maxState {
		return authn.ErrPendingInvalid
	}
	blob, err := b64.DecodeString(state)
	if err != nil {
		return authn.ErrPendingInvalid
	}
	js, err := m.cfg.Forms.Open(aad, blob)
	if err != nil || json.Unmarshal(js, v) != nil {
		return authn.ErrPendingInvalid
	}
	return nil
}
