package password

import (
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"
	"golang.org/x/text/unicode/norm"
)

// fuzzHasher hashes with the smallest valid parameters and refuses stored
// parameters much above them, so fuzzing spends its time in the parser.
func fuzzHasher() *Hasher {
	h := NewHasher(Params{Memory: 8, Time: 1, Threads: 1, KeyLen: 16, SaltLen: 8})
	h.limits = limits{memory: 64, time: 2, keyLen: 64, saltLen: 64, bcryptCost: bcrypt.MinCost}
	return h
}

func addPHCSeeds(f *testing.F, add func(string)) {
	h := NewHasher(fastParams)
	enc := mustHash(f, h, "seed")
	bc, err := bcrypt.GenerateFromPassword([]byte("seed"), bcrypt.MinCost)
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{
		enc,
		refVector,
		string(bc),
		"$2y$" + string(bc[4:]),
		"",
		"$",
		"$$$$$",
		"$argon2id$v=19$m=8,t=1,p=1$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA",
		"$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHQ$",
		"$argon2id$v=19$m=4294967295,t=4294967295,p=255$c29tZXNhbHQ$c29tZXNhbHQ",
		"$argon2i$v=19$m=64,t=1,p=1$c29tZXNhbHQ$c29tZXNhbHQ",
		"$argon2id$v=16$m=64,t=1,p=1$c29tZXNhbHQ$c29tZXNhbHQ",
		"$argon2id$m=64,t=1,p=1$c29tZXNhbHQ$c29tZXNhbHQ",
		"$2a$04$" + strings.Repeat(".", 53),
		"$2b$99$" + strings.Repeat("/", 53),
	} {
		add(s)
	}
}

// FuzzParsePHC: the parser never panics, and what it accepts is in the
// one canonical form that String writes back.
func FuzzParsePHC(f *testing.F) {
	addPHCSeeds(f, func(s string) { f.Add(s) })
	f.Fuzz(func(t *testing.T, s string) {
		p, err := parsePHC(s)
		if err != nil {
			return
		}
		if got := p.String(); got != s {
			t.Errorf("parsePHC(%q).String() = %q", s, got)
		}
		if int(p.params.KeyLen) != len(p.key) || int(p.params.SaltLen) != len(p.salt) {
			t.Errorf("parsePHC(%q): params %+v do not match salt %d and key %d bytes", s, p.params, len(p.salt), len(p.key))
		}
	})
}

// FuzzVerify: Verify never panics on any stored string, never reports a
// rehash or a match together with an error, and accepts whatever Hash
// produces.
func FuzzVerify(f *testing.F) {
	addPHCSeeds(f, func(s string) { f.Add("seed", s) })
	f.Add("Äitini kesämökki", "")
	f.Add("\xff\x00", "$argon2id$v=19$m=8,t=1,p=1$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA")
	h := fuzzHasher()
	f.Fuzz(func(t *testing.T, password, encoded string) {
		ok, rehash, err := h.Verify(password, encoded)
		if err != nil && (ok || rehash) {
			t.Errorf("Verify(%q, %q) = %v, %v, %v", password, encoded, ok, rehash, err)
		}
		if rehash && !ok {
			t.Errorf("Verify(%q, %q): rehash without a match", password, encoded)
		}

		enc, err := h.Hash(password)
		if err != nil {
			t.Fatal(err)
		}
		ok, rehash, err = h.Verify(password, enc)
		if !ok || rehash || err != nil {
			t.Errorf("Verify(%q, Hash = %q) = %v, %v, %v; want true, false, nil", password, enc, ok, rehash, err)
		}
	})
}

// FuzzCheck: Check never panics, and a password a preset accepts is valid
// UTF-8 of a length within the preset's bounds.
func FuzzCheck(f *testing.F) {
	for _, s := range []string{"Abc12!", "Äitini kesämökki järven rannalla", "password1", "\xff", "a\u0308a\u0308"} {
		f.Add(s, "matti.virtanen@example.fi", "Matti")
	}
	nist := mustPolicy(f, PresetNIST)
	classes := mustPolicy(f, PresetClasses)
	f.Fuzz(func(t *testing.T, password, email, name string) {
		for _, p := range []Policy{nist, classes} {
			if vs := p.Check(password, email, name, ""); vs == nil {
				n := utf8.RuneCountInString(norm.NFC.String(password))
				if !utf8.ValidString(password) || n < p.MinLength || n > p.MaxLength {
					t.Errorf("%s accepted %q", p.Preset, password)
				}
			}
		}
	})
}
