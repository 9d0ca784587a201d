// Package softkey is a WebAuthn authenticator in software, for tests and
// the benchmark: an ECDSA P-256 key that answers registration and sign-in
// options the way a browser and an authenticator together do (the JSON
// of PublicKeyCredential.toJSON(), "none" attestation). It signs whatever
// it is told to, so tests can also make the answers a real authenticator
// never would: for another challenge, from another origin, with an old
// signature counter.
package softkey

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/go-webauthn/webauthn/protocol/webauthncbor"
	"github.com/go-webauthn/webauthn/protocol/webauthncose"
)

// Flags of authenticator data (WebAuthn §6.1).
const (
	FlagUP = 0x01
	FlagUV = 0x04
	FlagBE = 0x08
	FlagBS = 0x10
	FlagAT = 0x40
)

var b64 = base64.RawURLEncoding

// Key is one credential of a software authenticator.
type Key struct {
	Priv         *ecdsa.PrivateKey
	ID           []byte // the credential ID
	UserHandle   []byte // set by Register (the options' user.id)
	Counter      uint32 // the last signature counter used; 0 stays 0 (a synced passkey)
	CountUp      bool   // increment the counter at each signature (a security key)
	Synced       bool   // backup eligible and backed up (BE, BS), as a synced passkey
	UserVerified bool   // the authenticator verifies its user (UV)
	Attachment   string // "platform" or "cross-platform"
	Origin       string // the page's origin the browser puts in clientDataJSON
}

// New returns a key for origin: a security key that verifies its user
// and counts its signatures.
func New(origin string) (*Key, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	id := make([]byte, 32)
	if _, err := rand.Read(id); err != nil {
		return nil, err
	}
	return &Key{Priv: priv, ID: id, CountUp: true, UserVerified: true, Attachment: "cross-platform", Origin: origin}, nil
}

// PublicKeyCOSE is the key in COSE form, as a credential record keeps it.
func (k *Key) PublicKeyCOSE() []byte {
	x, y := make([]byte, 32), make([]byte, 32)
	k.Priv.PublicKey.X.FillBytes(x)
	k.Priv.PublicKey.Y.FillBytes(y)
	b, err := webauthncbor.Marshal(webauthncose.EC2PublicKeyData{
		PublicKeyData: webauthncose.PublicKeyData{KeyType: int64(webauthncose.EllipticKey), Algorithm: int64(webauthncose.AlgES256)},
		Curve:         1, XCoord: x, YCoord: y,
	})
	if err != nil {
		panic(err) // fixed shape: cannot fail
	}
	return b
}

func (k *Key) flags() byte {
	f := byte(FlagUP)
	if k.UserVerified {
		f |= FlagUV
	}
	if k.Synced {
		f |= FlagBE | FlagBS
	}
	return f
}

type clientData struct {
	Type        string `json:"type"`
	Challenge   string `json:"challenge"`
	Origin      string `json:"origin"`
	CrossOrigin bool   `json:"crossOrigin"`
}

// creationOptions and requestOptions are the parts of the options a
// browser reads.
type creationOptions struct {
	PublicKey struct {
		Challenge string `json:"challenge"`
		RP        struct {
			ID string `json:"id"`
		} `json:"rp"`
		User struct {
			ID string `json:"id"`
		} `json:"user"`
	} `json:"publicKey"`
}

type requestOptions struct {
	PublicKey struct {
		Challenge string `json:"challenge"`
		RPID      string `json:"rpId"`
		Allow     []struct {
			ID string `json:"id"`
		} `json:"allowCredentials"`
	} `json:"publicKey"`
}

// Register answers registration options (navigator.credentials.create).
func (k *Key) Register(options []byte) ([]byte, error) {
	var o creationOptions
	if err := json.Unmarshal(options, &o); err != nil {
		return nil, fmt.Errorf("softkey: creation options: %w", err)
	}
	uh, err := b64.DecodeString(o.PublicKey.User.ID)
	if err != nil {
		return nil, fmt.Errorf("softkey: user.id: %w", err)
	}
	k.UserHandle = uh
	cd, _ := json.Marshal(clientData{Type: "webauthn.create", Challenge: o.PublicKey.Challenge, Origin: k.Origin})
	rp := sha256.Sum256([]byte(o.PublicKey.RP.ID))
	auth := append([]byte{}, rp[:]...)
	auth = append(auth, k.flags()|FlagAT)
	auth = binary.BigEndian.AppendUint32(auth, k.Counter)
	auth = append(auth, make([]byte, 16)...) // AAGUID: none
	auth = binary.BigEndian.AppendUint16(auth, uint16(len(k.ID)))
	auth = append(auth, k.ID...)
	auth = append(auth, k.PublicKeyCOSE()...)
	att, err := webauthncbor.Marshal(map[string]any{"fmt": "none", "attStmt": map[string]any{}, "authData": auth})
	if err != nil {
		return nil, err
	}
	return json.Marshal(map[string]any{
		"id": b64.EncodeToString(k.ID), "rawId": b64.EncodeToString(k.ID), "type": "public-key",
		"authenticatorAttachment": k.Attachment,
		"response": map[string]any{
			"clientDataJSON":    b64.EncodeToString(cd),
			"attestationObject": b64.EncodeToString(att),
			"transports":        []string{"usb"},
		},
		"clientExtensionResults": map[string]any{},
	})
}

// Assert answers sign-in options (navigator.credentials.get) with this
// key, as a browser at k.Origin would.
func (k *Key) Assert(options []byte) ([]byte, error) {
	var o requestOptions
	if err := json.Unmarshal(options, &o); err != nil {
		return nil, fmt.Errorf("softkey: request options: %w", err)
	}
	if len(o.PublicKey.Allow) > 0 {
		found := false
		for _, a := range o.PublicKey.Allow {
			found = found || a.ID == b64.EncodeToString(k.ID)
		}
		if !found {
			return nil, errors.New("softkey: not an allowed credential")
		}
	}
	return k.Sign(o.PublicKey.RPID, o.PublicKey.Challenge, k.Origin)
}

// Sign makes an assertion for any relying party ID, challenge (base64url)
// and origin.
func (k *Key) Sign(rpID, challenge, origin string) ([]byte, error) {
	if k.CountUp {
		k.Counter++
	}
	cd, _ := json.Marshal(clientData{Type: "webauthn.get", Challenge: challenge, Origin: origin})
	rp := sha256.Sum256([]byte(rpID))
	auth := append([]byte{}, rp[:]...)
	auth = append(auth, k.flags())
	auth = binary.BigEndian.AppendUint32(auth, k.Counter)
	cdh := sha256.Sum256(cd)
	digest := sha256.Sum256(append(append([]byte{}, auth...), cdh[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, k.Priv, digest[:])
	if err != nil {
		return nil, err
	}
	return json.Marshal(map[string]any{
		"id": b64.EncodeToString(k.ID), "rawId": b64.EncodeToString(k.ID), "type": "public-key",
		"authenticatorAttachment": k.Attachment,
		"response": map[string]any{
			"clientDataJSON":    b64.EncodeToString(cd),
			"authenticatorData": b64.EncodeToString(auth),
			"signature":         b64.EncodeToString(sig),
			"userHandle":        b64.EncodeToString(k.UserHandle),
		},
		"clientExtensionResults": map[string]any{},
	})
}
