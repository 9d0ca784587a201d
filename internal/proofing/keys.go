package proofing

import (
	"context"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/portti/portti/internal/storage"
)

// portti's keys as a relying party. The FTN profile wants separate keys
// for signing (request objects, client assertions) and for encryption
// (the providers encrypt id_tokens to it), RSA of at least 2048 bits, and
// a JWKS the provider can fetch. They are kept like the token signing
// keys: generated on first use, the private half sealed with AES-256-GCM
// under a key derived from key_encryption_key, rotated after RotateAfter,
// and a retired key published for KeyOverlap more so that providers that
// cached the JWKS keep working.
const (
	algSig = string(jose.RS256)
	algEnc = string(jose.RSA_OAEP_256)
	useSig = "sig"
	useEnc = "enc"

	// DefaultRotateAfter is how long a key is used before a new one replaces it.
	DefaultRotateAfter = 180 * 24 * time.Hour
	// DefaultKeyOverlap is how long a replaced key stays published (and,
	// for encryption, able to decrypt).
	DefaultKeyOverlap = 14 * 24 * time.Hour
	// PublishDelay is how long a new signing key is published before it
	// signs, so that a provider holding the JWKS in its cache (served
	// with max-age one hour) learns it first. A new encryption key is
	// used at once: the old one keeps decrypting for the overlap.
	PublishDelay = 2 * time.Hour
)

const (
	sealPlain  byte = 0 // development only: no key_encryption_key
	sealAESGCM byte = 1
)

var errWrongKEK = errors.New("a strong identification key in the database cannot be decrypted: key_encryption_key is not the key it was sealed with, or the stored key was altered")

// keySealer seals private keys for storage.
type keySealer struct{ aead cipher.AEAD }

func newKeySealer(kek []byte) (*keySealer, error) {
	if len(kek) == 0 {
		return &keySealer{}, nil
	}
	key, err := hkdf.Key(sha256.New, kek, nil, "portti proofing-key seal v1", 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &keySealer{aead: aead}, nil
}

func sealAAD(kid, use string) []byte { return []byte("portti proofing key\x00" + kid + "\x00" + use) }

func (s *keySealer) seal(kid, use string, der []byte, random io.Reader) ([]byte, error) {
	if s.aead == nil {
		return append([]byte{sealPlain}, der...), nil
	}
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := io.ReadFull(random, nonce); err != nil {
		return nil, err
	}
	return s.aead.Seal(append([]byte{sealAESGCM}, nonce...), nonce, der, sealAAD(kid, use)), nil
}

func (s *keySealer) open(kid, use string, blob []byte) ([]byte, error) {
	switch {
	case len(blob) == 0:
		return nil, errors.New("empty private key")
	case blob[0] == sealPlain:
		return blob[1:], nil
	case blob[0] != sealAESGCM:
		return nil, fmt.Errorf("unknown private key format %d", blob[0])
	case s.aead == nil:
		return nil, errors.New("strong identification keys in the database are encrypted, but no key_encryption_key is configured")
	}
	n := s.aead.NonceSize()
	if len(blob) < 1+n+s.aead.Overhead() {
		return nil, errWrongKEK
	}
	der, err := s.aead.Open(nil, blob[1:1+n], blob[1+n:], sealAAD(kid, use))
	if err != nil {
		return nil, errWrongKEK
	}
	return der, nil
}

// rpKey is an opened key.
type rpKey struct {
	rec    storage.ProofingKey
	priv   *rsa.PrivateKey
	public jose.JSONWebKey
}

// Keys is the relying-party keyring every node shares through the database.
type Keys struct {
	store       storage.ProofingStorage
	sealer      *keySealer
	random      io.Reader
	now         func() time.Time
	rotateAfter time.Duration
	overlap     time.Duration
	bits        int

	mu       sync.Mutex
	keys     []*rpKey // oldest first
	loadedAt time.Time
}

// KeysConfig configures NewKeys.
type KeysConfig struct {
	Store            storage.ProofingStorage
	KeyEncryptionKey []byte
	Random           io.Reader
	Now              func() time.Time
	RotateAfter      time.Duration // 0: DefaultRotateAfter
	Overlap          time.Duration // 0: DefaultKeyOverlap
	Bits             int           // RSA size; 0: 3072
}

// NewKeys returns the keyring; keys are made on first use.
func NewKeys(cfg KeysConfig) (*Keys, error) {
	s, err := newKeySealer(cfg.KeyEncryptionKey)
	if err != nil {
		return nil, fmt.Errorf("proofing keys: %w", err)
	}
	k := &Keys{store: cfg.Store, sealer: s, random: cfg.Random, now: cfg.Now,
		rotateAfter: cfg.RotateAfter, overlap: cfg.Overlap, bits: cfg.Bits}
	if k.random == nil {
		k.random = rand.Reader
	}
	if k.now == nil {
		k.now = time.Now
	}
	if k.rotateAfter <= 0 {
		k.rotateAfter = DefaultRotateAfter
	}
	if k.overlap <= 0 {
		k.overlap = DefaultKeyOverlap
	}
	if k.bits == 0 {
		k.bits = 3072
	}
	return k, nil
}

// keyRefresh: how stale the in-memory keys may get, so a rotation made by
// another node reaches this one.
const keyRefresh = time.Minute

// current returns the keys in force, loading, creating and rotating as
// needed.
func (k *Keys) current(ctx context.Context) ([]*rpKey, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	now := k.now()
	if k.keys != nil && now.Sub(k.loadedAt) < keyRefresh && k.inUse(useSig, now) != nil && k.inUse(useEnc, now) != nil {
		return k.keys, nil
	}
	if err := k.load(ctx, now); err != nil {
		return nil, err
	}
	changed := false
	for _, use := range []string{useSig, useEnc} {
		if cur := k.newest(use); cur != nil && now.Sub(cur.rec.CreatedAt) < k.rotateAfter {
			continue
		}
		if err := k.replace(ctx, use, now); err != nil {
			return nil, err
		}
		changed = true
	}
	if changed {
		if err := k.load(ctx, now); err != nil {
			return nil, err
		}
	}
	return k.keys, nil
}

// Rotate replaces both keys now (an operator's choice, or a suspected
// leak); the old ones stay published for the overlap.
func (k *Keys) Rotate(ctx context.Context) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	now := k.now()
	if err := k.load(ctx, now); err != nil {
		return err
	}
	for _, use := range []string{useSig, useEnc} {
		if err := k.replace(ctx, use, now); err != nil {
			return err
		}
	}
	return k.load(ctx, now)
}

