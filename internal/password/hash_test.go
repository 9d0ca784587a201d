package password

import (
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// fastParams keep most tests quick; one test uses DefaultParams.
var fastParams = Params{Memory: 64, Time: 1, Threads: 1, KeyLen: 32, SaltLen: 16}

// refVector is from the argon2 reference implementation's tests:
// password "password", salt "somesalt", m=256 KiB, t=2, p=1.
const refVector = "$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4"

var phcPattern = regexp.MustCompile(`^\$argon2id\$v=19\$m=[0-9]+,t=[0-9]+,p=[0-9]+\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$`)

func mustHash(t testing.TB, h *Hasher, password string) string {
	t.Helper()
	enc, err := h.Hash(password)
	if err != nil {
		t.Fatalf("Hash(%q): %v", password, err)
	}
	return enc
}

func TestHashDefaultParams(t *testing.T) {
	h := NewHasher(DefaultParams)
	enc := mustHash(t, h, "correct horse battery staple")
	const prefix = "$argon2id$v=19$m=19456,t=2,p=1$"
	if !strings.HasPrefix(enc, prefix) {
		t.Fatalf("Hash = %q, want prefix %q", enc, prefix)
	}
	salt, key, _ := strings.Cut(strings.TrimPrefix(enc, prefix), "$")
	if len(salt) != 22 || len(key) != 43 { // 16 and 32 bytes, unpadded
		t.Errorf("salt %q key %q: want 22 and 43 base64 characters", salt, key)
	}
	ok, rehash, err := h.Verify("correct horse battery staple", enc)
	if !ok || rehash || err != nil {
		t.Errorf("Verify = %v, %v, %v; want true, false, nil", ok, rehash, err)
	}
}

func TestHashRoundTrip(t *testing.T) {
	h := NewHasher(fastParams)
	for _, tt := range []struct{ name, password string }{
		{"ascii", "correct horse battery staple"},
		{"empty", ""},
		{"finnish", "Äitini kesämökki järven rannalla"},
		{"emoji", "🔑🔒 avain"},
		{"long", strings.Repeat("pitkä ", 200)},
		{"dollars", "$argon2id$v=19$"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			enc := mustHash(t, h, tt.password)
			if !phcPattern.MatchString(enc) {
				t.Fatalf("Hash = %q, not a PHC string", enc)
			}
			ok, rehash, err := h.Verify(tt.password, enc)
			if !ok || rehash || err != nil {
				t.Errorf("Verify(right) = %v, %v, %v; want true, false, nil", ok, rehash, err)
			}
			ok, rehash, err = h.Verify(tt.password+"x", enc)
			if ok || rehash || err != nil {
				t.Errorf("Verify(wrong) = %v, %v, %v; want false, false, nil", ok, rehash, err)
			}
		})
	}
}

func TestHashSaltIsRandom(t *testing.T) {
	h := NewHasher(fastParams)
	if a, b := mustHash(t, h, "same"), mustHash(t, h, "same"); a == b {
		t.Errorf("two hashes of one password are equal: %q", a)
	}
}

func TestHashNormalisesNFC(t *testing.T) {
	h := NewHasher(fastParams)
	composed := "k\u00e4ytt\u00e4j\u00e4"      // "käyttäjä", precomposed ä
	decomposed := "ka\u0308ytta\u0308ja\u0308" // a + combining diaeresis
	enc := mustHash(t, h, decomposed)
	if ok, _, err := h.Verify(composed, enc); !ok || err != nil {
		t.Errorf("Verify(composed, Hash(decomposed)) = %v, %v; want true", ok, err)
	}
}

func TestVerifyReferenceVector(t *testing.T) {
	h := NewHasher(fastParams)
	ok, rehash, err := h.Verify("password", refVector)
	if !ok || !rehash || err != nil {
		t.Errorf("Verify = %v, %v, %v; want true, true, nil", ok, rehash, err)
	}
	p, err := parsePHC(refVector)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.String(); got != refVector {
		t.Errorf("String() = %q, want %q", got, refVector)
	}
	if ok, _, _ := h.Verify("Password", refVector); ok {
		t.Error("Verify accepted the wrong password")
	}
}

