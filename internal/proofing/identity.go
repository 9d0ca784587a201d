package proofing

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"unicode"
)

// ErrNoKeyEncryptionKey: identities are hashed with a key derived from the
// key encryption key; without one nothing can be bound or matched.
var ErrNoKeyEncryptionKey = errors.New("strong identification needs key_encryption_key (PORTTI_KEY_ENCRYPTION_KEY): registry identifiers are stored as keyed hashes under a key derived from it")

// ErrBadIdentifier: an identifier that is empty, too long or holds
// control characters.
var ErrBadIdentifier = errors.New("the identifier is empty, longer than 256 characters, or holds control characters")

// Hasher turns a registry identifier into the keyed hash stored on the
// account. A plain hash would not do: Finnish personal identity codes
// are few enough (about 10^9 plausible values) to enumerate in minutes.
// HMAC-SHA-256 under a key derived from the key encryption key (HKDF,
// its own label) makes a stolen database useless without the key.
type Hasher struct {
	key []byte
}

// NewHasher derives the hashing key from kek (32 bytes).
func NewHasher(kek []byte) (*Hasher, error) {
	if len(kek) == 0 {
		return nil, ErrNoKeyEncryptionKey
	}
	key, err := hkdf.Key(sha256.New, kek, nil, "portti registry identifier hmac v1", 32)
	if err != nil {
		return nil, fmt.Errorf("derive identifier key: %w", err)
	}
	return &Hasher{key: key}, nil
}

// Normalize is the form an identifier is hashed in: surrounding space
// removed and letters upper-cased, so that "010190-123a" typed by an
// operator matches "010190-123A" from a provider.
func Normalize(identifier string) (string, error) {
	id := strings.ToUpper(strings.TrimSpace(identifier))
	if id == "" || len(id) > 256 || strings.IndexFunc(id, unicode.IsControl) >= 0 {
		return "", ErrBadIdentifier
	}
	return id, nil
}

// Hash returns the hex HMAC of the normalised identifier.
func (h *Hasher) Hash(identifier string) (string, error) {
	id, err := Normalize(identifier)
	if err != nil {
		return "", err
	}
	m := hmac.New(sha256.New, h.key)
	m.Write([]byte(id))
	return hex.EncodeToString(m.Sum(nil)), nil
}

// Same compares two stored hashes in constant time.
func Same(a, b string) bool {
	return a != "" && hmac.Equal([]byte(a), []byte(b))
}
