package saml

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/portti/portti/internal/storage"
	"github.com/portti/portti/internal/storage/sqlstore"
)

// pages records what would have been rendered.
type pages struct {
	mu      sync.Mutex
	problem string
	page    map[string]any
}

func (p *pages) RenderPage(w http.ResponseWriter, r *http.Request, status int, name, titleKey string, data map[string]any) {
	p.mu.Lock()
	p.page = data
	p.mu.Unlock()
	w.WriteHeader(status)
	fmt.Fprintf(w, "page %s", name)
}

func (p *pages) RenderProblem(w http.ResponseWriter, r *http.Request, status int, key, ref string) {
	p.mu.Lock()
	p.problem = key
	p.mu.Unlock()
	w.WriteHeader(status)
	fmt.Fprintf(w, "problem %s %s", key, ref)
}

var testNow = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

// newTestProvider is a provider on a real SQLite database.
func newTestProvider(t testing.TB) (*Provider, *pages, storage.Storage) {
	t.Helper()
	st, err := sqlstore.Open(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	pg := &pages{}
	p, err := New(context.Background(), Config{
		Store: st, Pages: pg, PublicURL: "https://id.example.fi", Scope: "example.fi",
		KeyEncryptionKey: make([]byte, 32), Now: func() time.Time { return testNow },
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.ensureKeys(context.Background()); err != nil {
		t.Fatal(err)
	}
	return p, pg, st
}

func testCert(t testing.TB, cn string) (*rsa.PrivateKey, []byte) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: cn},
		NotBefore: testNow.AddDate(-1, 0, 0), NotAfter: testNow.AddDate(1, 0, 0)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return key, der
}

func spMetadata(entityID string, cert []byte, extra string) string {
	c := base64.StdEncoding.EncodeToString(cert)
	return `<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="` + entityID + `">` +
		`<md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol" AuthnRequestsSigned="true">` +
		`<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>` + c + `</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>` +
		`<md:KeyDescriptor use="encryption"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>` + c + `</ds:X509Certificate></ds:X509Data></ds:KeyInfo>` + extra + `</md:KeyDescriptor>` +
		`<md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="` + entityID + `/slo"/>` +
		`<md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="` + entityID + `/acs" index="1"/>` +
		`</md:SPSSODescriptor></md:EntityDescriptor>`
}

func TestRequestedContext(t *testing.T) {
	p, _, _ := newTestProvider(t)
	const mfa, sfa = "https://refeds.org/profile/mfa", "https://refeds.org/profile/sfa"
	const ppt = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
	for _, tc := range []struct {
		cmp     string
		classes []string
		mfa     bool
		class   string
		unmet   bool
	}{
		{"exact", nil, false, "", false},
		{"exact", []string{mfa}, true, "", false},
		{"exact", []string{ppt, mfa}, false, ppt, false},
		{"exact", []string{"urn:x", mfa}, true, "", false},
		{"exact", []string{"urn:x"}, false, "", true},
		{"minimum", []string{ppt}, false, ppt, false},
		{"minimum", []string{mfa}, true, "", false},
		{"better", []string{sfa}, true, "", false},
		{"better", []string{mfa}, false, "", true},
		{"maximum", []string{mfa, sfa}, false, sfa, false},
	} {
		m, c, u := p.requestedContext(tc.cmp, tc.classes)
		if m != tc.mfa || c != tc.class || u != tc.unmet {
			t.Errorf("%s %v = %v %q %v, want %v %q %v", tc.cmp, tc.classes, m, c, u, tc.mfa, tc.class, tc.unmet)
		}
	}
}

func TestAttributes(t *testing.T) {
	p, _, _ := newTestProvider(t)
	acct := storage.Account{ID: "abc_DEF-123", Email: "aino@example.fi", GivenName: "Aino", FamilyName: "Virtanen", Locale: "fi"}
	sp := &serviceProvider{EntityID: "https://sp.example/", Release: AttributeNames()}
	got := map[string][]string{}
	for _, a := range released(sp) {
		got[a.Friendly] = p.values(a, acct, sp)
	}
	id := uniqueID(acct.ID)
	if strings.Trim(id, "abcdefghijklmnopqrstuvwxyz234567") != "" || len(id) != 32 {
		t.Fatalf("unique ID %q is not lowercase base32", id)
	}
	want := map[string][]string{
		"cn": {"Aino Virtanen"}, "displayName": {"Aino Virtanen"}, "sn": {"Virtanen"}, "givenName": {"Aino"},
		"mail": {"aino@example.fi"}, "eduPersonPrincipalName": {id + "@example.fi"}, "subject-id": {id + "@example.fi"},
		"eduPersonAffiliation": {"member"}, "eduPersonScopedAffiliation": {"member@example.fi"},
		"schacHomeOrganization": {"example.fi"}, "schacHomeOrganizationType": {"urn:schac:homeOrganizationType:int:university"},
		"preferredLanguage": {"fi"}, "eduPersonAssurance": assurance,
	}
	for k, v := range want {
		if !slices.Equal(got[k], v) {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	pw := got["pairwise-id"][0]
	other := p.values(attribute{Friendly: "pairwise-id"}, acct, &serviceProvider{EntityID: "https://other.example/"})[0]
	if !strings.HasSuffix(pw, "@example.fi") || pw == other || pw == got["subject-id"][0] {
		t.Errorf("pairwise-id %q (other service %q) is not pairwise", pw, other)
	}
	// Release and request intersect; nothing requested means all released.
	sp.Release = []string{"mail", "cn", "eduPersonPrincipalName"}
	sp.Requested = []string{"urn:oid:0.9.2342.19200300.100.1.3", "urn:oid:2.5.4.42"}
	if r := released(sp); len(r) != 1 || r[0].Friendly != "mail" {
		t.Errorf("released %+v, want mail only", r)
	}
	for typ, want := range map[string][]string{"staff": {"member", "staff", "employee"}, "student": {"member", "student"},
		"guest": {"affiliate"}, "external": {"affiliate"}, "": {"member"}} {
		if got := affiliations(typ); !slices.Equal(got, want) {
			t.Errorf("affiliations(%q) = %v", typ, got)
		}
	}
	if _, err := CheckRelease([]string{"mail", "shoeSize"}); err == nil {
		t.Error("an unknown attribute was accepted")
	}
}

func TestEncryptionAlgorithmChoice(t *testing.T) {
	_, cert := testCert(t, "sp")
	for extra, want := range map[string]string{
		"": encAES256GCM,
		`<md:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#aes128-cbc"/>`:                                                                               encAES128CBC,
		`<md:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#aes256-cbc"/><md:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#aes128-cbc"/>`: encAES256CBC,
		`<md:EncryptionMethod Algorithm="http://www.w3.org/2009/xmlenc11#aes256-gcm"/><md:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#aes128-cbc"/>`:  encAES256GCM,
	} {
		sp, err := parseSPMetadata([]byte(spMetadata("https://sp.example", cert, extra)))
		if err != nil {
			t.Fatal(err)
		}
		if sp.EncryptionAlg != want {
			t.Errorf("with %q: %s, want %s", extra, sp.EncryptionAlg, want)
		}
	}
}

// TestEncryptCBC decrypts what encrypt made for a service that can only
// do AES-CBC, as such a service would.
func TestEncryptCBC(t *testing.T) {
	key, der := testCert(t, "sp")
	cert, _ := x509.ParseCertificate(der)
	el := etree.NewElement("saml:Assertion")
	el.CreateAttr("xmlns:saml", nsSAML)
	el.SetText("secret")
	ed, err := encrypt(el, cert, encAES256CBC)
	if err != nil {
		t.Fatal(err)
	}
	wrapped, _ := base64.StdEncoding.DecodeString(ed.FindElement("./KeyInfo/EncryptedKey/CipherData/CipherValue").Text())
	ct, _ := base64.StdEncoding.DecodeString(ed.FindElement("./CipherData/CipherValue").Text())
	aesKey, err := rsa.DecryptOAEP(sha1.New(), nil, key, wrapped, nil)
	if err != nil || len(aesKey) != 32 {
		t.Fatalf("key transport: %v (%d bytes)", err, len(aesKey))
	}
	block, _ := aes.NewCipher(aesKey)
	plain := make([]byte, len(ct)-16)
	cipher.NewCBCDecrypter(block, ct[:16]).CryptBlocks(plain, ct[16:])
	plain = plain[:len(plain)-int(plain[len(plain)-1])]
	if !strings.Contains(string(plain), ">secret</saml:Assertion>") {
		t.Fatalf("decrypted %q", plain)
	}
}

// TestLogoutOverRedirectSigned: portti's logout messages over the
// HTTP-Redirect binding carry a query signature that verifies with the
// certificate in its metadata, and name the SessionIndex.
func TestLogoutOverRedirectSigned(t *testing.T) {
	p, _, st := newTestProvider(t)
	_, cert := testCert(t, "sp")
	if _, err := p.AddService(context.Background(), []byte(spMetadata("https://sp.example", cert, "")), nil, storage.SAMLSourceCLI); err != nil {
		t.Fatal(err)
	}
	_ = st
	rec := httptest.NewRecorder()
	r := httptest.NewRequest("GET", "/saml/logout", nil)
	chain := &logoutChain{Remaining: []logoutEntry{{SP: "https://sp.example", NameID: "n1", Index: "_ix"}}, At: testNow.Unix()}
	p.nextLogout(rec, r, chain)
	loc := rec.Header().Get("Location")
	u, err := url.Parse(loc)
	if err != nil || !strings.HasPrefix(loc, "https://sp.example/slo?") {
		t.Fatalf("Location %q", loc)
	}
	vals, signed, err := rawQuery(u.RawQuery, "SAMLRequest")
	if err != nil {
		t.Fatal(err)
	}
	if err := verifyQuery(signed, vals["SigAlg"], vals["Signature"], []*x509.Certificate{p.keys.signParsed}); err != nil {
		t.Fatalf("query signature: %v", err)
	}
	in, err := readMessage(httptest.NewRecorder(), httptest.NewRequest("GET", "/x?"+u.RawQuery, nil), "SAMLRequest")
	if err != nil {
		t.Fatal(err)
	}
	if ix := in.root.FindElement("./SessionIndex"); ix == nil || ix.Text() != "_ix" {
		t.Fatalf("no SessionIndex in the LogoutRequest")
	}
	// And the final LogoutResponse to the service that asked.
	rec = httptest.NewRecorder()
	p.nextLogout(rec, r, &logoutChain{Origin: "https://sp.example", OriginID: "_req", OriginRelay: "rs", At: testNow.Unix()})
	u, _ = url.Parse(rec.Header().Get("Location"))
	vals, signed, err = rawQuery(u.RawQuery, "SAMLResponse")
	if err != nil {
		t.Fatal(err)
	}
	if vals["RelayState"] != "rs" {
		t.Fatalf("RelayState %q", vals["RelayState"])
	}
	if err := verifyQuery(signed, vals["SigAlg"], vals["Signature"], []*x509.Certificate{p.keys.signParsed}); err != nil {
		t.Fatalf("LogoutResponse query signature: %v", err)
	}
}

func TestReadMetadataURLRules(t *testing.T) {
	p, _, _ := newTestProvider(t)
	if _, err := p.ReadMetadata(context.Background(), "http://sp.example/md.xml", maxSPMetadata); err == nil || !strings.Contains(err.Error(), "https") {
		t.Fatalf("plain http accepted: %v", err)
	}
}

func TestExpiredMetadataRefused(t *testing.T) {
	p, _, _ := newTestProvider(t)
	_, cert := testCert(t, "sp")
	md := strings.Replace(spMetadata("https://sp.example", cert, ""), `entityID=`, `validUntil="2026-01-01T00:00:00Z" entityID=`, 1)
	if _, err := p.AddService(context.Background(), []byte(md), nil, storage.SAMLSourceCLI); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("expired metadata: %v", err)
	}
}

// aggregate is a federation: an EntitiesDescriptor signed with its key.
func aggregate(t *testing.T, key *rsa.PrivateKey, cert []byte, validUntil time.Time, entities ...string) string {
	t.Helper()
	doc := etree.NewDocument()
	if err := doc.ReadFromString(`<md:EntitiesDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" ID="_agg" validUntil="` +
		validUntil.Format(time.RFC3339) + `">` + strings.Join(entities, "") + `</md:EntitiesDescriptor>`); err != nil {
		t.Fatal(err)
	}
	ctx, _ := dsig.NewSigningContext(key, [][]byte{cert})
	ctx.Canonicalizer = dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("")
	sig, err := ctx.ConstructSignature(doc.Root(), true)
	if err != nil {
		t.Fatal(err)
	}
	doc.Root().InsertChildAt(0, sig)
	s, _ := doc.WriteToString()
	return s
}

func TestAggregate(t *testing.T) {
	p, _, st := newTestProvider(t)
	fedKey, fedCert := testCert(t, "federation")
	_, spCert := testCert(t, "sp")
	dir := t.TempDir()
	pemPath := filepath.Join(dir, "fed.pem")
	if err := os.WriteFile(pemPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: fedCert}), 0o600); err != nil {
		t.Fatal(err)
	}
	idp := `<md:EntityDescriptor entityID="https://idp.other/"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"/></md:EntityDescriptor>`
	a, b := spMetadata("https://a.example", spCert, ""), spMetadata("https://b.example", spCert, "")
	var mu sync.Mutex
	body := aggregate(t, fedKey, fedCert, testNow.Add(48*time.Hour), a, b, idp)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		_, _ = w.Write([]byte(body))
	}))
	defer srv.Close()
	set := func(s string) { mu.Lock(); body = s; mu.Unlock() }
	ag := Aggregate{URL: srv.URL, Certificate: pemPath, Release: []string{"mail"}}
	ctx := context.Background()

	n, err := p.RefreshAggregate(ctx, ag)
	if err != nil || n != 2 {
		t.Fatalf("refresh: %d services, %v", n, err)
	}
	got, err := p.lookupSP(ctx, "https://b.example")
	if err != nil || !slices.Equal(got.Release, []string{"mail"}) {
		t.Fatalf("b from the aggregate: %+v %v", got, err)
	}
	// Tampered after signing: refused, the services stay.
	set(strings.Replace(aggregate(t, fedKey, fedCert, testNow.Add(48*time.Hour), a, b), "https://b.example/acs", "https://evil.example/acs", 1))
	if _, err := p.RefreshAggregate(ctx, ag); err == nil || !strings.Contains(err.Error(), "signature") {
		t.Fatalf("tampered aggregate: %v", err)
	}
	// Signed by someone else.
	otherKey, otherCert := testCert(t, "other")
	set(aggregate(t, otherKey, otherCert, testNow.Add(48*time.Hour), a))
	if _, err := p.RefreshAggregate(ctx, ag); err == nil {
		t.Fatal("an aggregate signed by another key was accepted")
	}
	// Expired.
	set(aggregate(t, fedKey, fedCert, testNow.Add(-time.Hour), a))
	if _, err := p.RefreshAggregate(ctx, ag); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("expired aggregate: %v", err)
	}
	if _, err := p.lookupSP(ctx, "https://b.example"); err != nil {
		t.Fatalf("a failed refresh removed services: %v", err)
	}
	// b leaves the federation.
	set(aggregate(t, fedKey, fedCert, testNow.Add(48*time.Hour), a))
	if n, err := p.RefreshAggregate(ctx, ag); err != nil || n != 1 {
		t.Fatalf("refresh: %d, %v", n, err)
	}
	if _, err := st.GetSAMLServiceProvider(ctx, "https://b.example"); err == nil {
		t.Fatal("a service that left the aggregate is still registered")
	}
	// Its metadata inherits the aggregate's validUntil: used no longer
	// than the aggregate may be.
	rec, _ := st.GetSAMLServiceProvider(ctx, "https://a.example")
	if !rec.ValidUntil.Equal(testNow.Add(48 * time.Hour)) {
		t.Fatalf("validUntil %v", rec.ValidUntil)
	}
}

