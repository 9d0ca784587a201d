package authn_test

import (
	"slices"
	"testing"
	"time"

	"github.com/portti/portti/internal/authn"
	"github.com/portti/portti/internal/authn/recoverycode"
	"github.com/portti/portti/internal/authn/totp"
	"github.com/portti/portti/internal/storage"
)

func registry() *authn.Registry {
	return authn.NewRegistry(totp.New(totp.Config{}), recoverycode.New(nil))
}

func TestAMRAndACR(t *testing.T) {
	r := registry()
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		name    string
		factors []storage.AuthFactor
		amr     []string
		acr     string
	}{
		{"password", []storage.AuthFactor{authn.Factor("pwd", t0)}, []string{"pwd"}, authn.ACRPassword},
		{"password and TOTP", []storage.AuthFactor{authn.Factor("pwd", t0), authn.Factor("totp", t0.Add(time.Second))}, []string{"pwd", "otp", "mfa"}, authn.ACRMFA},
		{"password and recovery code", []storage.AuthFactor{authn.Factor("pwd", t0), authn.Factor("recovery", t0)}, []string{"pwd", "mfa"}, authn.ACRMFA},
		{"a method no longer registered proves nothing", []storage.AuthFactor{authn.Factor("pwd", t0), authn.Factor("sms", t0)}, []string{"pwd"}, authn.ACRPassword},
		{"none", nil, nil, authn.ACRPassword},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := r.AMR(tc.factors); !slices.Equal(got, tc.amr) {
				t.Errorf("AMR = %v, want %v", got, tc.amr)
			}
			if got := r.ACR(tc.factors); got != tc.acr {
				t.Errorf("ACR = %v, want %v", got, tc.acr)
			}
		})
	}
}

func TestNewRegistryRefusesDuplicates(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("a kind registered twice was accepted")
		}
	}()
	authn.NewRegistry(totp.New(totp.Config{}), totp.New(totp.Config{}))
}

func TestNormalizeCode(t *testing.T) {
	for in, want := range map[string]string{
		"123456": "123456", " 123 456 ": "123456", "123-456": "123456",
		"abcd-efgh-ijklm": "ABCDEFGHIJKLM", "ABCD EFGH IJKLM": "ABCDEFGHIJKLM",
	} {
		got, err := authn.NormalizeCode(in)
		if err != nil || got != want {
			t.Errorf("NormalizeCode(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "12345", "12345é", "1234567890abcdefg", "123456\x00", string(make([]byte, 65)), "<script>"} {
		if got, err := authn.NormalizeCode(bad); err == nil {
			t.Errorf("NormalizeCode(%q) = %q, want an error", bad, got)
		}
	}
}

func TestPolicy(t *testing.T) {
	p := authn.Policy{
		RequiredDomains: []string{"*@example.fi", "*@student.example.fi", "boss@external.example.fi"},
		OptionalDomains: []string{"*@*.example.fi", "*@external.example.fi"},
	}
	for email, want := range map[string]bool{
		"a@example.fi":             true,  // *@example.fi
		"a@student.example.fi":     true,  // exact domain beats *.example.fi
		"a@external.example.fi":    false, // optional, more specific than *.example.fi
		"boss@external.example.fi": true,  // an address beats its domain
		"a@staff.example.fi":       false, // only *@*.example.fi matches
		"a@elsewhere.org":          false, // the default
		"A@STUDENT.EXAMPLE.FI":     true,
		"a@notexample.fi":          false,
	} {
		if got := p.RequiredFor(email); got != want {
			t.Errorf("RequiredFor(%s) = %v, want %v", email, got, want)
		}
	}
	p.Required = true
	if !p.RequiredFor("a@elsewhere.org") {
		t.Error("policy required: an address no pattern matches is not required")
	}
	if p.RequiredFor("a@external.example.fi") {
		t.Error("an optional domain under a required policy is required")
	}
	for _, bad := range []string{"example.fi", "*", "a*@example.fi", "*@exa*mple.fi", "*@", "@x.fi"} {
		if authn.ValidatePattern(bad) == nil {
			t.Errorf("ValidatePattern(%q) accepted", bad)
		}
	}
	for _, good := range []string{"*@example.fi", "*@*.example.fi", "boss@example.fi"} {
		if err := authn.ValidatePattern(good); err != nil {
			t.Errorf("ValidatePattern(%q): %v", good, err)
		}
	}
}

// FuzzNormalizeCode: whatever is typed, a code that comes out is 6 to 16
// upper-case letters and digits, and normalising it again changes nothing.
func FuzzNormalizeCode(f *testing.F) {
	for _, s := range []string{"123456", "abcd-efgh-ijklm", " 1 2 3 4 5 6 ", "--", "ÄÖ", "\t123456"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := authn.NormalizeCode(s)
		if err != nil {
			return
		}
		if len(got) < 6 || len(got) > 16 {
			t.Fatalf("NormalizeCode(%q) = %q: wrong length", s, got)
		}
		for _, c := range got {
			if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
				t.Fatalf("NormalizeCode(%q) = %q: bad character", s, got)
			}
		}
		if again, err := authn.NormalizeCode(got); err != nil || again != got {
			t.Fatalf("not idempotent: %q → %q → %q, %v", s, got, again, err)
		}
	})
}
