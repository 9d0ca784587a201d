package account

import (
	"errors"
	"strings"
	"testing"
)

func TestNormalizeEmail(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"plain", "maija@example.fi", "maija@example.fi"},
		{"case and space", "  Maija.Meikalainen@Example.FI \t", "maija.meikalainen@example.fi"},
		{"plus tag", "maija+portti@example.fi", "maija+portti@example.fi"},
		{"unicode NFC", "ma\u0308ija@esimerkki.fi", "mäija@esimerkki.fi"},
		{"idn domain", "pekka@kesämökki.fi", "pekka@kesämökki.fi"},
		{"subdomain", "a@student.jamk.fi", "a@student.jamk.fi"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := NormalizeEmail(tt.in)
			if err != nil || got != tt.want {
				t.Fatalf("NormalizeEmail(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestNormalizeEmailRejects(t *testing.T) {
	for _, in := range []string{
		"", "   ", "maija", "@example.fi", "maija@", "maija@localhost", "a@@example.fi",
		"a@b@example.fi", "Maija <maija@example.fi>", "maija@example.fi, other@example.fi",
		"maija @example.fi", "maija@exa mple.fi", "\"maija\"@example.fi", "maija@[127.0.0.1]",
		".maija@example.fi", "maija.@example.fi", "ma..ija@example.fi", "maija@-example.fi",
		"maija@example..fi", "maija@example.fi\r\nBcc: x@example.fi", "maija\x00@example.fi",
		strings.Repeat("a", 65) + "@example.fi", "a@" + strings.Repeat("b", 250) + ".fi",
		"\xff@example.fi",
	} {
		if got, err := NormalizeEmail(in); !errors.Is(err, ErrInvalidEmail) {
			t.Errorf("NormalizeEmail(%q) = %q, %v; want ErrInvalidEmail", in, got, err)
		}
	}
}

// FuzzNormalizeEmail checks the normaliser's invariants: it never panics, its
// output is a fixed point, and it never contains what could break a header.
func FuzzNormalizeEmail(f *testing.F) {
	for _, s := range []string{"maija@example.fi", " A@B.C ", "ä@ö.fi", "a\r\n@b.c", "<a@b.c>", "a@b..c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, err := NormalizeEmail(in)
		if err != nil {
			return
		}
		again, err := NormalizeEmail(out)
		if err != nil || again != out {
			t.Fatalf("not idempotent: %q -> %q -> %q, %v", in, out, again, err)
		}
		if strings.ContainsAny(out, "\r\n<>, \"") || len(out) > MaxEmailLength || strings.Count(out, "@") != 1 {
			t.Fatalf("unsafe output %q from %q", out, in)
		}
	})
}
