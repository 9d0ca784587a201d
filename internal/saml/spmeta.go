package saml

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// XML namespaces and identifiers used throughout.
const (
	nsMD     = "urn:oasis:names:tc:SAML:2.0:metadata"
	nsSAML   = "urn:oasis:names:tc:SAML:2.0:assertion"
	nsSAMLP  = "urn:oasis:names:tc:SAML:2.0:protocol"
	nsDS     = "http://www.w3.org/2000/09/xmldsig#"
	nsXENC   = "http://www.w3.org/2001/04/xmlenc#"
	nsMDUI   = "urn:oasis:names:tc:SAML:metadata:ui"
	nsMDAttr = "urn:oasis:names:tc:SAML:metadata:attribute"

	bindingRedirect = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
	bindingPOST     = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"

	nameIDPersistent  = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
	nameIDTransient   = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"
	nameIDUnspecified = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"
	attrNameFormatURI = "urn:oasis:names:tc:SAML:2.0:attrname-format:uri"
)

// Encryption algorithms (XML Encryption 1.1).
const (
	encAES256GCM = "http://www.w3.org/2009/xmlenc11#aes256-gcm"
	encAES128GCM = "http://www.w3.org/2009/xmlenc11#aes128-gcm"
	encAES256CBC = "http://www.w3.org/2001/04/xmlenc#aes256-cbc"
	encAES128CBC = "http://www.w3.org/2001/04/xmlenc#aes128-cbc"
	keyRSAOAEP   = "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p"
)

// Metadata limits: an SP's metadata is a few kilobytes; an aggregate is
// tens of megabytes (eduGAIN's is ~80 MB), read by the refresher only.
const (
	maxSPMetadata        = 1 << 20
	maxAggregateMetadata = 256 << 20
)

type mdEntityDescriptor struct {
	XMLName    xml.Name            `xml:"urn:oasis:names:tc:SAML:2.0:metadata EntityDescriptor"`
	EntityID   string              `xml:"entityID,attr"`
	ValidUntil string              `xml:"validUntil,attr"`
	SPSSO      []mdSPSSODescriptor `xml:"urn:oasis:names:tc:SAML:2.0:metadata SPSSODescriptor"`
	Org        *struct {
		DisplayNames []mdLocalized `xml:"urn:oasis:names:tc:SAML:2.0:metadata OrganizationDisplayName"`
	} `xml:"urn:oasis:names:tc:SAML:2.0:metadata Organization"`
}

type mdLocalized struct {
	Lang  string `xml:"http://www.w3.org/XML/1998/namespace lang,attr"`
	Value string `xml:",chardata"`
}

type mdSPSSODescriptor struct {
	Protocols            string            `xml:"protocolSupportEnumeration,attr"`
	AuthnRequestsSigned  bool              `xml:"AuthnRequestsSigned,attr"`
	WantAssertionsSigned bool              `xml:"WantAssertionsSigned,attr"`
	Keys                 []mdKeyDescriptor `xml:"urn:oasis:names:tc:SAML:2.0:metadata KeyDescriptor"`
	SLO                  []mdEndpoint      `xml:"urn:oasis:names:tc:SAML:2.0:metadata SingleLogoutService"`
	NameIDFormats        []string          `xml:"urn:oasis:names:tc:SAML:2.0:metadata NameIDFormat"`
	ACS                  []mdEndpoint      `xml:"urn:oasis:names:tc:SAML:2.0:metadata AssertionConsumerService"`
	AttributeConsuming   []struct {
		Requested []struct {
			Name         string `xml:"Name,attr"`
			FriendlyName string `xml:"FriendlyName,attr"`
		} `xml:"urn:oasis:names:tc:SAML:2.0:metadata RequestedAttribute"`
	} `xml:"urn:oasis:names:tc:SAML:2.0:metadata AttributeConsumingService"`
	Extensions *struct {
		UIInfo *struct {
			DisplayNames []mdLocalized `xml:"urn:oasis:names:tc:SAML:metadata:ui DisplayName"`
		} `xml:"urn:oasis:names:tc:SAML:metadata:ui UIInfo"`
	} `xml:"urn:oasis:names:tc:SAML:2.0:metadata Extensions"`
}

