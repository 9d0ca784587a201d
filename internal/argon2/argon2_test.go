package argon2

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"testing"
	"time"

	xargon2 "golang.org/x/crypto/argon2"
)

// params are the cost parameters of one derivation.
type params struct {
	time, memory uint32
	threads      uint8
	keyLen       uint32
}

// TestMatchesXCrypto derives keys with one reused buffer, growing and
// shrinking the memory asked of it, and compares each with x/crypto's
// (which allocates zeroed memory every time): a block left over from an
// earlier derivation would change the key.
func TestMatchesXCrypto(t *testing.T) {
	cases := []params{
		{1, 64, 1, 32},
		{2, 19 * 1024, 1, 32}, // OWASP's parameters, portti's default
		{3, 256, 4, 16},
		{1, 8, 1, 4},    // the smallest memory for one lane
		{2, 100, 3, 64}, // memory rounded down to 4×threads blocks
		{1, 1, 2, 32},   // memory raised to 2×4×threads blocks
		{2, 1024, 2, 100},
		{4, 512, 1, 1000},
		{2, 19 * 1024, 1, 32},
	}
	var buf Buffer
	for i, p := range cases {
		password := []byte(fmt.Sprintf("salasana %d", i))
		salt := []byte(fmt.Sprintf("suola-%08d", i))
		want := xargon2.IDKey(password, salt, p.time, p.memory, p.threads, p.keyLen)
		got := buf.IDKey(password, salt, p.time, p.memory, p.threads, p.keyLen)
		if !bytes.Equal(got, want) {
			t.Errorf("%+v: reused buffer gave %x, x/crypto %x", p, got, want)
		}
		if fresh := IDKey(password, salt, p.time, p.memory, p.threads, p.keyLen); !bytes.Equal(fresh, want) {
			t.Errorf("%+v: fresh buffer gave %x, x/crypto %x", p, fresh, want)
		}
	}
	if buf.Size() != 19*1024 {
		t.Errorf("buffer holds %d KiB, want the largest asked (%d)", buf.Size(), 19*1024)
	}
}

// TestKnownAnswer checks one known answer, from the reference
// implementation's argon2id test (password "password", salt "somesalt",
// t=2, m=65536, p=1), so that x/crypto and this copy cannot agree on a
// wrong answer.
func TestKnownAnswer(t *testing.T) {
	got := IDKey([]byte("password"), []byte("somesalt"), 2, 1<<16, 1, 32)
	want, _ := hex.DecodeString("09316115d5cf24ed5a15a31a3ba326e5cf32edc24702987c02b6566f61913cf7")
	if !bytes.Equal(got, want) {
		t.Fatalf("got %x, want %x", got, want)
	}
}

func TestPanicsOnZeroCosts(t *testing.T) {
	for _, p := range []params{{0, 64, 1, 32}, {1, 64, 0, 32}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%+v: no panic", p)
				}
			}()
			IDKey([]byte("pw"), []byte("saltsalt"), p.time, p.memory, p.threads, p.keyLen)
		}()
	}
}

// FuzzMatchesXCrypto compares with x/crypto on any input and small costs,
// one buffer reused across the whole run.
func FuzzMatchesXCrypto(f *testing.F) {
	f.Add([]byte("password"), []byte("somesalt"), uint8(1), uint16(64), uint8(1), uint16(32))
	f.Add([]byte(""), []byte(""), uint8(3), uint16(300), uint8(4), uint16(65))
	var buf Buffer
	f.Fuzz(func(t *testing.T, password, salt []byte, time uint8, memory uint16, threads uint8, keyLen uint16) {
		p := params{uint32(time%4) + 1, uint32(memory % 2048), threads%8 + 1, uint32(keyLen%200) + 4}
		want := xargon2.IDKey(password, salt, p.time, p.memory, p.threads, p.keyLen)
		if got := buf.IDKey(password, salt, p.time, p.memory, p.threads, p.keyLen); !bytes.Equal(got, want) {
			t.Fatalf("%+v: got %x, want %x", p, got, want)
		}
	})
}

func BenchmarkIDKey(b *testing.B) {
	password, salt := []byte("kesämökki järven rannalla"), []byte("0123456789abcdef")
	b.Run("x/crypto", func(b *testing.B) {
		for b.Loop() {
			xargon2.IDKey(password, salt, 2, 19*1024, 1, 32)
		}
	})
	b.Run("reused buffer", func(b *testing.B) {
		var buf Buffer
		for b.Loop() {
			buf.IDKey(password, salt, 2, 19*1024, 1, 32)
		}
	})
}

// TestReleaseAfter: an idle buffer gives its memory back and still
// derives the right keys afterwards; a derivation in between cancels the
// release.
func TestReleaseAfter(t *testing.T) {
	password, salt := []byte("salasana"), []byte("suolasuola")
	want := xargon2.IDKey(password, salt, 1, 256, 1, 32)
	var b Buffer
	if got := b.IDKey(password, salt, 1, 256, 1, 32); !bytes.Equal(got, want) {
		t.Fatalf("got %x, want %x", got, want)
	}
	b.ReleaseAfter(50 * time.Millisecond)
	b.IDKey(password, salt, 1, 256, 1, 32) // cancels it
	time.Sleep(150 * time.Millisecond)
	if b.Size() == 0 {
		t.Fatal("released although a derivation came before the idle time was up")
	}
	b.ReleaseAfter(10 * time.Millisecond)
	deadline := time.Now().Add(5 * time.Second)
	for b.Size() != 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if b.Size() != 0 {
		t.Fatalf("still %d KiB after the idle time", b.Size())
	}
	if got := b.IDKey(password, salt, 1, 256, 1, 32); !bytes.Equal(got, want) || b.Size() == 0 {
		t.Fatalf("after the release: %x, %d KiB", got, b.Size())
	}
}
