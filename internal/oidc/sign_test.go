package oidc

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/asn1"
	"math/big"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
)

// TestSignES256: signES256's tokens verify with go-jose and carry the
// header go-jose makes; the same payload signs the same (RFC 6979), two
// payloads differently.
func TestSignES256(t *testing.T) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: priv, KeyID: "k1", Algorithm: "ES256"}},
		(&jose.SignerOptions{}).WithType("at+jwt"))
	if err != nil {
		t.Fatal(err)
	}
	ref, err := signer.Sign([]byte("{}"))
	if err != nil {
		t.Fatal(err)
	}
	compact, _ := ref.CompactSerialize()
	header, _, _ := strings.Cut(compact, ".")
	for i := range 200 {
		payload := []byte(`{"jti":"` + strings.Repeat("x", i) + `"}`)
		token, err := signES256(priv, header, payload)
		if err != nil {
			t.Fatal(err)
		}
		jws, err := jose.ParseSigned(token, []jose.SignatureAlgorithm{jose.ES256})
		if err != nil {
			t.Fatalf("parse: %v", err)
		}
		got, err := jws.Verify(&priv.PublicKey)
		if err != nil || string(got) != string(payload) {
			t.Fatalf("verify: %v %s", err, got)
		}
		if jws.Signatures[0].Protected.KeyID != "k1" || jws.Signatures[0].Protected.ExtraHeaders[jose.HeaderType] != "at+jwt" {
			t.Fatalf("header %+v", jws.Signatures[0].Protected)
		}
		again, _ := signES256(priv, header, payload)
		if again != token {
			t.Fatal("the same payload signed differently: not RFC 6979")
		}
	}
}

// FuzzRawSignature: rawSignature reads what encoding/asn1 reads from an
// ECDSA-Sig-Value, and refuses what does not fit 32 bytes.
func FuzzRawSignature(f *testing.F) {
	priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	for i := range 4 {
		d := sha256.Sum256([]byte{byte(i)})
		der, _ := priv.Sign(nil, d[:], nil)
		f.Add(der)
	}
	f.Add([]byte{0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x02})
	f.Fuzz(func(t *testing.T, der []byte) {
		var sig [64]byte
		ok := rawSignature(der, &sig)
		var v struct{ R, S *big.Int }
		rest, err := asn1.Unmarshal(der, &v)
		if !ok {
			return // stricter than asn1 is fine; the reverse is not
		}
		if err != nil || len(rest) != 0 {
			t.Fatalf("rawSignature accepted what asn1 refuses: %x (%v)", der, err)
		}
		if new(big.Int).SetBytes(sig[:32]).Cmp(v.R) != 0 || new(big.Int).SetBytes(sig[32:]).Cmp(v.S) != 0 {
			t.Fatalf("rawSignature(%x) = %x, asn1 reads R %x S %x", der, sig, v.R, v.S)
		}
	})
}
