package accesspass

import (
	"bytes"
	"crypto/rand"
	"errors"
	"regexp"
	"testing"
)

// TestNewPass: twenty digits in groups of four, which Normalize reads
// back however the person typed the spaces; different every time.
func TestNewPass(t *testing.T) {
	shape := regexp.MustCompile(`^[0-9]{4}( [0-9]{4}){4}$`)
	seen := map[string]bool{}
	for range 200 {
		p, err := newPass(rand.Reader)
		if err != nil || !shape.MatchString(p) {
			t.Fatalf("pass %q: %v", p, err)
		}
		if seen[p] {
			t.Fatalf("pass %q made twice", p)
		}
		seen[p] = true
		n, err := Normalize(" " + p[:7] + "-" + p[7:] + " ")
		if err != nil || len(n) != Digits {
			t.Fatalf("Normalize(%q) = %q, %v", p, n, err)
		}
	}
	if _, err := newPass(bytes.NewReader(nil)); err == nil {
		t.Error("a pass without randomness")
	}
}

func TestNormalize(t *testing.T) {
	for _, bad := range []string{"", "1234", "1234 5678 9012 3456 789", "1234 5678 9012 3456 78901", "1234 5678 9012 3456 789O", "١٢٣٤٥٦٧٨٩٠١٢٣٤٥٦٧٨٩٠"} {
		if _, err := Normalize(bad); !errors.Is(err, ErrMalformed) {
			t.Errorf("Normalize(%q): %v", bad, err)
		}
	}
}

// TestHashBound: the stored hash depends on the account, so a pass is
// nothing on another account, and never the pass itself.
func TestHashBound(t *testing.T) {
	p := "12345678901234567890"
	if hash("a", p) == hash("b", p) || bytes.Contains([]byte(hash("a", p)), []byte(p)) {
		t.Fatal("the hash is not bound to the account")
	}
}
