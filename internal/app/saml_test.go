package app_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/xml"
	"html"
	"math/big"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
	saml2 "github.com/russellhaering/gosaml2"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/portti/portti/internal/account"
	"github.com/portti/portti/internal/app/apptest"
	"github.com/portti/portti/internal/saml"
	"github.com/portti/portti/internal/storage"
)

// testSP is a SAML service provider built with gosaml2 (code nobody here
// wrote), registered with portti from the metadata gosaml2 makes.
type testSP struct {
	sp   *saml2.SAMLServiceProvider
	base string
}

func selfSigned(t *testing.T, cn string) (*rsa.PrivateKey, []byte) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2040, 1, 1, 0, 0, 0, 0, time.UTC)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return key, der
}

// idpCert reads portti's signing certificate from its metadata, after
// checking the metadata's own signature with it.
func idpCert(t *testing.T, env *apptest.Env) (*x509.Certificate, string) {
	t.Helper()
	c := env.Browser(t)
	resp, body := browse(t, c, env.URL+saml.PathMetadata)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/samlmetadata+xml" {
		t.Fatalf("metadata: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromString(body); err != nil {
		t.Fatal(err)
	}
	el := doc.FindElement("//IDPSSODescriptor/KeyDescriptor[@use='signing']//X509Certificate")
	der, err := base64.StdEncoding.DecodeString(strings.TrimSpace(el.Text()))
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	if k := cert.PublicKey.(*rsa.PublicKey); k.N.BitLen() < 2048 {
		t.Fatalf("signing key of %d bits", k.N.BitLen())
	}
	if doc.FindElement("//IDPSSODescriptor/KeyDescriptor[@use='encryption']") == nil {
		t.Fatal("metadata has no encryption key")
	}
	vctx := dsig.NewDefaultValidationContext(&dsig.MemoryX509CertificateStore{Roots: []*x509.Certificate{cert}})
	vctx.Clock = dsig.NewFakeClockAt(env.Clock.Now())
	if _, err := vctx.Validate(doc.Root()); err != nil {
		t.Fatalf("metadata signature: %v", err)
	}
	return cert, doc.Root().SelectAttrValue("entityID", "")
}

// newTestSP makes a gosaml2 service provider at a made-up https base
// (the browser never follows the POST to it: the test hands the
// response to gosaml2 itself) and registers it.
func newTestSP(t *testing.T, env *apptest.Env, name string, encrypt bool, edit func(string) string, release []string) *testSP {
	t.Helper()
	cert, entityID := idpCert(t, env)
	key, der := selfSigned(t, name)
	base := "https://" + name + ".example.fi"
	sp := &saml2.SAMLServiceProvider{
		IdentityProviderSSOURL:      env.URL + saml.PathSSO,
		IdentityProviderSSOBinding:  saml2.BindingHttpRedirect,
		IdentityProviderSLOURL:      env.URL + saml.PathSLO,
		IdentityProviderIssuer:      entityID,
		ServiceProviderIssuer:       base + "/shibboleth",
		AssertionConsumerServiceURL: base + "/Shibboleth.sso/SAML2/POST",
		ServiceProviderSLOURL:       base + "/Shibboleth.sso/SLO/POST",
		AudienceURI:                 base + "/shibboleth",
		SignAuthnRequests:           true,
		IDPCertificateStore:         &dsig.MemoryX509CertificateStore{Roots: []*x509.Certificate{cert}},
		Clock:                       dsig.NewFakeClockAt(env.Clock.Now()),
	}
	// The deprecated field: gosaml2 0.12 decrypts only with it.
	sp.SPKeyStore = dsig.TLSCertKeyStore{Certificate: [][]byte{der}, PrivateKey: key}
	md, err := sp.MetadataWithSLO(0)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := xml.Marshal(md)
	if err != nil {
		t.Fatal(err)
	}
	text := string(raw)
	if !encrypt {
		// Drop the encryption key: assertions then travel in the clear
		// (signed).
		text = regexp.MustCompile(`(?s)<KeyDescriptor use="encryption">.*?</KeyDescriptor>`).ReplaceAllString(text, "")
	}
	if edit != nil {
		text = edit(text)
	}
	if _, err := env.App.SAML.AddService(context.Background(), []byte(text), release, storage.SAMLSourceCLI); err != nil {
		t.Fatalf("register %s: %v\n%s", name, err, text)
	}
	return &testSP{sp: sp, base: base}
}

var (
	postAction = regexp.MustCompile(`<form id="saml-post" method="post" action="([^"]*)">`)
	postField  = func(name string) *regexp.Regexp {
		return regexp.MustCompile(`<input type="hidden" name="` + name + `" value="([^"]*)">`)
	}
)