// replace makes a new key of use and retires the one it replaces: a
// signing key when the new one starts signing (after PublishDelay), an
// encryption key at once; either stays published for the overlap.
func (k *Keys) replace(ctx context.Context, use string, now time.Time) error {
	cur := k.newest(use)
	if err := k.generate(ctx, use, now); err != nil {
		return err
	}
	if cur == nil {
		return nil
	}
	retire := now
	if use == useSig {
		retire = now.Add(PublishDelay)
	}
	if err := k.store.RetireProofingKey(ctx, cur.rec.ID, retire, retire.Add(k.overlap)); err != nil && !errors.Is(err, storage.ErrNotFound) {
		return err
	}
	return nil
}

// newest is the newest key of use not yet retired (or retiring).
func (k *Keys) newest(use string) *rpKey {
	for i := len(k.keys) - 1; i >= 0; i-- {
		if r := k.keys[i]; r.rec.Use == use && r.rec.RetiredAt.IsZero() {
			return r
		}
	}
	return nil
}

// inUse is the key of use to sign or advertise with at now: the newest
// one not retired, except that a signing key younger than PublishDelay
// waits while an older one can still sign.
func (k *Keys) inUse(use string, now time.Time) *rpKey {
	var young *rpKey
	for i := len(k.keys) - 1; i >= 0; i-- {
		r := k.keys[i]
		if r.rec.Use != use || (!r.rec.RetiredAt.IsZero() && !r.rec.RetiredAt.After(now)) {
			continue
		}
		// A key being replaced signs until its retirement, however young.
		if use == useSig && r.rec.RetiredAt.IsZero() && now.Sub(r.rec.CreatedAt) < PublishDelay {
			if young == nil {
				young = r
			}
			continue
		}
		return r
	}
	return young
}

// KeyInfo describes a key for `portti proofing keys`.
type KeyInfo struct {
	ID, Use, Alg                    string
	CreatedAt, RetiredAt, ExpiresAt time.Time
	InUse                           bool
}

