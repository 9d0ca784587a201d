// Package totp is the authenticator-app method (RFC 6238 time-based
// one-time passwords, as Microsoft and Google Authenticator make them):
// 160-bit secrets, SHA-1, six digits, 30-second steps, the neighbouring
// step on either side accepted for clock skew, and a step once accepted
// never accepted again (the credential's Counter is the last step used).
//
// Enrolment shows the secret as a QR code drawn on the server (a PNG in a
// data: URI, no script), as base32 text and as the otpauth:// URI. The
// secret lives only in the sealed enrolment state in the form until one
// code proves the app has it; then it is stored sealed under the
// key-encryption key, bound to the credential's ID.
package totp

import (
	"context"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
	qrcode "github.com/skip2/go-qrcode"

	"github.com/portti/portti/internal/authn"
	"github.com/portti/portti/internal/storage"
)

// Kind is the method's kind.
const Kind = "totp"

const (
	period     = 30
	digits     = 6
	skewSteps  = 1
	enrolTTL   = 15 * time.Minute
	maxNameLen = 64
)

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// Config configures the method.
type Config struct {
	Issuer  string        // shown in the app beside the account (the product name)
	Secrets *authn.Sealer // seals stored secrets (the key-encryption key)
	Forms   *authn.Sealer // seals enrolment state in forms
	Random  io.Reader
	Now     func() time.Time
}

// Method is the TOTP method.
type Method struct{ cfg Config }

// New returns the method.
func New(cfg Config) *Method {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Method{cfg: cfg}
}

var (
	_ authn.CodeVerifier = (*Method)(nil)
	_ authn.Enroller     = (*Method)(nil)
)

func (*Method) Kind() string       { return Kind }
func (*Method) TitleKey() string   { return "mfa.totp" }
func (*Method) AMR() []string      { return []string{"otp"} }
func (*Method) SecondFactor() bool { return true }
func (*Method) Passwordless() bool { return false }

// pending is the enrolment state carried sealed in the form.
type pending struct {
	ID      string `json:"id"`
	Account string `json:"acc"`
	Secret  string `json:"s"` // base32
	Expires int64  `json:"exp"`
}

func pendingAAD(accountID string) string { return "totp enrolment\x00" + accountID }
func secretAAD(id string) string         { return "totp secret\x00" + id }

// Begin makes a new secret and the page that shows it.
func (m *Method) Begin(ctx context.Context, a storage.Account) (authn.Enrolment, error) {
	raw := make([]byte, 20)
	idb := make([]byte, 16)
	if _, err := io.ReadFull(m.cfg.Random, raw); err != nil {
		return authn.Enrolment{}, fmt.Errorf("totp: random: %w", err)
	}
	if _, err := io.ReadFull(m.cfg.Random, idb); err != nil {
		return authn.Enrolment{}, fmt.Errorf("totp: random: %w", err)
	}
	p := pending{
		ID: "totp_" + base64.RawURLEncoding.EncodeToString(idb), Account: a.ID,
		Secret: b32.EncodeToString(raw), Expires: m.cfg.Now().Add(enrolTTL).Unix(),
	}
	state, err := m.seal(p)
	if err != nil {
		return authn.Enrolment{}, err
	}
	uri := KeyURI(m.cfg.Issuer, a.Email, p.Secret)
	png, err := qrcode.Encode(uri, qrcode.Medium, 240)
	if err != nil {
		return authn.Enrolment{}, fmt.Errorf("totp: QR code: %w", err)
	}
	return authn.Enrolment{
		Template: "mfa_totp",
		Pending:  state,
		Data: map[string]any{
			"Secret":        p.Secret,
			"SecretGrouped": group(p.Secret),
			"URI":           uri,
			"QR":            qrURL(png),
		},
	}, nil
}

// Refresh re-creates the page of an enrolment in progress from its state
// (after a wrong code), so the person keeps the secret already scanned.
func (m *Method) Refresh(a storage.Account, state string) (authn.Enrolment, error) {
	p, err := m.open(a, state, m.cfg.Now())
	if err != nil {
		return authn.Enrolment{}, err
	}
	uri := KeyURI(m.cfg.Issuer, a.Email, p.Secret)
	png, err := qrcode.Encode(uri, qrcode.Medium, 240)
	if err != nil {
		return authn.Enrolment{}, err
	}
	return authn.Enrolment{Template: "mfa_totp", Pending: state, Data: map[string]any{
		"Secret": p.Secret, "SecretGrouped": group(p.Secret), "URI": uri,
		"QR": qrURL(png),
	}}, nil
}

// qrURL is the QR code's PNG as a data: URI, marked safe for an img src:
// made here from bytes portti drew, never from input.
func qrURL(png []byte) template.URL {
	return template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(png))
}

