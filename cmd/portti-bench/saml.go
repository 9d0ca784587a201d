package main

import (
	"bytes"
	"compress/flate"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Scenario (i): SP-initiated SAML Web SSO for a browser that is signed
// in: an AuthnRequest over the HTTP-Redirect binding (a fresh ID each
// time, as the replay cache wants) answered with the HTTP-POST binding's
// page carrying a signed Response. Its target is a share of the rate at
// which this machine computes RSA-2048 signatures alone, measured in the
// same run: one signature is the floor of every response.

const (
	samlSPEntity = "https://bench-sp.example.fi/shibboleth"
	samlSPACS    = "https://bench-sp.example.fi/Shibboleth.sso/SAML2/POST"
	// targetSAMLFrac: (i) must reach this share of the RSA-2048 limit.
	targetSAMLFrac = 0.6
)

// samlMetadataFile writes the bench service's metadata: no keys (the
// requests are unsigned and the assertions travel in the clear, signed
// in the Response), so one RSA signature is the crypto of each answer.
func samlMetadataFile(dir string) (string, error) {
	md := `<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="` + samlSPEntity + `">` +
		`<md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">` +
		`<md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="` + samlSPACS + `" index="0"/>` +
		`</md:SPSSODescriptor></md:EntityDescriptor>`
	path := filepath.Join(dir, "bench-sp.xml")
	return path, os.WriteFile(path, []byte(md), 0o600)
}

// samlRequest is one AuthnRequest over HTTP-Redirect, from the browser
// whose session cookie is cookie.
func (b *bench) samlRequest(cookie string) []byte {
	id := make([]byte, 16)
	_, _ = rand.Read(id)
	xml := `<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"` +
		` ID="_` + hex.EncodeToString(id) + `" Version="2.0" IssueInstant="` + time.Now().UTC().Format("2006-01-02T15:04:05Z") + `"` +
		` Destination="` + b.base + `/saml/sso" AssertionConsumerServiceURL="` + samlSPACS + `"` +
		` ProtocolBinding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST">` +
		`<saml:Issuer>` + samlSPEntity + `</saml:Issuer>` +
		`<samlp:NameIDPolicy Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent" AllowCreate="true"/>` +
		`</samlp:AuthnRequest>`
	var buf bytes.Buffer
	// A flate.Writer is ~600 KB of tables: reused, or the load
	// generator spends more on allocating them than the server on
	// answering.
	fw := flateWriters.Get().(*flate.Writer)
	fw.Reset(&buf)
	_, _ = fw.Write([]byte(xml))
	_ = fw.Close()
	flateWriters.Put(fw)
	q := "SAMLRequest=" + url.QueryEscape(base64.StdEncoding.EncodeToString(buf.Bytes())) + "&RelayState=ss%3Amem%3Abench"
	return b.rawRequest(http.MethodGet, "/saml/sso?"+q, "", "Cookie", cookie)
}

var flateWriters = sync.Pool{New: func() any {
	fw, _ := flate.NewWriter(nil, flate.BestSpeed)
	return fw
}}

var wantSAMLResponse = []byte(`name="SAMLResponse"`)

// samlSSO is scenario (i).
func (b *bench) samlSSO(ctx context.Context, w *wire, cookie string) error {
	_, err := w.expect(ctx, b.samlRequest(cookie), "SAML SSO", wantSAMLResponse)
	return err
}

// samlCookie signs a browser in (a code flow, as the other scenarios'
// set-up does) and returns its cookies for portti.
func (b *bench) samlCookie(ctx context.Context) (string, error) {
	browser := b.newBrowser()
	if _, err := b.codeFlow(ctx, browser, loginScopes); err != nil {
		return "", err
	}
	u, _ := url.Parse(b.base)
	var parts []string
	for _, c := range browser.Jar.Cookies(u) {
		parts = append(parts, c.Name+"="+c.Value)
	}
	if len(parts) == 0 {
		return "", fmt.Errorf("no session cookie after signing in")
	}
	return strings.Join(parts, "; "), nil
}

// rsaLimit measures how many RSA-2048 PKCS #1 v1.5 SHA-256 signatures
// (what each SAML response carries) workers goroutines compute per
// second, and the CPU each takes.
func rsaLimit(ctx context.Context, workers int, d time.Duration) (rate float64, cpuPerSig time.Duration) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return 0, 0
	}
	sum := sha256.Sum256([]byte("portti-bench"))
	return opLimit(ctx, workers, d, func() bool {
		_, err := rsa.SignPKCS1v15(nil, key, crypto.SHA256, sum[:])
		return err == nil
	})
}