func TestVerifyNeedsRehash(t *testing.T) {
	enc := mustHash(t, NewHasher(fastParams), "salasana on pitkä")
	for _, tt := range []struct {
		name   string
		change func(*Params)
		want   bool
	}{
		{"same", func(*Params) {}, false},
		{"memory", func(p *Params) { p.Memory *= 2 }, true},
		{"memory lower", func(p *Params) { p.Memory /= 2 }, true},
		{"time", func(p *Params) { p.Time++ }, true},
		{"threads", func(p *Params) { p.Threads++ }, true},
		{"key length", func(p *Params) { p.KeyLen = 64 }, true},
		{"salt length", func(p *Params) { p.SaltLen = 32 }, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := fastParams
			tt.change(&p)
			ok, rehash, err := NewHasher(p).Verify("salasana on pitkä", enc)
			if !ok || err != nil || rehash != tt.want {
				t.Errorf("Verify = %v, %v, %v; want true, %v, nil", ok, rehash, err, tt.want)
			}
		})
	}
}

func TestVerifyBcrypt(t *testing.T) {
	h := NewHasher(fastParams)
	const pw = "tuotu tili 2019"
	b, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	a := string(b) // $2a$
	for _, prefix := range []string{"$2a$", "$2b$", "$2y$"} {
		enc := prefix + a[4:]
		t.Run(prefix, func(t *testing.T) {
			ok, rehash, err := h.Verify(pw, enc)
			if !ok || !rehash || err != nil {
				t.Errorf("Verify(right) = %v, %v, %v; want true, true, nil", ok, rehash, err)
			}
			ok, rehash, err = h.Verify(pw+"!", enc)
			if ok || rehash || err != nil {
				t.Errorf("Verify(wrong) = %v, %v, %v; want false, false, nil", ok, rehash, err)
			}
		})
	}

	t.Run("tampered", func(t *testing.T) {
		enc := []byte(a)
		last := len(enc) - 1
		enc[last] = map[bool]byte{true: 'b', false: 'a'}[enc[last] == 'a']
		ok, _, err := h.Verify(pw, string(enc))
		if ok || err != nil {
			t.Errorf("Verify(tampered) = %v, %v; want false, nil", ok, err)
		}
	})

	for _, tt := range []struct {
		name, enc string
		want      error
	}{
		{"cost 31", "$2a$31$" + a[7:], ErrUnsafeParams},
		{"cost 17", "$2b$17$" + a[7:], ErrUnsafeParams},
		{"cost 03", "$2a$03$" + a[7:], ErrMalformedHash},
		{"cost letters", "$2a$1x$" + a[7:], ErrMalformedHash},
		{"version 2x", "$2x$" + a[4:], ErrUnsupportedHash},
		{"version 2", "$2$04$" + a[7:], ErrMalformedHash},
		{"short", a[:59], ErrMalformedHash},
		{"long", a + "A", ErrMalformedHash},
		{"bad character", a[:30] + "#" + a[31:], ErrMalformedHash},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ok, rehash, err := h.Verify(pw, tt.enc)
			if ok || rehash || !errors.Is(err, tt.want) {
				t.Errorf("Verify(%q) = %v, %v, %v; want false, false, %v", tt.enc, ok, rehash, err, tt.want)
			}
		})
	}
}

// replaceField returns enc with its $-separated field i replaced.
func replaceField(enc string, i int, s string) string {
	f := strings.Split(enc, "$")
	f[i] = s
	return strings.Join(f, "$")
}

