package oidc

import (
	"bytes"
	"context"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/elliptic"
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
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/portti/portti/internal/storage"
)

// The signing algorithms portti uses: RS256 for id_tokens (the OpenID
// Connect default, so every relying party can verify them), ES256 for
// access tokens and for clients that ask for it (a P-256 signature costs
// ~30 µs against ~1 ms for RSA-2048).
const (
	algRS256 = string(jose.RS256)
	algES256 = string(jose.ES256)
)

var signingAlgs = []string{algRS256, algES256}

// Sealed private key formats: the first byte of storage.SigningKey.Private.
const (
	// sealPlain: PKCS#8 DER in the clear. Written only when no
	// key_encryption_key is configured (development).
	sealPlain byte = 0
	// sealAESGCM: 12-byte nonce, then AES-256-GCM ciphertext and tag of the
	// PKCS#8 DER, under a key derived from key_encryption_key with HKDF.
	sealAESGCM byte = 1
)

// Errors opening a sealed key. Neither names the key material.
var (
	errSealedNoKEK = errors.New("signing keys in the database are encrypted, but no key_encryption_key (PORTTI_KEY_ENCRYPTION_KEY) is configured")
	errWrongKEK    = errors.New("a signing key in the database cannot be decrypted: key_encryption_key (PORTTI_KEY_ENCRYPTION_KEY) is not the key it was sealed with, or the stored key was altered")
)

// sealer encrypts private keys for storage. A nil aead means no key
// encryption key is configured: keys are stored in the clear.
type sealer struct {
	aead   cipher.AEAD
	random io.Reader
}

func newSealer(kek []byte, random io.Reader) (*sealer, error) {
	s := &sealer{random: random}
	if len(kek) == 0 {
		return s, nil
	}
	if len(kek) != 32 {
		return nil, fmt.Errorf("key encryption key: want 32 bytes, got %d", len(kek))
	}
	// A derived key rather than the configured bytes themselves, so that
	// the same configuration secret can later seal other things under
	// other labels without two uses ever sharing a key.
	key, err := hkdf.Key(sha256.New, kek, nil, "portti signing-key seal v1", 32)
	if err != nil {
		return nil, fmt.Errorf("derive sealing key: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("sealing cipher: %w", err)
	}
	s.aead, err = cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("sealing cipher: %w", err)
	}
	return s, nil
}

// encrypted reports whether new keys are sealed.
func (s *sealer) encrypted() bool { return s.aead != nil }

// sealAAD binds a sealed key to its record: a ciphertext moved to another
// kid or algorithm does not open.
func sealAAD(kid, alg string) []byte {
	return []byte("portti signing key\x00" + kid + "\x00" + alg)
}

func (s *sealer) seal(kid, alg string, der []byte) ([]byte, error) {
	if s.aead == nil {
		return append([]byte{sealPlain}, der...), nil
	}
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := io.ReadFull(s.random, nonce); err != nil {
		return nil, fmt.Errorf("seal: random: %w", err)
	}
	out := append([]byte{sealAESGCM}, nonce...)
	return s.aead.Seal(out, nonce, der, sealAAD(kid, alg)), nil
}

// open returns the PKCS#8 DER of a sealed key, and whether it was stored
// in the clear.
func (s *sealer) open(kid, alg string, blob []byte) (der []byte, plain bool, err error) {
	if len(blob) == 0 {
		return nil, false, errors.New("empty private key")
	}
	switch blob[0] {
	case sealPlain:
		return blob[1:], true, nil
	case sealAESGCM:
		if s.aead == nil {
			return nil, false, errSealedNoKEK
		}
		n := s.aead.NonceSize()
		if len(blob) < 1+n+s.aead.Overhead() {
			return nil, false, errWrongKEK
		}
		der, err := s.aead.Open(nil, blob[1:1+n], blob[1+n:], sealAAD(kid, alg))
		if err != nil {
			return nil, false, errWrongKEK
		}
		return der, false, nil
	}
	return nil, false, fmt.Errorf("unknown private key format %d", blob[0])
}

