// Package recoverycode is the backup method: ten single-use codes of 65
// random bits each (13 base32 characters, printed as XXXX-XXXX-XXXXX),
// shown once when the first other method is added and whenever the person
// makes a new set, usable in place of any second factor.
//
// A set is one credential whose Secret is the JSON list of the unused
// codes' hashes; using a code removes its hash in the same transaction
// that finishes the sign-in, so a code works once. 65 random bits make a
// salted SHA-256 enough: no dictionary reaches them.
package recoverycode

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/portti/portti/internal/authn"
	"github.com/portti/portti/internal/storage"
)

// Kind is the method's kind.
const Kind = "recovery"

// Count is how many codes a set has; Low is when the account page warns.
const (
	Count   = 10
	Low     = 3
	codeLen = 13
)

// Method is the recovery code method.
type Method struct{ random io.Reader }

// New returns the method.
func New(random io.Reader) *Method { return &Method{random: random} }

var (
	_ authn.CodeVerifier = (*Method)(nil)
	_ authn.Backup       = (*Method)(nil)
	_ authn.Describer    = (*Method)(nil)
)

func (*Method) Kind() string       { return Kind }
func (*Method) TitleKey() string   { return "mfa.recovery" }
func (*Method) AMR() []string      { return nil } // RFC 8176 has no value for it; "mfa" says enough
func (*Method) SecondFactor() bool { return true }
func (*Method) Passwordless() bool { return false }
func (*Method) Backup() bool       { return true }

func hash(accountID, code string) string {
	sum := sha256.Sum256([]byte("portti recovery code v1\x00" + accountID + "\x00" + code))
	return hex.EncodeToString(sum[:])
}

// Generate makes a new set for a.
func (m *Method) Generate(a storage.Account, now time.Time) (storage.Credential, []string, error) {
	var codes, hashes []string
	idb := make([]byte, 16)
	if _, err := io.ReadFull(m.random, idb); err != nil {
		return storage.Credential{}, nil, fmt.Errorf("recovery codes: random: %w", err)
	}
	for len(codes) < Count {
		b := make([]byte, 9) // 72 bits, of which the first 65 are used
		if _, err := io.ReadFull(m.random, b); err != nil {
			return storage.Credential{}, nil, fmt.Errorf("recovery codes: random: %w", err)
		}
		c := base32.StdEncoding.EncodeToString(b)[:codeLen]
		if slices.Contains(codes, Format(c)) {
			continue
		}
		codes = append(codes, Format(c))
		hashes = append(hashes, hash(a.ID, c))
	}
	secret, _ := json.Marshal(hashes)
	return storage.Credential{
		ID: "recovery_" + base64.RawURLEncoding.EncodeToString(idb), AccountID: a.ID, Kind: Kind,
		Secret: secret, Data: []byte(fmt.Sprintf(`{"total":%d}`, Count)), CreatedAt: now,
	}, codes, nil
}

// Format groups a code as it is printed: XXXX-XXXX-XXXXX.
func Format(c string) string {
	if len(c) != codeLen {
		return c
	}
	return c[:4] + "-" + c[4:8] + "-" + c[8:]
}

// canonical maps what a person may misread in a base32 code to the
// letter it stands for (the alphabet has no 0, 1 or 8).
var canonical = strings.NewReplacer("0", "O", "1", "I", "8", "B")

// VerifyCode spends one code of the set.
func (m *Method) VerifyCode(ctx context.Context, st storage.Storage, c storage.Credential, code string, now time.Time) (storage.Credential, error) {
	if len(code) != codeLen {
		return c, authn.ErrMismatch
	}
	h := hash(c.AccountID, canonical.Replace(code))
	return st.UpdateCredential(ctx, c.ID, func(c storage.Credential) (storage.Credential, error) {
		var hashes []string
		if err := json.Unmarshal(c.Secret, &hashes); err != nil {
			return c, fmt.Errorf("recovery codes %s: %w", c.ID, err)
		}
		found := -1
		for i, x := range hashes {
			if subtle.ConstantTimeCompare([]byte(x), []byte(h)) == 1 {
				found = i
			}
		}
		if found < 0 {
			return c, authn.ErrMismatch
		}
		hashes = slices.Delete(hashes, found, found+1)
		c.Secret, _ = json.Marshal(hashes)
		c.LastUsedAt = now
		return c, nil
	})
}

// Left is how many unused codes a set has.
func (*Method) Left(c storage.Credential) int {
	var hashes []string
	_ = json.Unmarshal(c.Secret, &hashes)
	return len(hashes)
}

// Describe says how many codes are left.
func (m *Method) Describe(c storage.Credential) (string, map[string]any) {
	n := m.Left(c)
	if n <= Low {
		return "mfa.recovery.few_left", map[string]any{"N": n}
	}
	return "mfa.recovery.left", map[string]any{"N": n}
}
