package proofing

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/portti/portti/internal/storage"
	"github.com/portti/portti/internal/storage/sqlstore"
)

func kek(b byte) []byte {
	k := make([]byte, 32)
	for i := range k {
		k[i] = b + byte(i)
	}
	return k
}

func TestHasher(t *testing.T) {
	h, err := NewHasher(kek(1))
	if err != nil {
		t.Fatal(err)
	}
	a, _ := h.Hash("010190-123A")
	b, _ := h.Hash("  010190-123a\t")
	if a != b || len(a) != 64 || strings.Contains(a, "010190") {
		t.Fatalf("Hash = %q and %q", a, b)
	}
	other, _ := NewHasher(kek(2))
	c, _ := other.Hash("010190-123A")
	if c == a {
		t.Fatal("two keys gave the same hash: the hash is not keyed")
	}
	if !Same(a, b) || Same(a, c) || Same("", "") {
		t.Fatal("Same")
	}
	for _, bad := range []string{"", "   ", "a\x00b", strings.Repeat("1", 300)} {
		if _, err := h.Hash(bad); !errors.Is(err, ErrBadIdentifier) {
			t.Errorf("Hash(%q) = %v, want ErrBadIdentifier", bad, err)
		}
	}
	if _, err := NewHasher(nil); !errors.Is(err, ErrNoKeyEncryptionKey) {
		t.Fatalf("NewHasher(nil) = %v", err)
	}
}