// signingKey is a stored key, opened and ready to sign and verify.
type signingKey struct {
	rec     storage.SigningKey
	public  jose.JSONWebKey // what JWKS publishes
	priv    crypto.Signer
	signers map[string]jose.Signer // by typ; jose signers are safe for concurrent use
	plain   bool                   // stored unencrypted
	// ES256 keys sign without go-jose (signES256): ec is the key, and
	// headers the base64url protected header go-jose makes for each typ.
	ec      *ecdsa.PrivateKey
	headers map[string]string
}

func (k *signingKey) id() string  { return k.rec.ID }
func (k *signingKey) alg() string { return k.rec.Alg }

// signs reports whether k may sign at t: its SignFrom has come and it has
// not been retired.
func (k *signingKey) signs(t time.Time) bool {
	return !k.rec.SignFrom.After(t) && (k.rec.RetiredAt.IsZero() || k.rec.RetiredAt.After(t))
}

// published reports whether k belongs in the JWKS at t: from its creation
// (before it signs, so that caches learn it first) until its ExpiresAt,
// when every token it signed has expired.
func (k *signingKey) published(t time.Time) bool {
	return k.rec.ExpiresAt.IsZero() || k.rec.ExpiresAt.After(t)
}

// JWT types portti signs: id_tokens ("JWT"), access tokens (RFC 9068
// "at+jwt") and back-channel logout tokens ("logout+jwt"). A signer per
// type is made once per key: making one costs more than an ES256 signature.
var jwtTypes = []string{"JWT", "at+jwt", "logout+jwt"}

// sign signs payload as a compact JWS whose header has typ.
func (k *signingKey) sign(payload []byte, typ string) (string, error) {
	if h, ok := k.headers[typ]; ok && k.ec != nil {
		return signES256(k.ec, h, payload)
	}
	signer, ok := k.signers[typ]
	if !ok {
		return "", fmt.Errorf("sign: unsupported typ %q", typ)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("sign with key %s: %w", k.id(), err)
	}
	return jws.CompactSerialize()
}

// generateKey makes a new key of alg, sealed for storage.
func generateKey(alg string, s *sealer, random io.Reader, now, signFrom time.Time) (storage.SigningKey, error) {
	var priv crypto.Signer
	var err error
	switch alg {
	case algRS256:
		priv, err = rsa.GenerateKey(random, 2048)
	case algES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), random)
	default:
		return storage.SigningKey{}, fmt.Errorf("unsupported signing algorithm %q", alg)
	}
	if err != nil {
		return storage.SigningKey{}, fmt.Errorf("generate %s key: %w", alg, err)
	}
	pub := jose.JSONWebKey{Key: priv.Public(), Algorithm: alg, Use: "sig"}
	// The kid is the key's RFC 7638 thumbprint: unique, and the same for
	// the same key on every node.
	tp, err := pub.Thumbprint(crypto.SHA256)
	if err != nil {
		return storage.SigningKey{}, fmt.Errorf("thumbprint: %w", err)
	}
	pub.KeyID = base64.RawURLEncoding.EncodeToString(tp)
	pubJSON, err := pub.MarshalJSON()
	if err != nil {
		return storage.SigningKey{}, fmt.Errorf("public key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return storage.SigningKey{}, fmt.Errorf("private key: %w", err)
	}
	sealed, err := s.seal(pub.KeyID, alg, der)
	if err != nil {
		return storage.SigningKey{}, err
	}
	return storage.SigningKey{
		ID: pub.KeyID, Alg: alg, Private: sealed, Public: pubJSON,
		CreatedAt: now, SignFrom: signFrom,
	}, nil
}