func TestVerifyTampered(t *testing.T) {
	h := NewHasher(fastParams)
	const pw = "Kouvola rautatieasema"
	enc := mustHash(t, h, pw)
	f := strings.Split(enc, "$")
	salt, key := f[4], f[5]
	rawKey, err := b64.DecodeString(key)
	if err != nil {
		t.Fatal(err)
	}
	flip := func(s string) string { // change the first character
		if s[0] == 'A' {
			return "B" + s[1:]
		}
		return "A" + s[1:]
	}

	// Well-formed strings that do not match: false, no error.
	for _, tt := range []struct{ name, enc string }{
		{"hash changed", replaceField(enc, 5, flip(key))},
		{"salt changed", replaceField(enc, 4, flip(salt))},
		{"time changed", replaceField(enc, 3, "m=64,t=2,p=1")},
		{"memory changed", replaceField(enc, 3, "m=128,t=1,p=1")},
		{"key shortened", replaceField(enc, 5, b64.EncodeToString(rawKey[:16]))},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ok, _, err := h.Verify(pw, tt.enc)
			if ok || err != nil {
				t.Errorf("Verify(%q) = %v, %v; want false, nil", tt.enc, ok, err)
			}
		})
	}

	// Malformed or refused strings: false and an error.
	for _, tt := range []struct {
		name, enc string
		want      error
	}{
		{"empty", "", ErrMalformedHash},
		{"plain text", "hunter2", ErrMalformedHash},
		{"only dollar", "$", ErrUnsupportedHash},
		{"scrypt", "$scrypt$ln=16,r=8,p=1$aM15713r3Xsvxbi31lqr1Q$nFNh2CVHVjNldFVKDHDlm4CbdRSCdEBsjjJxD+iCs5E", ErrUnsupportedHash},
		{"argon2i", replaceField(enc, 1, "argon2i"), ErrUnsupportedHash},
		{"argon2d", replaceField(enc, 1, "argon2d"), ErrUnsupportedHash},
		{"argon2x", replaceField(enc, 1, "argon2x"), ErrMalformedHash},
		{"version 16", replaceField(enc, 2, "v=16"), ErrUnsupportedHash},
		{"no version", strings.Replace(enc, "$v=19", "", 1), ErrMalformedHash},
		{"truncated", enc[:len(enc)-len(key)-1], ErrMalformedHash},
		{"extra field", enc + "$", ErrMalformedHash},
		{"padded salt", replaceField(enc, 4, salt+"=="), ErrMalformedHash},
		{"url alphabet", replaceField(enc, 5, strings.NewReplacer("+", "-", "/", "_").Replace(key)+"_-"), ErrMalformedHash},
		{"newline in key", replaceField(enc, 5, key[:10]+"\n"+key[10:]), ErrMalformedHash},
		{"non-canonical bits", replaceField(enc, 5, key[:len(key)-1]+"B"), ErrMalformedHash},
		{"empty salt", replaceField(enc, 4, ""), ErrMalformedHash},
		{"params reordered", replaceField(enc, 3, "t=1,m=64,p=1"), ErrMalformedHash},
		{"params missing", replaceField(enc, 3, "m=64,t=1"), ErrMalformedHash},
		{"params extra", replaceField(enc, 3, "m=64,t=1,p=1,keyid=x"), ErrMalformedHash},
		{"leading zero", replaceField(enc, 3, "m=064,t=1,p=1"), ErrMalformedHash},
		{"sign", replaceField(enc, 3, "m=+64,t=1,p=1"), ErrMalformedHash},
		{"memory overflows", replaceField(enc, 3, "m=4294967296,t=1,p=1"), ErrMalformedHash},
		{"threads over 255", replaceField(enc, 3, "m=64,t=1,p=256"), ErrMalformedHash},
		{"memory over 4 GiB", replaceField(enc, 3, "m=4194305,t=1,p=1"), ErrUnsafeParams},
		{"memory max uint32", replaceField(enc, 3, "m=4294967295,t=1,p=1"), ErrUnsafeParams},
		{"time over 100", replaceField(enc, 3, "m=64,t=101,p=1"), ErrUnsafeParams},
		{"time zero", replaceField(enc, 3, "m=64,t=0,p=1"), ErrUnsafeParams},
		{"threads zero", replaceField(enc, 3, "m=64,t=1,p=0"), ErrUnsafeParams},
		{"memory below 8p", replaceField(enc, 3, "m=15,t=1,p=2"), ErrUnsafeParams},
		{"key over 1024", replaceField(enc, 5, base64.RawStdEncoding.EncodeToString(make([]byte, 1025))), ErrUnsafeParams},
		{"key under 4", replaceField(enc, 5, "AAAA"), ErrUnsafeParams},
		{"salt under 8", replaceField(enc, 4, "AAAA"), ErrUnsafeParams},
		{"salt huge", replaceField(enc, 4, strings.Repeat("A", 8000)), ErrMalformedHash},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ok, rehash, err := h.Verify(pw, tt.enc)
			if ok || rehash || !errors.Is(err, tt.want) {
				t.Errorf("Verify(%.80q) = %v, %v, %v; want false, false, %v", tt.enc, ok, rehash, err, tt.want)
			}
		})
	}
}