type mdKeyDescriptor struct {
	Use   string   `xml:"use,attr"`
	Certs []string `xml:"http://www.w3.org/2000/09/xmldsig# KeyInfo>X509Data>X509Certificate"`
	Enc   []struct {
		Algorithm string `xml:"Algorithm,attr"`
	} `xml:"urn:oasis:names:tc:SAML:2.0:metadata EncryptionMethod"`
}

type mdEndpoint struct {
	Binding  string `xml:"Binding,attr"`
	Location string `xml:"Location,attr"`
	// ResponseLocation, when set, is where responses go (SLO).
	ResponseLocation string `xml:"ResponseLocation,attr"`
	Index            *int   `xml:"index,attr"`
	IsDefault        *bool  `xml:"isDefault,attr"`
}

// serviceProvider is a registered service as the identity provider uses
// it: read from its stored metadata.
type serviceProvider struct {
	EntityID             string
	Names                map[string]string // display names by language
	AuthnRequestsSigned  bool
	WantAssertionsSigned bool
	SigningCerts         []*x509.Certificate
	EncryptionCert       *x509.Certificate // nil: assertions are not encrypted
	// EncryptionAlg is AES-256-GCM unless the metadata lists only CBC
	// algorithms (a service that says it cannot do better).
	EncryptionAlg string
	ACS           []mdEndpoint // HTTP-POST only: the one binding responses use
	SLO           []mdEndpoint
	Requested     []string // attribute names (urn:oid:…) its metadata requests
	ValidUntil    time.Time
	Release       []string // friendly names released to it
}

// parseSPMetadata reads one service's EntityDescriptor.
func parseSPMetadata(raw []byte) (*serviceProvider, error) {
	if len(raw) > maxSPMetadata {
		return nil, errors.New("metadata is larger than 1 MB")
	}
	if err := refuseDTD(raw); err != nil {
		return nil, err
	}
	var ed mdEntityDescriptor
	if err := xml.Unmarshal(raw, &ed); err != nil {
		return nil, fmt.Errorf("metadata is not a SAML EntityDescriptor: %w", err)
	}
	return spFromDescriptor(&ed)
}

