package authn_test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"testing"

	"github.com/portti/portti/internal/authn"
)

func TestSealer(t *testing.T) {
	kek := bytes.Repeat([]byte{7}, 32)
	s, err := authn.NewSealer(kek, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := s.Seal("totp secret\x00c1", []byte("JBSWY3DPEHPK3PXP"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("JBSWY3DPEHPK3PXP")) {
		t.Fatal("sealed value holds the secret")
	}
	if got, err := s.Open("totp secret\x00c1", sealed); err != nil || string(got) != "JBSWY3DPEHPK3PXP" {
		t.Fatalf("Open = %q, %v", got, err)
	}
	// Moved to another credential, altered, or under another key: refused.
	if _, err := s.Open("totp secret\x00c2", sealed); !errors.Is(err, authn.ErrUnseal) {
		t.Errorf("another record's AAD opened it: %v", err)
	}
	bad := bytes.Clone(sealed)
	bad[len(bad)-1] ^= 1
	if _, err := s.Open("totp secret\x00c1", bad); !errors.Is(err, authn.ErrUnseal) {
		t.Errorf("an altered value opened: %v", err)
	}
	other, _ := authn.NewSealer(bytes.Repeat([]byte{8}, 32), rand.Reader)
	if _, err := other.Open("totp secret\x00c1", sealed); !errors.Is(err, authn.ErrUnseal) {
		t.Errorf("another key opened it: %v", err)
	}
	// A clear value is refused once a key is configured (form state
	// must not be forgeable).
	plain, _ := authn.NewSealer(nil, rand.Reader)
	clear, _ := plain.Seal("x", []byte("y"))
	if _, err := s.Open("x", clear); !errors.Is(err, authn.ErrUnseal) {
		t.Errorf("a clear value opened under a key: %v", err)
	}
	if _, err := authn.NewSealer([]byte("short"), rand.Reader); err == nil {
		t.Error("a 5-byte key was accepted")
	}
	// Form state without a configured key still gets a (random) key.
	f1, _ := authn.NewFormSealer(nil, rand.Reader)
	f2, _ := authn.NewFormSealer(nil, rand.Reader)
	v, _ := f1.Seal("a", []byte("b"))
	if _, err := f2.Open("a", v); err == nil {
		t.Error("two processes' random form keys are the same")
	}
	if v[0] == 0 {
		t.Error("form state sealed in the clear without a key-encryption key")
	}
}