// KeyURI is the otpauth:// URI of a secret (Google Authenticator's Key
// URI format), which the QR code holds.
func KeyURI(issuer, account, secret string) string {
	q := url.Values{}
	q.Set("secret", secret)
	q.Set("issuer", issuer)
	q.Set("algorithm", "SHA1")
	q.Set("digits", fmt.Sprint(digits))
	q.Set("period", fmt.Sprint(period))
	label := url.PathEscape(issuer) + ":" + url.PathEscape(account)
	return "otpauth://totp/" + label + "?" + q.Encode()
}

// group writes a base32 secret in groups of four for reading aloud.
func group(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i += 4 {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(s[i:min(i+4, len(s))])
	}
	return b.String()
}

func (m *Method) seal(p pending) (string, error) {
	js, err := json.Marshal(p)
	if err != nil {
		return "", err
	}
	sealed, err := m.cfg.Forms.Seal(pendingAAD(p.Account), js)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(sealed), nil
}

func (m *Method) open(a storage.Account, state string, now time.Time) (pending, error) {
	var p pending
	if len(state) > 1024 {
		return p, authn.ErrPendingInvalid
	}
	blob, err := base64.RawURLEncoding.DecodeString(state)
	if err != nil {
		return p, authn.ErrPendingInvalid
	}
	js, err := m.cfg.Forms.Open(pendingAAD(a.ID), blob)
	if err != nil || json.Unmarshal(js, &p) != nil || p.Account != a.ID || now.Unix() > p.Expires {
		return p, authn.ErrPendingInvalid
	}
	return p, nil
}

// Finish checks the first code from the app and returns the credential.
func (m *Method) Finish(ctx context.Context, a storage.Account, state string, form url.Values, now time.Time) (storage.Credential, error) {
	p, err := m.open(a, state, now)
	if err != nil {
		return storage.Credential{}, err
	}
	code, err := authn.NormalizeCode(form.Get("code"))
	if err != nil {
		return storage.Credential{}, err
	}
	raw, err := b32.DecodeString(p.Secret)
	if err != nil {
		return storage.Credential{}, authn.ErrPendingInvalid
	}
	step, ok := match(raw, code, now)
	if !ok {
		return storage.Credential{}, authn.ErrMismatch
	}
	sealed, err := m.cfg.Secrets.Seal(secretAAD(p.ID), raw)
	if err != nil {
		return storage.Credential{}, err
	}
	return storage.Credential{
		ID: p.ID, AccountID: a.ID, Kind: Kind, Name: CleanName(form.Get("name")),
		Secret: sealed, Data: []byte(`{"digits":6,"period":30,"algorithm":"SHA1"}`),
		Counter: step, CreatedAt: now, LastUsedAt: now,
	}, nil
}

// CleanName keeps a person's name for a credential printable and short.
func CleanName(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	var b strings.Builder
	for _, r := range s {
		if r < ' ' || r == 0x7f || !utf8.ValidRune(r) {
			continue
		}
		if b.Len()+utf8.RuneLen(r) > maxNameLen {
			break
		}
		b.WriteRune(r)
	}
	return b.String()
}

// match finds the time step of now (or a neighbour) whose code is code.
// Every candidate is compared, in constant time, whatever matched first.
func match(secret []byte, code string, now time.Time) (int64, bool) {
	if len(code) != digits {
		return 0, false
	}
	key := b32.EncodeToString(secret)
	cur := now.Unix() / period
	var found int64
	ok := false
	for step := cur - skewSteps; step <= cur+skewSteps; step++ {
		want, err := hotp.GenerateCodeCustom(key, uint64(step), hotp.ValidateOpts{Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
		if err != nil {
			return 0, false
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 && !ok {
			found, ok = step, true
		}
	}
	return found, ok
}

// VerifyCode checks a code against a stored TOTP credential and moves its
// replay guard to the step used.
func (m *Method) VerifyCode(ctx context.Context, st storage.Storage, c storage.Credential, code string, now time.Time) (storage.Credential, error) {
	if len(code) != digits {
		return c, authn.ErrMismatch
	}
	raw, err := m.cfg.Secrets.Open(secretAAD(c.ID), c.Secret)
	if err != nil {
		return c, fmt.Errorf("totp: credential %s: %w", c.ID, err)
	}
	step, ok := match(raw, code, now)
	if !ok {
		return c, authn.ErrMismatch
	}
	if step <= c.Counter {
		return c, authn.ErrReplayed
	}
	return st.UpdateCredential(ctx, c.ID, func(c storage.Credential) (storage.Credential, error) {
		if step <= c.Counter {
			return c, authn.ErrReplayed // another sign-in used it meanwhile
		}
		c.Counter, c.LastUsedAt = step, now
		return c, nil
	})
}