func TestParamsValidate(t *testing.T) {
	for _, tt := range []struct {
		name string
		p    Params
		ok   bool
	}{
		{"default", DefaultParams, true},
		{"fast", fastParams, true},
		{"zero", Params{}, false},
		{"no time", Params{Memory: 64, Threads: 1, KeyLen: 32, SaltLen: 16}, false},
		{"no threads", Params{Memory: 64, Time: 1, KeyLen: 32, SaltLen: 16}, false},
		{"short salt", Params{Memory: 64, Time: 1, Threads: 1, KeyLen: 32, SaltLen: 7}, false},
		{"short key", Params{Memory: 64, Time: 1, Threads: 1, KeyLen: 3, SaltLen: 16}, false},
		{"huge memory", Params{Memory: maxMemory + 1, Time: 1, Threads: 1, KeyLen: 32, SaltLen: 16}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.p.Validate(); (err == nil) != tt.ok {
				t.Errorf("Validate() = %v, want ok %v", err, tt.ok)
			}
		})
	}
}

func TestNewHasherPanicsOnInvalidParams(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("NewHasher(Params{}) did not panic")
		}
	}()
	NewHasher(Params{})
}

func TestDummyVerify(t *testing.T) {
	h := NewHasher(fastParams)
	h.DummyVerify("whoever@example.com's guess")
	h.DummyVerify("second call reuses the dummy")
	// Same work as a real Verify: the dummy hash has h's parameters.
	p, err := parsePHC(h.dummy)
	if err != nil {
		t.Fatalf("dummy hash %q: %v", h.dummy, err)
	}
	if p.params != h.Params() {
		t.Errorf("dummy params %+v, want %+v", p.params, h.Params())
	}
}

func BenchmarkHash(b *testing.B) {
	h := NewHasher(DefaultParams)
	for b.Loop() {
		if _, err := h.Hash("correct horse battery staple"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	h := NewHasher(DefaultParams)
	enc := mustHash(b, h, "correct horse battery staple")
	for b.Loop() {
		if ok, _, _ := h.Verify("correct horse battery staple", enc); !ok {
			b.Fatal("Verify failed")
		}
	}
}

// TestHashSlots: hashes beyond the CPU count wait for a slot rather than
// run at once (each holds argon2's memory), and all of them finish.
func TestHashSlots(t *testing.T) {
	if cap(hashSlots) != runtime.GOMAXPROCS(0) {
		t.Fatalf("%d hash slots, want GOMAXPROCS %d", cap(hashSlots), runtime.GOMAXPROCS(0))
	}
	h := NewHasher(Params{Memory: 64, Time: 1, Threads: 1, KeyLen: 32, SaltLen: 16})
	var wg sync.WaitGroup
	errs := make(chan error, 4*cap(hashSlots))
	for range 4 * cap(hashSlots) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			enc, err := h.Hash("kesämökki järven rannalla")
			if err == nil {
				if ok, _, verr := h.Verify("kesämökki järven rannalla", enc); !ok || verr != nil {
					err = fmt.Errorf("verify: %v %v", ok, verr)
				}
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if taken := cap(hashSlots) - len(hashSlots); taken != 0 {
		t.Errorf("%d slots still taken", taken)
	}
}

// TestHashSlotsKeepBoundedMemory: the slots keep the working memory of
// ordinary hashes, but not of a stored hash with more memory than
// maxKeptMemory, which still verifies.
func TestHashSlotsKeepBoundedMemory(t *testing.T) {
	big := Params{Memory: maxKeptMemory + 8, Time: 1, Threads: 1, KeyLen: 32, SaltLen: 16}
	enc, err := NewHasher(big).Hash("iso muisti")
	if err != nil {
		t.Fatal(err)
	}
	h := NewHasher(Params{Memory: 64, Time: 1, Threads: 1, KeyLen: 32, SaltLen: 16})
	if _, err := h.Hash("pieni muisti"); err != nil {
		t.Fatal(err)
	}
	if ok, rehash, err := h.Verify("iso muisti", enc); !ok || !rehash || err != nil {
		t.Fatalf("Verify = %v, %v, %v; want true, true (other parameters), nil", ok, rehash, err)
	}
	kept := 0
	for range cap(hashSlots) {
		buf := <-hashSlots
		defer func() { hashSlots <- buf }()
		if buf.Size() > maxKeptMemory {
			t.Errorf("a slot keeps %d KiB, more than %d", buf.Size(), maxKeptMemory)
		}
		if buf.Size() > 0 {
			kept++
		}
	}
	if kept == 0 {
		t.Error("no slot kept the memory of an ordinary hash")
	}
}