// List describes the keys still published, oldest first, making them
// first if there are none.
func (k *Keys) List(ctx context.Context) ([]KeyInfo, error) {
	keys, err := k.current(ctx)
	if err != nil {
		return nil, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	now := k.now()
	sig, enc := k.inUse(useSig, now), k.inUse(useEnc, now)
	out := make([]KeyInfo, len(keys))
	for i, r := range keys {
		out[i] = KeyInfo{ID: r.rec.ID, Use: r.rec.Use, Alg: r.rec.Alg, CreatedAt: r.rec.CreatedAt,
			RetiredAt: r.rec.RetiredAt, ExpiresAt: r.rec.ExpiresAt, InUse: r == sig || r == enc}
	}
	return out, nil
}

func (k *Keys) load(ctx context.Context, now time.Time) error {
	recs, err := k.store.ListProofingKeys(ctx)
	if err != nil {
		return fmt.Errorf("load strong identification keys: %w", err)
	}
	keys := make([]*rpKey, 0, len(recs))
	for _, rec := range recs {
		if !rec.ExpiresAt.IsZero() && !rec.ExpiresAt.After(now) {
			continue
		}
		der, err := k.sealer.open(rec.ID, rec.Use, rec.Private)
		if err != nil {
			return fmt.Errorf("strong identification key %s: %w", rec.ID, err)
		}
		parsed, err := x509.ParsePKCS8PrivateKey(der)
		if err != nil {
			return fmt.Errorf("strong identification key %s: %w", rec.ID, err)
		}
		priv, ok := parsed.(*rsa.PrivateKey)
		if !ok {
			return fmt.Errorf("strong identification key %s: not an RSA key", rec.ID)
		}
		keys = append(keys, &rpKey{rec: rec, priv: priv,
			public: jose.JSONWebKey{Key: &priv.PublicKey, KeyID: rec.ID, Algorithm: rec.Alg, Use: rec.Use}})
	}
	k.keys, k.loadedAt = keys, now
	return nil
}

func (k *Keys) generate(ctx context.Context, use string, now time.Time) error {
	priv, err := rsa.GenerateKey(k.random, k.bits)
	if err != nil {
		return fmt.Errorf("generate %s key: %w", use, err)
	}
	alg := algSig
	if use == useEnc {
		alg = algEnc
	}
	pub := jose.JSONWebKey{Key: &priv.PublicKey, Algorithm: alg, Use: use}
	tp, err := pub.Thumbprint(crypto.SHA256)
	if err != nil {
		return err
	}
	pub.KeyID = base64.RawURLEncoding.EncodeToString(tp)
	pubJSON, err := pub.MarshalJSON()
	if err != nil {
		return err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return err
	}
	sealed, err := k.sealer.seal(pub.KeyID, use, der, k.random)
	if err != nil {
		return err
	}
	return k.store.CreateProofingKey(ctx, storage.ProofingKey{
		ID: pub.KeyID, Use: use, Alg: alg, Private: sealed, Public: pubJSON, CreatedAt: now,
	})
}

// JWKS is the public keys, for /proofing/jwks.json: every key not yet
// expired, the signing and the encryption ones.
func (k *Keys) JWKS(ctx context.Context) ([]byte, error) {
	keys, err := k.current(ctx)
	if err != nil {
		return nil, err
	}
	set := jose.JSONWebKeySet{Keys: make([]jose.JSONWebKey, 0, len(keys))}
	for _, r := range keys {
		set.Keys = append(set.Keys, r.public)
	}
	return json.Marshal(set)
}

// signer returns a signer with the signing key in use, typed typ.
func (k *Keys) signer(ctx context.Context, typ string) (jose.Signer, error) {
	if _, err := k.current(ctx); err != nil {
		return nil, err
	}
	k.mu.Lock()
	key := k.inUse(useSig, k.now())
	k.mu.Unlock()
	if key == nil {
		return nil, errors.New("no strong identification signing key")
	}
	return jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key.priv, KeyID: key.rec.ID}},
		(&jose.SignerOptions{}).WithType(jose.ContentType(typ)))
}

// decryptionKeys returns the private encryption keys still published,
// newest first, with their kids.
func (k *Keys) decryptionKeys(ctx context.Context) ([]*rpKey, error) {
	keys, err := k.current(ctx)
	if err != nil {
		return nil, err
	}
	var out []*rpKey
	for i := len(keys) - 1; i >= 0; i-- {
		if keys[i].rec.Use == useEnc {
			out = append(out, keys[i])
		}
	}
	return out, nil
}