func openStore(t testing.TB) storage.Storage {
	t.Helper()
	s, err := sqlstore.Open(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestKeys: keys are made on first use, sealed (another key encryption
// key cannot open them), rotated after RotateAfter with the old ones
// published for the overlap, and a JWE to a published key opens.
func TestKeys(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	k, err := NewKeys(KeysConfig{Store: st, KeyEncryptionKey: kek(1), Now: clock, Bits: 2048, RotateAfter: 24 * time.Hour, Overlap: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	set := jwks(t, k)
	if len(set.Keys) != 2 || len(set.Key(set.Keys[0].KeyID)) != 1 {
		t.Fatalf("first JWKS: %+v", set)
	}
	for _, key := range set.Keys {
		if !key.IsPublic() {
			t.Fatal("the JWKS publishes a private key")
		}
	}
	recs, _ := st.ListProofingKeys(ctx)
	for _, r := range recs {
		if r.Private[0] != sealAESGCM {
			t.Fatalf("key %s stored unsealed", r.ID)
		}
	}
	enc := func(set jose.JSONWebKeySet) string {
		for _, key := range set.Keys {
			if key.Use == "enc" {
				e, err := jose.NewEncrypter(jose.A256GCM, jose.Recipient{Algorithm: jose.RSA_OAEP_256, Key: key.Key, KeyID: key.KeyID}, nil)
				if err != nil {
					t.Fatal(err)
				}
				obj, _ := e.Encrypt([]byte("a.b.c"))
				s, _ := obj.CompactSerialize()
				return s
			}
		}
		t.Fatal("no enc key")
		return ""
	}
	old := enc(set)
	if got, err := k.Decrypt(ctx, old); err != nil || got != "a.b.c" {
		t.Fatalf("Decrypt = %q, %v", got, err)
	}
	// Another key encryption key cannot open the stored keys.
	wrong, _ := NewKeys(KeysConfig{Store: st, KeyEncryptionKey: kek(9), Now: clock})
	if _, err := wrong.JWKS(ctx); err == nil {
		t.Fatal("keys opened under another key encryption key")
	}
	// Rotation: a day later both keys are new, the old ones still published.
	now = now.Add(25 * time.Hour)
	k.loadedAt = time.Time{}
	set2 := jwks(t, k)
	if len(set2.Keys) != 4 {
		t.Fatalf("after rotation %d keys published, want 4", len(set2.Keys))
	}
	if got, err := k.Decrypt(ctx, old); err != nil || got != "a.b.c" {
		t.Fatalf("a JWE to the retired key: %q, %v", got, err)
	}
	// The new signing key is published first and signs only after
	// PublishDelay; the old one signs meanwhile.
	oldSig := signingKID(t, k)
	if oldSig != set.Keys[0].KeyID && oldSig != set.Keys[1].KeyID {
		t.Fatalf("right after rotation, %s signs, not the old key", oldSig)
	}
	now = now.Add(PublishDelay + time.Minute)
	k.loadedAt = time.Time{}
	if newSig := signingKID(t, k); newSig == oldSig {
		t.Fatal("after the publish delay the old key still signs")
	}
	// After the overlap the old keys are gone.
	now = now.Add(2 * time.Hour)
	k.loadedAt = time.Time{}
	if set3 := jwks(t, k); len(set3.Keys) != 2 {
		t.Fatalf("after the overlap %d keys published, want 2", len(set3.Keys))
	}
	if _, err := k.Decrypt(ctx, old); err == nil {
		t.Fatal("a JWE to an expired key opened")
	}
	// A JWE to a stranger's key does not open; nor does a plain JWS.
	stranger, _ := rsa.GenerateKey(rand.Reader, 2048)
	e, _ := jose.NewEncrypter(jose.A256GCM, jose.Recipient{Algorithm: jose.RSA_OAEP, Key: &stranger.PublicKey}, nil)
	obj, _ := e.Encrypt([]byte("a.b.c"))
	s, _ := obj.CompactSerialize()
	if _, err := k.Decrypt(ctx, s); err == nil {
		t.Fatal("a JWE to another key opened")
	}
}

// signingKID is the kid of the key that signs now.
func signingKID(t *testing.T, k *Keys) string {
	t.Helper()
	signer, err := k.signer(context.Background(), "JWT")
	if err != nil {
		t.Fatal(err)
	}
	jws, err := signer.Sign([]byte("{}"))
	if err != nil {
		t.Fatal(err)
	}
	compact, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := jose.ParseSigned(compact, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatal(err)
	}
	return parsed.Signatures[0].Header.KeyID
}

func jwks(t *testing.T, k *Keys) jose.JSONWebKeySet {
	t.Helper()
	b, err := k.JWKS(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(b, &set); err != nil {
		t.Fatal(err)
	}
	return set
}

func TestParseCallback(t *testing.T) {
	for _, tc := range []struct {
		q  string
		ok bool
	}{
		{"code=c&state=s", true},
		{"error=access_denied&state=s", true},
		{"code=c", false},
		{"state=s", false},
		{"code=c&error=x&state=s", false},
		{"code=c&code=d&state=s", false},
		{"code=c%00&state=s", false},
		{"code=" + strings.Repeat("a", 3000) + "&state=s", false},
	} {
		q, _ := url.ParseQuery(tc.q)
		_, err := ParseCallback(q)
		if (err == nil) != tc.ok {
			t.Errorf("ParseCallback(%.40q) = %v, want ok %v", tc.q, err, tc.ok)
		}
	}
}

// FuzzParseCallback: any query either parses to exactly one of code and
// error with a state, all bounded and free of control characters, or is
// refused with ErrBadAnswer; it never panics.
func FuzzParseCallback(f *testing.F) {
	for _, s := range []string{"code=c&state=s", "error=access_denied&error_description=x&state=s", "state=&code=", "code=%ff&state=s"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		p, err := ParseCallback(q)
		if err != nil {
			if !errors.Is(err, ErrBadAnswer) {
				t.Fatalf("error %v is not ErrBadAnswer", err)
			}
			return
		}
		if p.State == "" || (p.Code == "") == (p.Error == "") || len(p.Code) > maxParam || len(p.State) > maxParam {
			t.Fatalf("accepted %+v", p)
		}
	})
}

// FuzzDecrypt: whatever arrives as an id_token, Decrypt never panics and
// opens only a JWE to one of portti's keys.
func FuzzDecrypt(f *testing.F) {
	st := openStore(f)
	k, err := NewKeys(KeysConfig{Store: st, KeyEncryptionKey: kek(1), Bits: 2048})
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{"a.b.c.d.e", "eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ....", "", "....."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, token string) {
		if _, err := k.Decrypt(context.Background(), token); err == nil {
			t.Fatalf("a made-up token %q opened", token)
		}
	})
}
