package recoverycode

import (
	"crypto/rand"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/portti/portti/internal/storage"
)

// TestGenerate: ten distinct codes of 13 base32 characters (65 bits),
// printed XXXX-XXXX-XXXXX; only their hashes are stored, and a new set
// for the same account shares nothing with the last.
func TestGenerate(t *testing.T) {
	m := New(rand.Reader)
	a := storage.Account{ID: "acct1"}
	c, codes, err := m.Generate(a, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(codes) != Count || m.Left(c) != Count {
		t.Fatalf("%d codes, %d left", len(codes), m.Left(c))
	}
	seen := map[string]bool{}
	for _, code := range codes {
		plain := strings.ReplaceAll(code, "-", "")
		if len(code) != 15 || len(plain) != codeLen || strings.Trim(plain, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") != "" || seen[code] {
			t.Errorf("code %q", code)
		}
		seen[code] = true
		if strings.Contains(string(c.Secret), plain) {
			t.Errorf("code %q stored in clear", code)
		}
	}
	var hashes []string
	if err := json.Unmarshal(c.Secret, &hashes); err != nil || len(hashes) != Count {
		t.Fatalf("stored %s: %v", c.Secret, err)
	}
	_, again, err := m.Generate(a, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, code := range again {
		if seen[code] {
			t.Errorf("code %q in both sets", code)
		}
	}
}

// TestHashBindsAccount: the same code under another account hashes to
// something else, and misread look-alikes map to the real letters.
func TestHashBindsAccount(t *testing.T) {
	if hash("a", "ABCDEFGHIJKLM") == hash("b", "ABCDEFGHIJKLM") {
		t.Error("the hash ignores the account")
	}
	if canonical.Replace("0I8") != "OIB" || canonical.Replace("1") != "I" {
		t.Error("look-alikes not mapped")
	}
	if Format("ABCDEFGHIJKLM") != "ABCD-EFGH-IJKLM" || Format("short") != "short" {
		t.Error("Format")
	}
}