// openKey turns a stored record into a usable key.
func openKey(rec storage.SigningKey, s *sealer) (*signingKey, error) {
	if !slices.Contains(signingAlgs, rec.Alg) {
		return nil, fmt.Errorf("signing key %s: unsupported algorithm %q", rec.ID, rec.Alg)
	}
	der, plain, err := s.open(rec.ID, rec.Alg, rec.Private)
	if err != nil {
		return nil, fmt.Errorf("signing key %s: %w", rec.ID, err)
	}
	parsed, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("signing key %s: parse: %w", rec.ID, err)
	}
	priv, ok := parsed.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("signing key %s: not a signing key", rec.ID)
	}
	switch p := priv.(type) {
	case *rsa.PrivateKey:
		if rec.Alg != algRS256 {
			return nil, fmt.Errorf("signing key %s: RSA key stored as %s", rec.ID, rec.Alg)
		}
	case *ecdsa.PrivateKey:
		if rec.Alg != algES256 || p.Curve != elliptic.P256() {
			return nil, fmt.Errorf("signing key %s: EC key stored as %s", rec.ID, rec.Alg)
		}
	default:
		return nil, fmt.Errorf("signing key %s: unsupported key type %T", rec.ID, priv)
	}
	// The published half is derived from the private key, not read from
	// the Public column: a tampered public JWK cannot make portti publish
	// a key it does not hold. The stored JWK must agree, though.
	pub := jose.JSONWebKey{Key: priv.Public(), KeyID: rec.ID, Algorithm: rec.Alg, Use: "sig"}
	if len(rec.Public) > 0 {
		var stored jose.JSONWebKey
		if err := stored.UnmarshalJSON(rec.Public); err != nil {
			return nil, fmt.Errorf("signing key %s: public JWK: %w", rec.ID, err)
		}
		a, _ := stored.Thumbprint(crypto.SHA256)
		b, _ := pub.Thumbprint(crypto.SHA256)
		if !bytes.Equal(a, b) {
			return nil, fmt.Errorf("signing key %s: stored public key does not match the private key", rec.ID)
		}
	}
	k := &signingKey{rec: rec, public: pub, priv: priv, plain: plain, signers: map[string]jose.Signer{}}
	for _, typ := range jwtTypes {
		signer, err := jose.NewSigner(jose.SigningKey{
			Algorithm: jose.SignatureAlgorithm(rec.Alg),
			Key:       jose.JSONWebKey{Key: priv, KeyID: rec.ID, Algorithm: rec.Alg},
		}, (&jose.SignerOptions{}).WithType(jose.ContentType(typ)))
		if err != nil {
			return nil, fmt.Errorf("signing key %s: signer: %w", rec.ID, err)
		}
		k.signers[typ] = signer
	}
	if ec, ok := priv.(*ecdsa.PrivateKey); ok && rec.Alg == algES256 {
		// The header of each typ, taken from go-jose itself, so that the
		// tokens are the same as its, byte for byte but the signature.
		k.ec, k.headers = ec, map[string]string{}
		for typ, signer := range k.signers {
			jws, err := signer.Sign([]byte("{}"))
			if err != nil {
				return nil, fmt.Errorf("signing key %s: signer: %w", rec.ID, err)
			}
			compact, err := jws.CompactSerialize()
			if err != nil {
				return nil, fmt.Errorf("signing key %s: signer: %w", rec.ID, err)
			}
			k.headers[typ], _, _ = strings.Cut(compact, ".")
		}
	}
	return k, nil
}

// signES256 makes a compact JWS (RFC 7515 7.1) of payload under the
// base64url protected header: ECDSA P-256 with SHA-256 over
// "header.payload", the signature as R and S of 32 bytes each (RFC 7518
// 3.4). It is what go-jose does, without its per-call header marshalling
// and copies: the client_credentials grant signs once per request, and
// this was a fifth of its cost beyond the signature itself.
//
// The nonce is derived deterministically (RFC 6979, crypto/ecdsa with a
// nil random source): no randomness to fail, and about a fifth less CPU
// than crypto/ecdsa's hedged nonce, whose SHA-512 DRBG is set up anew for
// every signature. Every payload differs (jti, iat), so no two signatures
// share a nonce.
func signES256(key *ecdsa.PrivateKey, header string, payload []byte) (string, error) {
	enc := base64.RawURLEncoding
	buf := make([]byte, 0, len(header)+1+enc.EncodedLen(len(payload))+1+enc.EncodedLen(64))
	buf = append(buf, header...)
	buf = append(buf, '.')
	buf = enc.AppendEncode(buf, payload)
	digest := sha256.Sum256(buf)
	der, err := key.Sign(nil, digest[:], crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("sign ES256: %w", err)
	}
	var sig [64]byte
	if !rawSignature(der, &sig) {
		return "", errors.New("sign ES256: malformed signature")
	}
	buf = append(buf, '.')
	buf = enc.AppendEncode(buf, sig[:])
	return string(buf), nil
}

