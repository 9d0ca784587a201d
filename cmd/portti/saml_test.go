package main

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func samlSPMetadata(t *testing.T, entityID string) string {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "sp"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return `<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="` + entityID + `">` +
		`<md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">` +
		`<md:KeyDescriptor><ds:KeyInfo><ds:X509Data><ds:X509Certificate>` + base64.StdEncoding.EncodeToString(der) + `</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>` +
		`<md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="` + entityID + `/acs" index="0"/>` +
		`</md:SPSSODescriptor></md:EntityDescriptor>`
}

func TestSAMLCommands(t *testing.T) {
	clientEnv(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "sp.xml")
	if err := os.WriteFile(file, []byte(samlSPMetadata(t, "https://moodle.example.fi")), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := runCmd(t, "", "saml", "sp", "add", "--metadata", file, "--release", "mail", "--release", "eduPersonPrincipalName,displayName")
	if err != nil || !strings.Contains(out, "registered https://moodle.example.fi") {
		t.Fatalf("add from a file: %v\n%s", err, out)
	}
	// From a URL (http is allowed for localhost only).
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(samlSPMetadata(t, "https://library.example.fi")))
	}))
	defer srv.Close()
	if out, err := runCmd(t, "", "saml", "sp", "add", "--metadata", strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)); err != nil {
		t.Fatalf("add from a URL: %v\n%s", err, out)
	}
	if out, err := runCmd(t, "", "saml", "sp", "add", "--metadata", "http://metadata.example.fi/sp.xml"); err == nil || !strings.Contains(out+err.Error(), "https") {
		t.Fatalf("plain http URL accepted: %v %s", err, out)
	}
	if out, err := runCmd(t, "", "saml", "sp", "add", "--metadata", file, "--release", "shoeSize"); err == nil || !strings.Contains(err.Error(), "unknown attribute") {
		t.Fatalf("unknown attribute: %v %s", err, out)
	}
	out, err = runCmd(t, "", "saml", "sp", "list")
	if err != nil || !strings.Contains(out, "https://moodle.example.fi") || !strings.Contains(out, "mail,eduPersonPrincipalName,displayName") ||
		!strings.Contains(out, "https://library.example.fi") || !strings.Contains(out, "cli") {
		t.Fatalf("list: %v\n%s", err, out)
	}
	if out, err := runCmd(t, "", "saml", "sp", "remove", "https://moodle.example.fi"); err != nil || !strings.Contains(out, "removed") {
		t.Fatalf("remove: %v\n%s", err, out)
	}
	if _, err := runCmd(t, "", "saml", "sp", "remove", "https://moodle.example.fi"); err == nil {
		t.Fatal("removing twice succeeded")
	}
	out, err = runCmd(t, "", "saml", "metadata")
	if err != nil || !strings.Contains(out, "IDPSSODescriptor") || !strings.Contains(out, "Signature") {
		t.Fatalf("metadata: %v\n%s", err, out)
	}
}
