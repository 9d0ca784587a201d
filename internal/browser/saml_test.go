package browser

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/xml"
	"html"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	saml2 "github.com/russellhaering/gosaml2"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/portti/portti/internal/app/apptest"
	"github.com/portti/portti/internal/saml"
	"github.com/portti/portti/internal/storage"
)

// The SAML pages in Chromium: a service provider built with gosaml2 on a
// loopback server signs a person in through the login form; the page of
// the HTTP-POST binding (shown while its script is held back, as it is
// to a browser without JavaScript) and the error page for a broken
// request, in each language, with screenshots
// (<lang>-saml-post.png, <lang>-saml-error.png) and axe-core.

// samlService is a gosaml2 service provider whose ACS page says who
// signed in, after gosaml2 checked the response.
func samlService(t *testing.T, env *apptest.Env) *saml2.SAMLServiceProvider {
	t.Helper()
	b := env.Browser(t)
	resp, err := b.Get(env.URL + saml.PathMetadata)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(raw); err != nil {
		t.Fatal(err)
	}
	der, _ := base64.StdEncoding.DecodeString(strings.TrimSpace(doc.FindElement("//KeyDescriptor[@use='signing']//X509Certificate").Text()))
	idpCert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "moodle"},
		NotBefore: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2040, 1, 1, 0, 0, 0, 0, time.UTC)}
	spDER, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)

	sp := &saml2.SAMLServiceProvider{
		IdentityProviderSSOURL: env.URL + saml.PathSSO, IdentityProviderSLOURL: env.URL + saml.PathSLO,
		IdentityProviderIssuer: doc.Root().SelectAttrValue("entityID", ""),
		ServiceProviderIssuer:  "https://moodle.example.fi/shibboleth", AudienceURI: "https://moodle.example.fi/shibboleth",
		SignAuthnRequests:   true,
		IDPCertificateStore: &dsig.MemoryX509CertificateStore{Roots: []*x509.Certificate{idpCert}},
		Clock:               dsig.NewFakeClockAt(env.Clock.Now()),
		SPKeyStore:          dsig.TLSCertKeyStore{Certificate: [][]byte{spDER}, PrivateKey: key},
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if r.URL.Path != "/acs" || r.Method != http.MethodPost {
			_, _ = io.WriteString(w, `<!doctype html><html lang="en"><title>Moodle</title><main><h1>Moodle</h1></main></html>`)
			return
		}
		info, err := sp.RetrieveAssertionInfo(r.PostFormValue("SAMLResponse"))
		msg := "refused: "
		if err == nil {
			msg = "signed in: " + info.Values.Get("urn:oid:0.9.2342.19200300.100.1.3")
		} else {
			msg += err.Error()
		}
		_, _ = io.WriteString(w, `<!doctype html><html lang="en"><title>Moodle</title><main><h1>Moodle</h1><p id="who">`+html.EscapeString(msg)+`</p></main></html>`)
	}))
	t.Cleanup(srv.Close)
	sp.AssertionConsumerServiceURL = srv.URL + "/acs"
	sp.ServiceProviderSLOURL = srv.URL + "/slo"
	md, err := sp.MetadataWithSLO(0)
	if err != nil {
		t.Fatal(err)
	}
	mdXML, _ := xml.Marshal(md)
	if _, err := env.App.SAML.AddService(context.Background(), mdXML, nil, storage.SAMLSourceCLI); err != nil {
		t.Fatal(err)
	}
	return sp
}

func TestBrowserSAML(t *testing.T) {
	startChromium(t)
	env := apptest.Start(t, nil)
	addPerson(t, env, "aino@example.fi", "Aino", "Virtanen")
	sp := samlService(t, env)
	b := newTabFor(t, env, 3*testTimeout)
	ssoURL := func() string {
		doc, err := sp.BuildAuthRequestDocumentNoSig()
		if err != nil {
			t.Fatal(err)
		}
		u, err := sp.BuildAuthURLRedirect("relay", doc)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	block := func(patterns ...string) {
		var ps []*network.BlockPattern
		for _, p := range patterns {
			ps = append(ps, &network.BlockPattern{URLPattern: p, Block: true})
		}
		if _, err := chromedp.Call(b.ctx, network.SetBlockedURLs, network.SetBlockedURLsParams{URLPatterns: ps}); err != nil {
			t.Fatalf("block: %v", err)
		}
	}
	// Without its script the POST binding's page stays, with its button.
	block("*://*:*/saml/post.js")
	b.open(ssoURL(), 200)
	b.at("/login")
	b.logIn("aino@example.fi", ssoPassword, false, 200)
	b.at(saml.PathContinue)
	b.click("#saml-post button", 200)
	if who := b.text("#who"); who != "signed in: aino@example.fi" {
		t.Fatalf("the service says %q", who)
	}
	// Signed in now: the page again, in each language.
	for _, lang := range []string{"fi", "sv", "en"} {
		b.open("/lang/"+lang+"?return=%2F", 200)
		b.open(ssoURL(), 200)
		b.at(saml.PathSSO) // signed in: answered at once
		if got := b.lang(); got != lang {
			t.Fatalf("POST page in %q, want %s", got, lang)
		}
		b.heading(catalog(t).T(lang, "saml.post.heading", nil))
		b.screenshot(lang + "-saml-post")
		b.checkAxe(lang + " SAML POST page")
		b.click("#saml-post button", 200)
		if who := b.text("#who"); who != "signed in: aino@example.fi" {
			t.Fatalf("the service says %q", who)
		}
	}
	// With the script, the page goes on by itself.
	block()
	b.open(ssoURL(), 200)
	if who := b.text("#who"); who != "signed in: aino@example.fi" {
		t.Fatalf("after the automatic post the service says %q", who)
	}

	// A request that cannot be read: the error page, in each language.
	b.open(saml.PathSSO+"?SAMLRequest=bm90IGRlZmxhdGVk", 400)
	for _, lang := range []string{"fi", "sv", "en"} {
		b.switchTo(lang, 400)
		b.heading(catalog(t).T(lang, "saml.error.malformed.title", nil))
		b.screenshot(lang + "-saml-error")
		b.checkAxe(lang + " SAML error page")
	}
}