func spFromDescriptor(ed *mdEntityDescriptor) (*serviceProvider, error) {
	if ed.EntityID == "" {
		return nil, errors.New("metadata has no entityID")
	}
	var d *mdSPSSODescriptor
	for i := range ed.SPSSO {
		if slices.Contains(strings.Fields(ed.SPSSO[i].Protocols), nsSAMLP) {
			d = &ed.SPSSO[i]
			break
		}
	}
	if d == nil {
		return nil, fmt.Errorf("metadata of %s has no SAML 2.0 SPSSODescriptor", ed.EntityID)
	}
	sp := &serviceProvider{
		EntityID: ed.EntityID, Names: map[string]string{},
		AuthnRequestsSigned: d.AuthnRequestsSigned, WantAssertionsSigned: d.WantAssertionsSigned,
	}
	if ed.ValidUntil != "" {
		t, err := time.Parse(time.RFC3339, ed.ValidUntil)
		if err != nil {
			return nil, fmt.Errorf("metadata of %s: validUntil %q is not a time", ed.EntityID, ed.ValidUntil)
		}
		sp.ValidUntil = t
	}
	if ed.Org != nil {
		for _, n := range ed.Org.DisplayNames {
			sp.Names[n.Lang] = strings.TrimSpace(n.Value)
		}
	}
	if d.Extensions != nil && d.Extensions.UIInfo != nil {
		for _, n := range d.Extensions.UIInfo.DisplayNames {
			sp.Names[n.Lang] = strings.TrimSpace(n.Value)
		}
	}
	for _, k := range d.Keys {
		for _, c := range k.Certs {
			der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(c), ""))
			if err != nil {
				return nil, fmt.Errorf("metadata of %s: a certificate is not base64", ed.EntityID)
			}
			cert, err := x509.ParseCertificate(der)
			if err != nil {
				return nil, fmt.Errorf("metadata of %s: a certificate does not parse: %w", ed.EntityID, err)
			}
			if k.Use == "" || k.Use == "signing" {
				sp.SigningCerts = append(sp.SigningCerts, cert)
			}
			if (k.Use == "" || k.Use == "encryption") && sp.EncryptionCert == nil {
				sp.EncryptionCert = cert
				sp.EncryptionAlg = encAES256GCM
				var algs []string
				for _, e := range k.Enc {
					algs = append(algs, e.Algorithm)
				}
				if len(algs) > 0 && !slices.Contains(algs, encAES256GCM) && !slices.Contains(algs, encAES128GCM) {
					// The service lists what it can decrypt and
					// GCM is not there: CBC, the strongest it has.
					if slices.Contains(algs, encAES256CBC) {
						sp.EncryptionAlg = encAES256CBC
					} else if slices.Contains(algs, encAES128CBC) {
						sp.EncryptionAlg = encAES128CBC
					}
				}
			}
		}
	}
	for _, a := range d.ACS {
		if a.Binding == bindingPOST && a.Location != "" {
			sp.ACS = append(sp.ACS, a)
		}
	}
	if len(sp.ACS) == 0 {
		return nil, fmt.Errorf("metadata of %s has no AssertionConsumerService with the HTTP-POST binding", ed.EntityID)
	}
	for _, a := range sp.ACS {
		if !strings.HasPrefix(a.Location, "https://") && !isLocalHTTP(a.Location) {
			return nil, fmt.Errorf("metadata of %s: AssertionConsumerService %s is not https", ed.EntityID, a.Location)
		}
	}
	for _, s := range d.SLO {
		if (s.Binding == bindingRedirect || s.Binding == bindingPOST) && s.Location != "" {
			sp.SLO = append(sp.SLO, s)
		}
	}
	for _, acs := range d.AttributeConsuming {
		for _, r := range acs.Requested {
			sp.Requested = append(sp.Requested, r.Name)
		}
	}
	return sp, nil
}

// defaultACS is the endpoint marked isDefault, else the one with the
// lowest index, else the first (SAML metadata 2.2.3).
func (sp *serviceProvider) defaultACS() mdEndpoint {
	for _, a := range sp.ACS {
		if a.IsDefault != nil && *a.IsDefault {
			return a
		}
	}
	best := sp.ACS[0]
	for _, a := range sp.ACS {
		if a.Index != nil && (best.Index == nil || *a.Index < *best.Index) {
			best = a
		}
	}
	return best
}

// sloEndpoint prefers the Redirect binding (a signed query string: no
// page in between).
func (sp *serviceProvider) sloEndpoint() (mdEndpoint, bool) {
	for _, b := range []string{bindingRedirect, bindingPOST} {
		for _, s := range sp.SLO {
			if s.Binding == b {
				return s, true
			}
		}
	}
	return mdEndpoint{}, false
}

// name is the service's display name in lang, or its entity ID.
func (sp *serviceProvider) name(lang string) string {
	for _, l := range []string{lang, "en", "fi", "sv", ""} {
		if n := sp.Names[l]; n != "" {
			return n
		}
	}
	return sp.EntityID
}

// refuseDTD refuses documents with a document type declaration: SAML
// never uses one, and entity expansion is the classic XML bomb.
func refuseDTD(raw []byte) error {
	d := xml.NewDecoder(bytes.NewReader(raw))
	for {
		tok, err := d.Token()
		if err != nil {
			return nil // the real parser reports syntax errors
		}
		switch t := tok.(type) {
		case xml.Directive:
			return errors.New("XML with a document type declaration is refused")
		case xml.StartElement:
			_ = t
			return nil
		}
	}
}

func isLocalHTTP(u string) bool {
	for _, p := range []string{"http://localhost:", "http://localhost/", "http://127.0.0.1:", "http://127.0.0.1/", "http://[::1]:"} {
		if strings.HasPrefix(u, p) {
			return true
		}
	}
	return false
}