// rawSignature puts the R and S of an ASN.1 ECDSA-Sig-Value (SEQUENCE of
// two INTEGERs) for P-256 into sig, 32 bytes each, big-endian.
func rawSignature(der []byte, sig *[64]byte) bool {
	var seq, r, s cryptobyte.String
	in := cryptobyte.String(der)
	if !in.ReadASN1(&seq, cbasn1.SEQUENCE) || !in.Empty() ||
		!seq.ReadASN1(&r, cbasn1.INTEGER) || !seq.ReadASN1(&s, cbasn1.INTEGER) || !seq.Empty() {
		return false
	}
	for i, n := range []cryptobyte.String{r, s} {
		// Positive, minimally encoded (DER): a leading zero only before
		// a high bit.
		switch {
		case len(n) == 0 || n[0]&0x80 != 0:
			return false
		case n[0] == 0:
			if len(n) == 1 || n[1]&0x80 == 0 {
				return false
			}
			n = n[1:]
		}
		if len(n) > 32 {
			return false
		}
		copy(sig[i*32+32-len(n):(i+1)*32], n)
	}
	return true
}

// keyring is the in-memory view of the signing keys every node shares
// through the database. It is reloaded every keyRefresh and when a token
// names a kid it does not know, so a rotation made by one node (or by the
// CLI) reaches all of them long before the new key starts signing.
type keyring struct {
	store        storage.OIDCStorage
	sealer       *sealer
	random       io.Reader
	now          func() time.Time
	log          *slog.Logger
	publishDelay time.Duration
	maxTokenTTL  time.Duration

	mu       sync.RWMutex
	keys     []*signingKey // oldest first, as ListSigningKeys returns them
	loadedAt time.Time
	lastMiss time.Time // last reload caused by an unknown kid
	jwks     *document // serialised JWKS of the keys in jwksIDs
	jwksIDs  string

	reloading atomic.Bool
}

// keyRefresh is how stale the keyring may get before a request reloads
// it; missReload rate-limits reloads caused by unknown kids, which anyone
// can send.
const (
	keyRefresh = 30 * time.Second
	missReload = 5 * time.Second
)

// reload reads every key from the database.
func (kr *keyring) reload(ctx context.Context) error {
	recs, err := kr.store.ListSigningKeys(ctx)
	if err != nil {
		return fmt.Errorf("load signing keys: %w", err)
	}
	now := kr.now()
	keys := make([]*signingKey, 0, len(recs))
	for _, rec := range recs {
		if !rec.ExpiresAt.IsZero() && !rec.ExpiresAt.After(now) {
			// Out of JWKS and never signing again: not even opened, so an
			// old key sealed differently cannot stop a start.
			continue
		}
		k, err := openKey(rec, kr.sealer)
		if err != nil {
			return err
		}
		keys = append(keys, k)
	}
	kr.mu.Lock()
	kr.keys = keys
	kr.loadedAt = now
	kr.mu.Unlock()
	return nil
}

// refresh reloads the keyring when it is older than keyRefresh. One
// request does it while the others go on with the keys they have.
func (kr *keyring) refresh(ctx context.Context) {
	kr.mu.RLock()
	stale := kr.now().Sub(kr.loadedAt) > keyRefresh
	kr.mu.RUnlock()
	if !stale || !kr.reloading.CompareAndSwap(false, true) {
		return
	}
	defer kr.reloading.Store(false)
	if err := kr.reload(ctx); err != nil {
		kr.log.ErrorContext(ctx, "oidc: reloading signing keys failed; using the keys already loaded", "error", err)
	}
}

// ensure makes sure an RS256 and an ES256 key can sign now, creating them
// on first start. Keys made here sign at once: no token has been signed
// before, so no cache is waiting to learn them.
func (kr *keyring) ensure(ctx context.Context) error {
	if err := kr.reload(ctx); err != nil {
		return err
	}
	now := kr.now()
	created := false
	for _, alg := range signingAlgs {
		if kr.current(alg, now) != nil {
			continue
		}
		rec, err := generateKey(alg, kr.sealer, kr.random, now, now)
		if err != nil {
			return err
		}
		if err := kr.store.CreateSigningKey(ctx, rec); err != nil {
			return fmt.Errorf("store %s signing key: %w", alg, err)
		}
		kr.log.InfoContext(ctx, "oidc: created a signing key", "kid", rec.ID, "alg", alg, "encrypted", kr.sealer.encrypted())
		created = true
	}
	if created {
		return kr.reload(ctx)
	}
	return nil
}

