package saml

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"time"

	"github.com/portti/portti/internal/authn"
	"github.com/portti/portti/internal/storage"
)

// Key uses (storage.SAMLKey.Use).
const (
	useSigning    = "signing"
	useEncryption = "encryption"
	usePairwise   = "pairwise"
)

// keySet is the identity provider's keys, loaded once: they are made on
// first start and kept in the database like the OpenID Connect signing
// keys, sealed under the key encryption key, so every node signs with
// the same key and the metadata the federation holds stays true.
type keySet struct {
	signKey    *rsa.PrivateKey
	signCert   []byte // DER
	encKey     *rsa.PrivateKey
	encCert    []byte
	pairwise   []byte // secret the pairwise identifiers derive from
	signParsed *x509.Certificate
}

// sealAAD binds a sealed key to its row.
func keyAAD(id, use string) string { return "portti saml key\x00" + id + "\x00" + use }

// loadKeys reads the keys, creating those missing. Two nodes starting at
// once race on the fixed IDs; the loser reads the winner's.
func loadKeys(ctx context.Context, st storage.Storage, sealer *authn.Sealer, bits int, host string, now time.Time) (*keySet, error) {
	for attempt := 0; attempt < 2; attempt++ {
		keys, err := st.ListSAMLKeys(ctx)
		if err != nil {
			return nil, err
		}
		have := map[string]storage.SAMLKey{}
		for _, k := range keys {
			have[k.Use] = k
		}
		created := false
		for _, use := range []string{useSigning, useEncryption, usePairwise} {
			if _, ok := have[use]; ok {
				continue
			}
			k, err := newKey(sealer, use, bits, host, now)
			if err != nil {
				return nil, err
			}
			if err := st.CreateSAMLKey(ctx, k); err != nil {
				if errors.Is(err, storage.ErrConflict) {
					created = true
					continue
				}
				return nil, err
			}
			created = true
		}
		if created {
			continue
		}
		ks := &keySet{}
		for use, k := range have {
			plain, err := sealer.Open(keyAAD(k.ID, k.Use), k.Private)
			if err != nil {
				return nil, fmt.Errorf("SAML %s key: cannot be decrypted: key_encryption_key (PORTTI_KEY_ENCRYPTION_KEY) is not the key it was sealed with, or the stored key was altered", use)
			}
			if use == usePairwise {
				ks.pairwise = plain
				continue
			}
			priv, err := x509.ParsePKCS8PrivateKey(plain)
			if err != nil {
				return nil, fmt.Errorf("SAML %s key: %w", use, err)
			}
			rk, ok := priv.(*rsa.PrivateKey)
			if !ok {
				return nil, fmt.Errorf("SAML %s key: not RSA", use)
			}
			if use == useSigning {
				ks.signKey, ks.signCert = rk, k.Certificate
				if ks.signParsed, err = x509.ParseCertificate(k.Certificate); err != nil {
					return nil, fmt.Errorf("SAML signing certificate: %w", err)
				}
			} else {
				ks.encKey, ks.encCert = rk, k.Certificate
			}
		}
		return ks, nil
	}
	return nil, errors.New("SAML keys: could not be created")
}

// newKey makes one key: an RSA key with a self-signed certificate (SAML
// metadata carries keys as certificates; federations trust the metadata,
// not a CA, so self-signed is the norm) or the pairwise secret.
func newKey(sealer *authn.Sealer, use string, bits int, host string, now time.Time) (storage.SAMLKey, error) {
	k := storage.SAMLKey{ID: use, Use: use, CreatedAt: now}
	var plain []byte
	if use == usePairwise {
		plain = make([]byte, 32)
		if _, err := rand.Read(plain); err != nil {
			return k, err
		}
	} else {
		priv, err := rsa.GenerateKey(rand.Reader, bits)
		if err != nil {
			return k, fmt.Errorf("SAML %s key: %w", use, err)
		}
		serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
		if err != nil {
			return k, err
		}
		tmpl := &x509.Certificate{
			SerialNumber: serial,
			Subject:      pkix.Name{CommonName: host},
			NotBefore:    now.Add(-time.Hour),
			// Long-lived on purpose: a federation's metadata names this
			// certificate and SAML does not check its dates; a change
			// is a key rollover announced through the federation.
			NotAfter: now.AddDate(20, 0, 0),
			KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		}
		k.Certificate, err = x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
		if err != nil {
			return k, err
		}
		if plain, err = x509.MarshalPKCS8PrivateKey(priv); err != nil {
			return k, err
		}
	}
	sealed, err := sealer.Seal(keyAAD(k.ID, k.Use), plain)
	if err != nil {
		return k, err
	}
	k.Private = sealed
	return k, nil
}

func hostOf(publicURL string) string {
	u, err := url.Parse(publicURL)
	if err != nil || u.Hostname() == "" {
		return "portti"
	}
	return u.Hostname()
}
