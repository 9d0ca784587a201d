package secret

import (
	"bytes"
	"crypto/rand"
	"strings"
	"testing"
)

func TestNew(t *testing.T) {
	a, ha, err := New(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	b, hb, _ := New(rand.Reader)
	if a == b || ha == hb {
		t.Fatal("two secrets are equal")
	}
	if !Plausible(a) || Hash(a) != ha || len(ha) != 64 {
		t.Fatalf("secret %q hash %q: not plausible or hash mismatch", a, ha)
	}
	if !Equal(a, a) || Equal(a, b) {
		t.Fatal("Equal is wrong")
	}
}

func TestNewFailsWithoutRandomness(t *testing.T) {
	if _, _, err := New(bytes.NewReader(make([]byte, 10))); err == nil {
		t.Fatal("short random source accepted")
	}
}

func TestPlausible(t *testing.T) {
	for _, s := range []string{"", "abc", strings.Repeat("a", 42), strings.Repeat("a", 44), strings.Repeat("a", 42) + "=", strings.Repeat("a", 42) + "/", strings.Repeat("ä", 22)} {
		if Plausible(s) {
			t.Errorf("Plausible(%q) = true", s)
		}
	}
	if !Plausible(strings.Repeat("A", 41) + "-_") {
		t.Error("URL-safe alphabet refused")
	}
}