// current returns the key that signs alg at t: the newest (by SignFrom,
// then creation, then kid) whose SignFrom has come and which is not
// retired. Every node picks the same one from the same rows, even when two
// nodes created keys at the same first start.
func (kr *keyring) current(alg string, t time.Time) *signingKey {
	kr.mu.RLock()
	defer kr.mu.RUnlock()
	var best *signingKey
	for _, k := range kr.keys {
		if k.alg() != alg || !k.signs(t) {
			continue
		}
		if best == nil || newer(k, best) {
			best = k
		}
	}
	return best
}

func newer(a, b *signingKey) bool {
	if !a.rec.SignFrom.Equal(b.rec.SignFrom) {
		return a.rec.SignFrom.After(b.rec.SignFrom)
	}
	if !a.rec.CreatedAt.Equal(b.rec.CreatedAt) {
		return a.rec.CreatedAt.After(b.rec.CreatedAt)
	}
	return a.rec.ID > b.rec.ID
}

// signer returns the key to sign with now.
func (kr *keyring) signer(ctx context.Context, alg string) (*signingKey, error) {
	kr.refresh(ctx)
	if k := kr.current(alg, kr.now()); k != nil {
		return k, nil
	}
	// Every key of alg retired or not yet valid: a reload may know more.
	if err := kr.reload(ctx); err != nil {
		return nil, err
	}
	if k := kr.current(alg, kr.now()); k != nil {
		return k, nil
	}
	return nil, fmt.Errorf("no %s signing key is valid now (run `portti keys rotate`)", alg)
}

// lookup returns the published key with kid, reloading once (at most every
// missReload) when it is unknown: another node may have just rotated.
func (kr *keyring) lookup(ctx context.Context, kid string) *signingKey {
	kr.refresh(ctx)
	if k := kr.find(kid); k != nil {
		return k
	}
	now := kr.now()
	kr.mu.Lock()
	if now.Sub(kr.lastMiss) < missReload {
		kr.mu.Unlock()
		return nil
	}
	kr.lastMiss = now
	kr.mu.Unlock()
	if err := kr.reload(ctx); err != nil {
		kr.log.ErrorContext(ctx, "oidc: reloading signing keys failed", "error", err)
		return nil
	}
	return kr.find(kid)
}

func (kr *keyring) find(kid string) *signingKey {
	now := kr.now()
	kr.mu.RLock()
	defer kr.mu.RUnlock()
	for _, k := range kr.keys {
		if k.id() == kid && k.published(now) {
			return k
		}
	}
	return nil
}

// published returns the keys JWKS lists now, oldest first.
func (kr *keyring) published() []*signingKey {
	now := kr.now()
	kr.mu.RLock()
	defer kr.mu.RUnlock()
	var out []*signingKey
	for _, k := range kr.keys {
		if k.published(now) {
			out = append(out, k)
		}
	}
	return out
}

// jwksDocument returns the JWKS, serialised once per change of the
// published set (a rotation, or a key reaching its ExpiresAt).
func (kr *keyring) jwksDocument(ctx context.Context) (*document, error) {
	kr.refresh(ctx)
	keys := kr.published()
	ids := make([]string, len(keys))
	for i, k := range keys {
		ids[i] = k.id()
	}
	set := strings.Join(ids, " ")
	kr.mu.RLock()
	doc, cached := kr.jwks, kr.jwksIDs
	kr.mu.RUnlock()
	if doc != nil && cached == set {
		return doc, nil
	}
	jwks := jose.JSONWebKeySet{Keys: make([]jose.JSONWebKey, len(keys))}
	for i, k := range keys {
		jwks.Keys[i] = k.public
	}
	body, err := json.Marshal(jwks)
	if err != nil {
		return nil, fmt.Errorf("serialise JWKS: %w", err)
	}
	doc = newDocument(body)
	kr.mu.Lock()
	kr.jwks, kr.jwksIDs = doc, set
	kr.mu.Unlock()
	return doc, nil
}

