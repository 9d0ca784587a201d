package saml

import (
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"
)

// newID is a message or assertion ID: an NCName ("_" then hex).
func newID() string {
	b := make([]byte, 20)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail
	}
	return "_" + hex.EncodeToString(b)
}

func samlTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

// sign signs el (which has an ID attribute) with an enveloped RSA-SHA256
// signature with exclusive canonicalisation, placed where the SAML
// schemas want it: right after the Issuer, or first when there is none.
func (p *Provider) sign(el *etree.Element) (*etree.Element, error) {
	ctx, err := dsig.NewSigningContext(p.keys.signKey, [][]byte{p.keys.signCert})
	if err != nil {
		return nil, err
	}
	ctx.Canonicalizer = dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("")
	if err := ctx.SetSignatureMethod(dsig.RSASHA256SignatureMethod); err != nil {
		return nil, err
	}
	sig, err := ctx.ConstructSignature(el, true)
	if err != nil {
		return nil, err
	}
	out := el.Copy()
	at := 0
	if first := out.ChildElements(); len(first) > 0 && first[0].Tag == "Issuer" {
		at = first[0].Index() + 1
	}
	out.InsertChildAt(at, sig)
	return out, nil
}

// signQuery signs an HTTP-Redirect binding query (SAML bindings 3.4.4.1):
// the signature covers "SAMLRequest=…&RelayState=…&SigAlg=…" as sent.
func (p *Provider) signQuery(q string) (string, error) {
	sum := sha256.Sum256([]byte(q))
	sig, err := rsa.SignPKCS1v15(rand.Reader, p.keys.signKey, crypto.SHA256, sum[:])
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(sig), nil
}

// Signature algorithms accepted on inbound messages. SHA-1 is refused
// (saml2int; HAKA's metadata rules).
var queryHashes = map[string]crypto.Hash{
	dsig.RSASHA256SignatureMethod: crypto.SHA256,
	dsig.RSASHA512SignatureMethod: crypto.SHA512,
}

var errSignature = errors.New("the signature does not verify with the service's certificates")

// verifyQuery checks an HTTP-Redirect binding signature over signed (the
// raw query parameters in the order the binding fixes).
func verifyQuery(signed, sigAlg, sigB64 string, certs []*x509.Certificate) error {
	h, ok := queryHashes[sigAlg]
	if !ok {
		return fmt.Errorf("signature algorithm %q is not accepted", truncate(sigAlg, 100))
	}
	sig, err := base64.StdEncoding.DecodeString(sigB64)
	if err != nil {
		return errors.New("the signature is not base64")
	}
	var digest []byte
	switch h {
	case crypto.SHA256:
		s := sha256.Sum256([]byte(signed))
		digest = s[:]
	case crypto.SHA512:
		s := sha512.Sum512([]byte(signed))
		digest = s[:]
	}
	for _, c := range certs {
		if pub, ok := c.PublicKey.(*rsa.PublicKey); ok && rsa.VerifyPKCS1v15(pub, h, digest, sig) == nil {
			return nil
		}
	}
	return errSignature
}

// verifyElement checks el's enveloped signature against certs and
// returns the element the signature covers, the only one the caller may
// read from (goxmldsig ≥ 1.6 returns it with the reference checked to
// be el itself). A certificate's dates are not checked: metadata, not a
// CA, says which keys a service has (saml2int, metadata-iop).
func verifyElement(el *etree.Element, certs []*x509.Certificate) (*etree.Element, error) {
	if len(certs) == 0 {
		return nil, errors.New("the service's metadata has no signing certificate")
	}
	var last error
	for _, c := range certs {
		ctx := dsig.NewDefaultValidationContext(&dsig.MemoryX509CertificateStore{Roots: []*x509.Certificate{c}})
		ctx.Clock = dsig.NewFakeClockAt(c.NotBefore.Add(c.NotAfter.Sub(c.NotBefore) / 2))
		out, err := ctx.Validate(el)
		if err == nil {
			return out, nil
		}
		last = err
	}
	if errors.Is(last, dsig.ErrMissingSignature) {
		return nil, errors.New("the message is not signed")
	}
	return nil, fmt.Errorf("%w (%v)", errSignature, last)
}

// encrypt returns el as an EncryptedAssertion's EncryptedData for cert:
// a fresh AES key (256-bit GCM, or CBC for a service that can do no
// better) wrapped with RSA-OAEP.
func encrypt(el *etree.Element, cert *x509.Certificate, alg string) (*etree.Element, error) {
	pub, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok {
		return nil, errors.New("the service's encryption certificate is not RSA")
	}
	doc := etree.NewDocument()
	doc.SetRoot(el.Copy())
	plain, err := doc.WriteToBytes()
	if err != nil {
		return nil, err
	}
	keyLen := 32
	if alg == encAES128CBC || alg == encAES128GCM {
		keyLen = 16
	}
	key := make([]byte, keyLen)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	var ct []byte
	switch alg {
	case encAES256GCM, encAES128GCM:
		gcm, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		nonce := make([]byte, gcm.NonceSize())
		if _, err := rand.Read(nonce); err != nil {
			return nil, err
		}
		ct = gcm.Seal(nonce, nonce, plain, nil) // IV ‖ ciphertext ‖ tag (XML Encryption 1.1, 5.2.4)
	default:
		// XML Encryption padding: the last byte says how many bytes
		// were added.
		pad := aes.BlockSize - len(plain)%aes.BlockSize
		padded := append(plain, make([]byte, pad)...)
		padded[len(padded)-1] = byte(pad)
		iv := make([]byte, aes.BlockSize)
		if _, err := rand.Read(iv); err != nil {
			return nil, err
		}
		ct = make([]byte, len(padded))
		cipher.NewCBCEncrypter(block, iv).CryptBlocks(ct, padded)
		ct = append(iv, ct...)
	}
	wrapped, err := rsa.EncryptOAEP(sha1.New(), rand.Reader, pub, key, nil)
	if err != nil {
		return nil, err
	}
	ed := etree.NewElement("xenc:EncryptedData")
	ed.CreateAttr("xmlns:xenc", nsXENC)
	ed.CreateAttr("Type", "http://www.w3.org/2001/04/xmlenc#Element")
	ed.CreateElement("xenc:EncryptionMethod").CreateAttr("Algorithm", alg)
	ki := ed.CreateElement("ds:KeyInfo")
	ki.CreateAttr("xmlns:ds", nsDS)
	ek := ki.CreateElement("xenc:EncryptedKey")
	em := ek.CreateElement("xenc:EncryptionMethod")
	em.CreateAttr("Algorithm", keyRSAOAEP)
	em.CreateElement("ds:DigestMethod").CreateAttr("Algorithm", "http://www.w3.org/2000/09/xmldsig#sha1")
	ek.CreateElement("xenc:CipherData").CreateElement("xenc:CipherValue").SetText(base64.StdEncoding.EncodeToString(wrapped))
	ed.CreateElement("xenc:CipherData").CreateElement("xenc:CipherValue").SetText(base64.StdEncoding.EncodeToString(ct))
	return ed, nil
}
