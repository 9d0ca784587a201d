package authn

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
)

// Sealer encrypts credential secrets (a TOTP key) and enrolment state
// under the configured key-encryption key — the one that seals the signing
// keys — with a key derived for this use alone, and the record it belongs
// to as additional data, so a sealed secret moved to another credential
// does not open. Without a key-encryption key (development) secrets are
// stored in the clear, as the signing keys are, and portti warns at start.
type Sealer struct {
	aead   cipher.AEAD
	random io.Reader
}

const (
	sealPlain  byte = 0
	sealAESGCM byte = 1
)

// ErrUnseal means a sealed value does not open: another key, another
// record, or altered.
var ErrUnseal = errors.New("authn: sealed value does not open")

// NewSealer returns a Sealer for a 32-byte key-encryption key, or one that
// stores in the clear for an empty key.
func NewSealer(kek []byte, random io.Reader) (*Sealer, error) {
	s := &Sealer{random: random}
	if len(kek) == 0 {
		return s, nil
	}
	if len(kek) != 32 {
		return nil, fmt.Errorf("key encryption key: want 32 bytes, got %d", len(kek))
	}
	key, err := hkdf.Key(sha256.New, kek, nil, "portti credential seal v1", 32)
	if err != nil {
		return nil, fmt.Errorf("derive credential sealing key: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	if s.aead, err = cipher.NewGCM(block); err != nil {
		return nil, err
	}
	return s, nil
}

// Seal encrypts plain, bound to aad.
func (s *Sealer) Seal(aad string, plain []byte) ([]byte, error) {
	if s.aead == nil {
		return append([]byte{sealPlain}, plain...), nil
	}
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := io.ReadFull(s.random, nonce); err != nil {
		return nil, fmt.Errorf("seal: random: %w", err)
	}
	out := append([]byte{sealAESGCM}, nonce...)
	return s.aead.Seal(out, nonce, plain, []byte(aad)), nil
}

// Open decrypts what Seal made with the same aad.
func (s *Sealer) Open(aad string, blob []byte) ([]byte, error) {
	if len(blob) == 0 {
		return nil, ErrUnseal
	}
	switch blob[0] {
	case sealPlain:
		if s.aead != nil {
			// Configured to seal: a clear value is refused (for
			// enrolment state in a form, it would be forgeable).
			return nil, ErrUnseal
		}
		return blob[1:], nil
	case sealAESGCM:
		if s.aead == nil {
			return nil, ErrUnseal
		}
		n := s.aead.NonceSize()
		if len(blob) < 1+n+s.aead.Overhead() {
			return nil, ErrUnseal
		}
		out, err := s.aead.Open(nil, blob[1:1+n], blob[1+n:], []byte(aad))
		if err != nil {
			return nil, ErrUnseal
		}
		return out, nil
	}
	return nil, ErrUnseal
}

// NewFormSealer returns the Sealer for state that travels in forms
// (enrolment in progress): a key of its own derived from the
// key-encryption key, or, without one (development), a random key for
// this process — form state must never be forgeable, even in development.
func NewFormSealer(kek []byte, random io.Reader) (*Sealer, error) {
	key := make([]byte, 32)
	if len(kek) == 0 {
		if _, err := io.ReadFull(random, key); err != nil {
			return nil, fmt.Errorf("form sealing key: %w", err)
		}
	} else {
		var err error
		if key, err = hkdf.Key(sha256.New, kek, nil, "portti form state seal v1", 32); err != nil {
			return nil, fmt.Errorf("derive form sealing key: %w", err)
		}
	}
	return NewSealer(key, random)
}