// rotate creates a new key of every algorithm that starts signing after
// the publish delay, and retires the keys signing now at that same moment.
// A retired key stays in JWKS until every token it can have signed has
// expired.
func (kr *keyring) rotate(ctx context.Context) ([]storage.SigningKey, error) {
	if err := kr.reload(ctx); err != nil {
		return nil, err
	}
	now := kr.now()
	signFrom := now.Add(kr.publishDelay)
	var created []storage.SigningKey
	for _, alg := range signingAlgs {
		rec, err := generateKey(alg, kr.sealer, kr.random, now, signFrom)
		if err != nil {
			return created, err
		}
		if err := kr.store.CreateSigningKey(ctx, rec); err != nil {
			return created, fmt.Errorf("store %s signing key: %w", alg, err)
		}
		created = append(created, rec)
	}
	kr.mu.RLock()
	keys := slices.Clone(kr.keys)
	kr.mu.RUnlock()
	for _, k := range keys {
		_, err := kr.store.UpdateSigningKey(ctx, k.id(), func(rec storage.SigningKey) (storage.SigningKey, error) {
			// Keys already retired before the new ones start keep their
			// (earlier) retirement.
			if !rec.RetiredAt.IsZero() && !rec.RetiredAt.After(signFrom) {
				return rec, nil
			}
			rec.RetiredAt = signFrom
			rec.ExpiresAt = signFrom.Add(kr.maxTokenTTL)
			return rec, nil
		})
		if err != nil {
			return created, fmt.Errorf("retire signing key %s: %w", k.id(), err)
		}
	}
	return created, kr.reload(ctx)
}

// WarnUnsealedKeys logs a warning when the signing keys are stored
// unencrypted (no key_encryption_key), or some of them are (stored before
// it was set). The server calls it once at start; operator commands do
// not, so that their output is their answer and the warning is said where
// it can be acted on, in the server's log.
func (p *Provider) WarnUnsealedKeys() {
	if !p.keys.sealer.encrypted() {
		p.log.Warn("oidc: token signing keys are stored UNENCRYPTED in the database; anyone with a copy of it can sign tokens. "+
			"Set key_encryption_key (PORTTI_KEY_ENCRYPTION_KEY) to 32 random bytes in base64 (openssl rand -base64 32) outside development",
			"issuer", p.issuer)
	} else if ids := p.keys.plainKeys(); len(ids) > 0 {
		p.log.Warn("oidc: some signing keys were stored before key_encryption_key was set and are not encrypted; "+
			"run `portti keys rotate` to replace them", "kids", strings.Join(ids, ","))
	}
}

// KeyReloadInterval is how old a running node's copy of the signing keys
// may get: a key created elsewhere (another node, `portti keys rotate`) is
// in its JWKS at most this long after it was stored. JWKSMaxAge is how
// long relying parties may cache that JWKS on top.
const (
	KeyReloadInterval = keyRefresh
	JWKSMaxAge        = docMaxAge
)

// plainKeys returns the IDs of keys stored unencrypted.
func (kr *keyring) plainKeys() []string {
	kr.mu.RLock()
	defer kr.mu.RUnlock()
	var ids []string
	for _, k := range kr.keys {
		if k.plain && k.published(kr.now()) {
			ids = append(ids, k.id())
		}
	}
	return ids
}

// verify checks a compact JWS signed by one of portti's published keys
// and returns its payload.
func (kr *keyring) verify(ctx context.Context, token string) ([]byte, *jose.JSONWebSignature, error) {
	jws, err := jose.ParseSigned(token, []jose.SignatureAlgorithm{jose.RS256, jose.ES256})
	if err != nil {
		return nil, nil, fmt.Errorf("parse JWS: %w", err)
	}
	if len(jws.Signatures) != 1 {
		return nil, nil, errors.New("want exactly one signature")
	}
	h := jws.Signatures[0].Header
	k := kr.lookup(ctx, h.KeyID)
	if k == nil || h.Algorithm != k.alg() {
		return nil, nil, errors.New("unknown signing key")
	}
	payload, err := jws.Verify(k.public.Key)
	if err != nil {
		return nil, nil, fmt.Errorf("verify: %w", err)
	}
	return payload, jws, nil
}

// randomReader is crypto/rand unless a test injects another source.
func randomReader(r io.Reader) io.Reader {
	if r == nil {
		return rand.Reader
	}
	return r
}