func TestKeysPersistAndSeal(t *testing.T) {
	p, _, st := newTestProvider(t)
	keys, err := st.ListSAMLKeys(context.Background())
	if err != nil || len(keys) != 3 {
		t.Fatalf("%d keys, %v", len(keys), err)
	}
	for _, k := range keys {
		if k.Private[0] != 1 {
			t.Errorf("%s key stored unsealed", k.Use)
		}
	}
	// A second provider on the same database uses the same keys.
	q, err := New(context.Background(), Config{Store: st, Pages: &pages{}, PublicURL: "https://id.example.fi",
		KeyEncryptionKey: make([]byte, 32), Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	if err := q.ensureKeys(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !q.keys.signKey.Equal(p.keys.signKey) || string(q.keys.pairwise) != string(p.keys.pairwise) {
		t.Fatal("another node made its own keys")
	}
	// The wrong key encryption key does not open them.
	wrong := make([]byte, 32)
	wrong[0] = 1
	r, _ := New(context.Background(), Config{Store: st, Pages: &pages{}, PublicURL: "https://id.example.fi", KeyEncryptionKey: wrong})
	if err := r.ensureKeys(context.Background()); err == nil || !strings.Contains(err.Error(), "key_encryption_key") {
		t.Fatalf("wrong KEK: %v", err)
	}
}

// TestMetadata: what a federation reads from portti's metadata.
func TestMetadata(t *testing.T) {
	p, _, _ := newTestProvider(t)
	md, err := p.Metadata(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(md); err != nil {
		t.Fatal(err)
	}
	root := doc.Root()
	if root.SelectAttrValue("entityID", "") != "https://id.example.fi/saml/metadata" || root.SelectAttrValue("validUntil", "") != "2026-11-30T10:00:00Z" {
		t.Fatalf("entityID %q validUntil %q", root.SelectAttrValue("entityID", ""), root.SelectAttrValue("validUntil", ""))
	}
	if _, err := verifyElement(root, []*x509.Certificate{p.keys.signParsed}); err != nil {
		t.Fatalf("signature: %v", err)
	}
	idp := root.FindElement("./IDPSSODescriptor")
	for path, want := range map[string]string{
		"./Extensions/Scope": "example.fi",
		"./SingleSignOnService[@Binding='" + bindingRedirect + "']":                              "",
		"./SingleSignOnService[@Binding='" + bindingPOST + "']":                                  "",
		"./SingleLogoutService[@Binding='" + bindingRedirect + "']":                              "",
		"./KeyDescriptor[@use='encryption']/EncryptionMethod[@Algorithm='" + encAES256GCM + "']": "",
		"./NameIDFormat": nameIDPersistent,
	} {
		el := idp.FindElement(path)
		if el == nil || want != "" && el.Text() != want {
			t.Errorf("%s: %v", path, el)
		}
	}
	for _, sso := range idp.FindElements("./SingleSignOnService") {
		if sso.SelectAttrValue("Location", "") != "https://id.example.fi/saml/sso" {
			t.Errorf("SSO location %q", sso.SelectAttrValue("Location", ""))
		}
	}
	for _, use := range []string{"signing", "encryption"} {
		c := idp.FindElement("./KeyDescriptor[@use='" + use + "']/KeyInfo/X509Data/X509Certificate")
		der, _ := base64.StdEncoding.DecodeString(c.Text())
		cert, err := x509.ParseCertificate(der)
		if err != nil || cert.PublicKey.(*rsa.PublicKey).N.BitLen() < 2048 {
			t.Errorf("%s certificate: %v", use, err)
		}
	}
}