// postPage reads portti's HTTP-POST binding page: where it posts and
// the message and RelayState.
func postPage(t *testing.T, page, param string) (action, msg, relay string) {
	t.Helper()
	a := postAction.FindStringSubmatch(page)
	m := postField(param).FindStringSubmatch(page)
	if a == nil || m == nil {
		t.Fatalf("not a POST binding page with %s:\n%s", param, page)
	}
	if r := postField("RelayState").FindStringSubmatch(page); r != nil {
		relay = html.UnescapeString(r[1])
	}
	return html.UnescapeString(a[1]), html.UnescapeString(m[1]), relay
}

// TestSAMLWebSSO signs in to gosaml2 service providers through the real
// login form with both bindings, checks the signature, the encryption,
// the attributes and their release, then logs out through Single Logout
// both ways.
func TestSAMLWebSSO(t *testing.T) {
	env := apptest.Start(t, map[string]string{"PORTTI_SAML_SCOPE": "example.fi"})
	ctx := context.Background()
	const pw = "kesämökki järven rannalla"
	aino, err := env.App.Accounts.AddUser(ctx, "aino@example.fi", account.Profile{GivenName: "Aino", FamilyName: "Virtanen"}, pw, account.Meta{ClientIP: "test", Lang: "fi"})
	if err != nil {
		t.Fatal(err)
	}
	// moodle: encrypted assertions, both response and assertion signed,
	// asks for three attributes, all released.
	moodle := newTestSP(t, env, "moodle", true, func(md string) string {
		return strings.Replace(md, "</SPSSODescriptor>", `<AttributeConsumingService index="1"><ServiceName xml:lang="en">Moodle</ServiceName>`+
			`<RequestedAttribute Name="urn:oid:1.3.6.1.4.1.5923.1.1.1.6"/>`+
			`<RequestedAttribute Name="urn:oid:0.9.2342.19200300.100.1.3"/>`+
			`<RequestedAttribute Name="urn:oid:1.3.6.1.4.1.5923.1.1.1.9"/>`+
			`</AttributeConsumingService></SPSSODescriptor>`, 1)
	}, nil)
	// library: clear assertions, only the response signed, requests
	// nothing; the operator releases only mail and displayName.
	library := newTestSP(t, env, "library", false, func(md string) string {
		return strings.Replace(md, `WantAssertionsSigned="true"`, `WantAssertionsSigned="false"`, 1)
	}, []string{"mail", "displayName"})

	c := env.Browser(t)
	// HTTP-Redirect binding, signed query: no session, so the login form.
	adoc, err := moodle.sp.BuildAuthRequestDocumentNoSig()
	if err != nil {
		t.Fatal(err)
	}
	u, err := moodle.sp.BuildAuthURLRedirect("relay-moodle", adoc)
	if err != nil {
		t.Fatal(err)
	}
	resp, page := browse(t, c, u)
	ret, _ := loginForm(t, resp, page)
	if !strings.HasPrefix(ret, saml.PathContinue+"?s=") {
		t.Fatalf("return field %q", ret)
	}
	_, page = post(t, c, env.URL+"/login", url.Values{"email": {"aino@example.fi"}, "password": {pw}, "return": {ret}})
	action, msg, relay := postPage(t, page, "SAMLResponse")
	if action != moodle.sp.AssertionConsumerServiceURL || relay != "relay-moodle" {
		t.Fatalf("posted to %q with RelayState %q", action, relay)
	}
	raw, _ := base64.StdEncoding.DecodeString(msg)
	if !strings.Contains(string(raw), "http://www.w3.org/2009/xmlenc11#aes256-gcm") || strings.Contains(string(raw), "Aino") {
		t.Fatalf("assertion not encrypted with AES-256-GCM:\n%s", raw)
	}
	info, err := moodle.sp.RetrieveAssertionInfo(msg)
	if err != nil {
		t.Fatalf("gosaml2 refused the response: %v\n%s", err, raw)
	}
	if info.WarningInfo.InvalidTime || info.WarningInfo.NotInAudience {
		t.Fatalf("warnings: %+v", info.WarningInfo)
	}
	if !info.ResponseSignatureValidated || info.NameIDFormat != "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent" || info.NameID == "" || info.SessionIndex == "" {
		t.Fatalf("assertion info: %+v", info)
	}
	eppn := info.Values.Get("urn:oid:1.3.6.1.4.1.5923.1.1.1.6")
	if !strings.HasSuffix(eppn, "@example.fi") || info.Values.Get("urn:oid:0.9.2342.19200300.100.1.3") != "aino@example.fi" ||
		info.Values.Get("urn:oid:1.3.6.1.4.1.5923.1.1.1.9") != "member@example.fi" {
		t.Fatalf("attributes: %+v", info.Values)
	}
	if a := info.Values["urn:oid:1.3.6.1.4.1.5923.1.1.1.6"]; a.FriendlyName != "eduPersonPrincipalName" || a.NameFormat != "urn:oasis:names:tc:SAML:2.0:attrname-format:uri" {
		t.Fatalf("attribute naming: %+v", a)
	}
	if _, ok := info.Values["urn:oid:2.5.4.42"]; ok {
		t.Fatal("givenName released although not requested")
	}
	moodleNameID, moodleIndex := info.NameID, info.SessionIndex

	// HTTP-POST binding to the second service: the session is there
	// (the POST continues on a same-site GET), so no form.
	doc, err := library.sp.BuildAuthRequestDocument()
	if err != nil {
		t.Fatal(err)
	}
	xmlReq, _ := doc.WriteToString()
	resp, err = c.PostForm(env.URL+saml.PathSSO, url.Values{"SAMLRequest": {base64.StdEncoding.EncodeToString([]byte(xmlReq))}, "RelayState": {"r2"}})
	if err != nil {
		t.Fatal(err)
	}
	body := readBody(t, resp)
	if resp.Request.URL.Path != saml.PathContinue {
		t.Fatalf("POST binding ended at %s:\n%s", resp.Request.URL, body)
	}
	_, msg, _ = postPage(t, body, "SAMLResponse")
	info, err = library.sp.RetrieveAssertionInfo(msg)
	if err != nil {
		t.Fatalf("gosaml2 refused the library's response: %v", err)
	}
	if info.Values.Get("urn:oid:2.16.840.1.113730.3.1.241") != "Aino Virtanen" || info.Values.Get("urn:oid:0.9.2342.19200300.100.1.3") != "aino@example.fi" || len(info.Values) != 2 {
		t.Fatalf("library's attributes: %+v", info.Values)
	}
	if info.NameID == moodleNameID {
		t.Fatal("the same NameID for two services (not pairwise)")
	}
	// The same request again is a replay.
	resp, err = c.PostForm(env.URL+saml.PathSSO, url.Values{"SAMLRequest": {base64.StdEncoding.EncodeToString([]byte(xmlReq))}})
	if err != nil {
		t.Fatal(err)
	}
	if body := readBody(t, resp); resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "saml.error.replay") && !strings.Contains(body, "already") && !strings.Contains(body, "jo") {
		t.Fatalf("replay: %d\n%s", resp.StatusCode, body)
	}
	events, err := env.App.Store.ListEvents(ctx, "", 5)
	if err != nil {
		t.Fatal(err)
	}
	if len(events) == 0 || events[0].Kind != saml.AuditRefused || !strings.Contains(events[0].Reason, "replay") || events[0].Ref == "" {
		t.Fatalf("no audit event for the replay: %+v", events)
	}

	// Single Logout from moodle (HTTP-Redirect, signed query): portti
	// ends the session, tells the library (POST, signed), which
	// answers; then portti answers moodle.
	lr, err := moodle.sp.BuildLogoutRequestDocument(moodleNameID, moodleIndex)
	if err != nil {
		t.Fatal(err)
	}
	u, err = moodle.sp.BuildLogoutURLRedirect("bye", lr)
	if err != nil {
		t.Fatal(err)
	}
	resp, page = browse(t, c, u)
	action, msg, relay = postPage(t, page, "SAMLRequest")
	if action != library.sp.ServiceProviderSLOURL {
		t.Fatalf("LogoutRequest went to %s", action)
	}
	req, err := library.sp.ValidateEncodedLogoutRequestPOST(msg)
	if err != nil {
		t.Fatalf("gosaml2 refused portti's LogoutRequest: %v", err)
	}
	if req.NameID == nil || req.NameID.Value == moodleNameID || req.NameID.Value == "" {
		t.Fatalf("LogoutRequest NameID %+v", req.NameID)
	}
	rdoc, err := library.sp.BuildLogoutResponseDocument("urn:oasis:names:tc:SAML:2.0:status:Success", req.ID)
	if err != nil {
		t.Fatal(err)
	}
	rxml, _ := rdoc.WriteToString()
	resp, err = c.PostForm(env.URL+saml.PathSLO, url.Values{"SAMLResponse": {base64.StdEncoding.EncodeToString([]byte(rxml))}, "RelayState": {relay}})
	if err != nil {
		t.Fatal(err)
	}
	action, msg, relay = postPage(t, readBody(t, resp), "SAMLResponse")
	if action != moodle.sp.ServiceProviderSLOURL || relay != "bye" {
		t.Fatalf("LogoutResponse to %s relay %q", action, relay)
	}
	lresp, err := moodle.sp.ValidateEncodedLogoutResponsePOST(msg)
	if err != nil {
		t.Fatalf("gosaml2 refused portti's LogoutResponse: %v", err)
	}
	if lresp.Status.StatusCode.Value != "urn:oasis:names:tc:SAML:2.0:status:Success" {
		t.Fatalf("logout status %+v", lresp.Status)
	}
	sessions, err := env.App.Store.ListSessions(ctx, aino.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(sessions) != 0 {
		t.Fatalf("%d sessions left after Single Logout", len(sessions))
	}
	resp, page = browse(t, c, env.URL+"/account")
	if resp.Request.URL.Path != "/login" {
		t.Fatalf("after Single Logout /account is at %s", resp.Request.URL)
	}
	_ = page
}

func readBody(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return b.String()
}
