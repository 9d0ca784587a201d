package app_test

import (
	"bytes"
	"compress/flate"
	"context"
	"encoding/base64"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
	saml2 "github.com/russellhaering/gosaml2"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/portti/portti/internal/account"
	"github.com/portti/portti/internal/app/apptest"
	"github.com/portti/portti/internal/oidc"
	"github.com/portti/portti/internal/saml"
)

// samlPost sends an AuthnRequest document over the HTTP-POST binding.
func samlPost(t *testing.T, c *http.Client, env *apptest.Env, path string, xmlText string) (*http.Response, string) {
	t.Helper()
	resp, err := c.PostForm(env.URL+path, url.Values{"SAMLRequest": {base64.StdEncoding.EncodeToString([]byte(xmlText))}})
	if err != nil {
		t.Fatal(err)
	}
	return resp, readBody(t, resp)
}

func deflateB64(t *testing.T, data []byte) string {
	t.Helper()
	var buf bytes.Buffer
	fw, _ := flate.NewWriter(&buf, flate.BestCompression)
	_, _ = fw.Write(data)
	_ = fw.Close()
	return base64.StdEncoding.EncodeToString(buf.Bytes())
}

// refused checks the error page: status 400, the explanation of key (in
// English) and a reference code; and that the refusal was audited.
func refused(t *testing.T, env *apptest.Env, resp *http.Response, body, want string) {
	t.Helper()
	if resp.StatusCode != http.StatusBadRequest && resp.StatusCode != http.StatusNotFound {
		t.Fatalf("status %d, want 400:\n%s", resp.StatusCode, body)
	}
	if !strings.Contains(body, want) || !strings.Contains(body, "Reference code") {
		t.Fatalf("page lacks %q:\n%s", want, body)
	}
	events, err := env.App.Store.ListEvents(context.Background(), "", 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(events) == 0 || events[0].Kind != saml.AuditRefused || events[0].Ref == "" || !strings.Contains(body, events[0].Ref) {
		t.Fatalf("no audit event with the page's reference code: %+v", events)
	}
}

// TestSAMLBadInput: each hostile or broken message gets a clear error
// page and an audit event, and never a response to an address the
// service did not register.
func TestSAMLBadInput(t *testing.T) {
	env := apptest.Start(t, nil)
	sp := newTestSP(t, env, "sp", false, nil, nil).sp
	c := env.Browser(t)
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	en := func(r *http.Request) { r.Header.Set("Accept-Language", "en") }
	_ = en

	signed := func(mutate func(el *etree.Element)) string {
		t.Helper()
		doc, err := sp.BuildAuthRequestDocumentNoSig()
		if err != nil {
			t.Fatal(err)
		}
		if mutate != nil {
			mutate(doc.Root())
		}
		el, err := sp.SignAuthnRequest(doc.Root())
		if err != nil {
			t.Fatal(err)
		}
		d := etree.NewDocument()
		d.SetRoot(el)
		s, _ := d.WriteToString()
		return s
	}

	t.Run("UnknownService", func(t *testing.T) {
		other := cloneSP(sp)
		other.ServiceProviderIssuer = "https://stranger.example/sp"
		u, err := other.BuildAuthURL("")
		if err != nil {
			t.Fatal(err)
		}
		resp, body := browse(t, c, u)
		refused(t, env, resp, body, "not registered with this sign-in service")
	})
	t.Run("UnknownACS", func(t *testing.T) {
		resp, body := samlPost(t, c, env, saml.PathSSO, signed(func(el *etree.Element) {
			el.CreateAttr("AssertionConsumerServiceURL", "https://evil.example/acs")
		}))
		refused(t, env, resp, body, "not registered for it")
		if strings.Contains(body, "evil.example") {
			t.Fatal("the page names the unregistered address")
		}
	})
	t.Run("ACSPrefixIsNotAMatch", func(t *testing.T) {
		resp, body := samlPost(t, c, env, saml.PathSSO, signed(func(el *etree.Element) {
			el.CreateAttr("AssertionConsumerServiceURL", sp.AssertionConsumerServiceURL+"/../../evil")
		}))
		refused(t, env, resp, body, "not registered for it")
	})
	t.Run("UnsignedWhenMetadataSaysSigned", func(t *testing.T) {
		doc, _ := sp.BuildAuthRequestDocumentNoSig()
		s, _ := doc.WriteToString()
		resp, body := samlPost(t, c, env, saml.PathSSO, s)
		refused(t, env, resp, body, "was not signed")
		u, _ := sp.BuildAuthURLFromDocument("", doc) // Redirect, no query signature
		resp, body = browse(t, c, u)
		refused(t, env, resp, body, "was not signed")
	})
	t.Run("TamperedAfterSigning", func(t *testing.T) {
		s := signed(nil)
		s = strings.Replace(s, `ForceAuthn`, `ForceAuthm`, 1)
		s = strings.Replace(s, sp.AssertionConsumerServiceURL, sp.AssertionConsumerServiceURL+"x", 1)
		resp, body := samlPost(t, c, env, saml.PathSSO, s)
		if resp.StatusCode != 400 {
			t.Fatalf("tampered request: %d", resp.StatusCode)
		}
		_ = body
	})
	t.Run("TamperedQuerySignature", func(t *testing.T) {
		doc, _ := sp.BuildAuthRequestDocumentNoSig()
		u, err := sp.BuildAuthURLRedirect("state", doc)
		if err != nil {
			t.Fatal(err)
		}
		u = strings.Replace(u, "RelayState=state", "RelayState=other", 1)
		resp, body := browse(t, c, u)
		refused(t, env, resp, body, "does not match")
	})
	t.Run("SignatureWrapping", func(t *testing.T) {
		// The service's genuinely signed request is wrapped inside a
		// forged one whose ACS is the attacker's: the signature covers
		// the inner element only, so the outer one counts as unsigned.
		doc := etree.NewDocument()
		if err := doc.ReadFromString(signed(nil)); err != nil {
			t.Fatal(err)
		}
		inner := doc.Root()
		outer := inner.Copy()
		outer.Child = nil
		outer.CreateAttr("ID", "_forged")
		outer.CreateAttr("AssertionConsumerServiceURL", "https://evil.example/acs")
		outer.CreateElement("saml:Issuer").SetText(sp.ServiceProviderIssuer)
		ext := outer.CreateElement("samlp:Extensions")
		ext.AddChild(inner)
		// And the signature moved up, as wrapping attacks do.
		sig := inner.FindElement("./Signature")
		inner.RemoveChild(sig)
		outer.InsertChildAt(1, sig)
		d := etree.NewDocument()
		d.SetRoot(outer)
		s, _ := d.WriteToString()
		resp, body := samlPost(t, c, env, saml.PathSSO, s)
		if resp.StatusCode != 400 || strings.Contains(body, "evil.example") {
			t.Fatalf("wrapped request: %d\n%s", resp.StatusCode, body)
		}
	})
	// signWith signs a request as gosaml2 would, with another
	// canonicalisation or algorithm.
	signWith := func(canon dsig.Canonicalizer, method string) string {
		t.Helper()
		key, cert, err := sp.SPKeyStore.GetKeyPair()
		if err != nil {
			t.Fatal(err)
		}
		ctx, err := dsig.NewSigningContext(key, [][]byte{cert})
		if err != nil {
			t.Fatal(err)
		}
		ctx.Canonicalizer = canon
		if err := ctx.SetSignatureMethod(method); err != nil {
			t.Fatal(err)
		}
		doc, _ := sp.BuildAuthRequestDocumentNoSig()
		sig, err := ctx.ConstructSignature(doc.Root(), true)
		if err != nil {
			t.Fatal(err)
		}
		doc.Root().InsertChildAt(1, sig)
		s, _ := doc.WriteToString()
		return s
	}
	t.Run("InclusiveCanonicalisation", func(t *testing.T) {
		s := signWith(dsig.MakeC14N10RecCanonicalizer(), dsig.RSASHA256SignatureMethod)
		if !strings.Contains(s, "http://www.w3.org/TR/2001/REC-xml-c14n-20010315") {
			t.Fatalf("not inclusive c14n:\n%s", s)
		}
		resp, body := samlPost(t, c, env, saml.PathSSO, s)
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("inclusive c14n refused: %d\n%s", resp.StatusCode, body)
		}
	})
	t.Run("DeflateBomb", func(t *testing.T) {
		bomb := append([]byte(`<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol">`), bytes.Repeat([]byte(" "), 20<<20)...)
		resp, body := browse(t, c, env.URL+saml.PathSSO+"?SAMLRequest="+url.QueryEscape(deflateB64(t, bomb)))
		refused(t, env, resp, body, "too large")
	})
	t.Run("OversizedPost", func(t *testing.T) {
		resp, body := samlPost(t, c, env, saml.PathSSO, strings.Repeat("<a>", 200<<10))
		refused(t, env, resp, body, "too large")
	})
	t.Run("Malformed", func(t *testing.T) {
		for _, s := range []string{"not xml", "<samlp:AuthnRequest", `<x xmlns="urn:oasis:names:tc:SAML:2.0:protocol"/>`, ""} {
			resp, body := samlPost(t, c, env, saml.PathSSO, s)
			refused(t, env, resp, body, "cannot read")
		}
	})
	t.Run("DocumentTypeDeclaration", func(t *testing.T) {
		lol := `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>` +
			`<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol">&lol2;</samlp:AuthnRequest>`
		resp, body := samlPost(t, c, env, saml.PathSSO, lol)
		refused(t, env, resp, body, "cannot read")
	})
	t.Run("SHA1", func(t *testing.T) {
		s := signWith(dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList(""), dsig.RSASHA1SignatureMethod)
		resp, body := samlPost(t, c, env, saml.PathSSO, s)
		refused(t, env, resp, body, "was not signed")
	})
	t.Run("Stale", func(t *testing.T) {
		s := signed(func(el *etree.Element) {
			el.CreateAttr("IssueInstant", env.Clock.Now().Add(-time.Hour).UTC().Format("2006-01-02T15:04:05Z"))
		})
		resp, body := samlPost(t, c, env, saml.PathSSO, s)
		refused(t, env, resp, body, "too old")
	})
	t.Run("CommentInNameID", func(t *testing.T) {
		// A LogoutRequest whose NameID hides a comment: signed, so only
		// the comment rule stops it.
		doc, err := sp.BuildLogoutRequestDocumentNoSig("victim<!---->suffix", "_index")
		if err != nil {
			t.Fatal(err)
		}
		s, _ := doc.WriteToString()
		s = strings.Replace(s, "victim&lt;!----&gt;suffix", "victim<!---->suffix", 1)
		d := etree.NewDocument()
		if err := d.ReadFromString(s); err != nil {
			t.Fatal(err)
		}
		el, err := sp.SignLogoutRequest(d.Root())
		if err != nil {
			t.Fatal(err)
		}
		d.SetRoot(el)
		s, _ = d.WriteToString()
		if !strings.Contains(s, "<!---->") {
			t.Fatalf("no comment in the request:\n%s", s)
		}
		resp, body := samlPost(t, c, env, saml.PathSLO, s)
		refused(t, env, resp, body, "cannot read")
	})
	t.Run("UnsignedLogoutRequest", func(t *testing.T) {
		doc, _ := sp.BuildLogoutRequestDocumentNoSig("someone", "_index")
		s, _ := doc.WriteToString()
		resp, body := samlPost(t, c, env, saml.PathSLO, s)
		refused(t, env, resp, body, "was not signed")
	})
	t.Run("ForgedState", func(t *testing.T) {
		resp, body := browse(t, c, env.URL+saml.PathContinue+"?s=AAAA")
		refused(t, env, resp, body, "took too long")
	})
}

// TestSAMLRequestOptions: ForceAuthn, IsPassive, transient NameIDs,
// RequestedAuthnContext for MFA, and IdP-initiated sign-in.
func TestSAMLRequestOptions(t *testing.T) {
	env := apptest.StartWithFile(t, "saml:\n  idp_initiated: [https://sp.example.fi/shibboleth]\n", nil)
	ctx := context.Background()
	const pw = "kesämökki järven rannalla"
	acct, err := env.App.Accounts.AddUser(ctx, "aino@example.fi", account.Profile{GivenName: "Aino", FamilyName: "Virtanen"}, pw, account.Meta{ClientIP: "test", Lang: "fi"})
	if err != nil {
		t.Fatal(err)
	}
	sp := newTestSP(t, env, "sp", false, nil, nil).sp
	c := env.Browser(t)
	redirectURL := func(s *saml2.SAMLServiceProvider) string {
		doc, err := s.BuildAuthRequestDocumentNoSig()
		if err != nil {
			t.Fatal(err)
		}
		u, err := s.BuildAuthURLRedirect("", doc)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	status := func(msg string) string {
		raw, _ := base64.StdEncoding.DecodeString(msg)
		d := etree.NewDocument()
		if err := d.ReadFromBytes(raw); err != nil {
			t.Fatal(err)
		}
		var codes []string
		for _, sc := range d.FindElements("//StatusCode") {
			codes = append(codes, sc.SelectAttrValue("Value", ""))
		}
		return strings.Join(codes, " ")
	}

	// IsPassive with nobody signed in: NoPassive, to the ACS.
	passive := cloneSP(sp)
	passive.IsPassive = true
	_, page := browse(t, c, redirectURL(passive))
	action, msg, _ := postPage(t, page, "SAMLResponse")
	if action != sp.AssertionConsumerServiceURL || !strings.HasSuffix(status(msg), "status:NoPassive") {
		t.Fatalf("IsPassive: to %s status %s", action, status(msg))
	}

	// Sign in (transient NameID asked).
	tr := cloneSP(sp)
	tr.NameIdFormat = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"
	resp, page := browse(t, c, redirectURL(tr))
	ret, _ := loginForm(t, resp, page)
	_, page = post(t, c, env.URL+"/login", url.Values{"email": {"aino@example.fi"}, "password": {pw}, "return": {ret}})
	_, msg, _ = postPage(t, page, "SAMLResponse")
	info, err := sp.RetrieveAssertionInfo(msg)
	if err != nil {
		t.Fatal(err)
	}
	if info.NameIDFormat != "urn:oasis:names:tc:SAML:2.0:nameid-format:transient" {
		t.Fatalf("NameID format %s", info.NameIDFormat)
	}
	if info.Values.Get("urn:oid:1.3.6.1.4.1.5923.1.1.1.1") != "member" {
		t.Fatalf("affiliation %+v", info.Values["urn:oid:1.3.6.1.4.1.5923.1.1.1.1"])
	}

	// Signed in now: IsPassive gets the assertion without a page.
	_, page = browse(t, c, redirectURL(passive))
	_, msg, _ = postPage(t, page, "SAMLResponse")
	if _, err := sp.RetrieveAssertionInfo(msg); err != nil {
		t.Fatalf("IsPassive with a session: %v (%s)", err, status(msg))
	}

	// A second service, signed in to from the same session.
	other := newTestSP(t, env, "other", false, nil, nil).sp
	_, page = browse(t, c, redirectURL(other))
	if _, msg, _ = postPage(t, page, "SAMLResponse"); msg == "" {
		t.Fatal("no response for the second service")
	}

	// ForceAuthn: the login form again, the address filled in.
	env.Clock.Advance(time.Minute)
	force := cloneSP(sp)
	force.ForceAuthn = true
	resp, page = browse(t, c, redirectURL(force))
	ret, email := loginForm(t, resp, page)
	if email != "aino@example.fi" {
		t.Fatalf("ForceAuthn login form prefilled %q", email)
	}
	_, page = post(t, c, env.URL+"/login", url.Values{"email": {"aino@example.fi"}, "password": {pw}, "return": {ret}})
	_, msg, _ = postPage(t, page, "SAMLResponse")
	if info, err = sp.RetrieveAssertionInfo(msg); err != nil {
		t.Fatal(err)
	}
	if info.AuthnInstant == nil || info.AuthnInstant.Before(env.Clock.Now().Add(-time.Second)) {
		t.Fatalf("ForceAuthn AuthnInstant %v, want the new sign-in", info.AuthnInstant)
	}
	// The new sign-in replaced the session; it took over the other
	// service (for Single Logout), and only one session is left.
	sessions, err := env.App.Store.ListSessions(ctx, acct.ID)
	if err != nil || len(sessions) != 1 {
		t.Fatalf("sessions after ForceAuthn: %d %v", len(sessions), err)
	}
	if parts, err := env.App.Store.ListSAMLParticipants(ctx, sessions[0].ID); err != nil || len(parts) != 2 {
		t.Fatalf("the new session's services: %+v %v", parts, err)
	}

	// REFEDS MFA asked of a person with no second factor: guided to set
	// one up, then back to the request.
	mfa := cloneSP(sp)
	mfa.RequestedAuthnContext = &saml2.RequestedAuthnContext{Comparison: "exact", Contexts: []string{"https://refeds.org/profile/mfa"}}
	resp, _ = browse(t, c, redirectURL(mfa))
	if resp.Request.URL.Path != "/account/mfa" || !strings.HasPrefix(resp.Request.URL.Query().Get("return"), saml.PathContinue) {
		t.Fatalf("MFA asked: ended at %s", resp.Request.URL)
	}
	// A class portti cannot meet: NoAuthnContext.
	odd := cloneSP(sp)
	odd.RequestedAuthnContext = &saml2.RequestedAuthnContext{Comparison: "exact", Contexts: []string{"urn:example:smartcard"}}
	_, page = browse(t, c, redirectURL(odd))
	if _, msg, _ = postPage(t, page, "SAMLResponse"); !strings.HasSuffix(status(msg), "status:NoAuthnContext") {
		t.Fatalf("unmeetable class: %s", status(msg))
	}
	// PasswordProtectedTransport is met and stated.
	ppt := cloneSP(sp)
	ppt.RequestedAuthnContext = &saml2.RequestedAuthnContext{Comparison: "minimum", Contexts: []string{"urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"}}
	_, page = browse(t, c, redirectURL(ppt))
	_, msg, _ = postPage(t, page, "SAMLResponse")
	if info, err = sp.RetrieveAssertionInfo(msg); err != nil {
		t.Fatal(err)
	}
	if got := info.Assertions[0].AuthnStatement.AuthnContext.AuthnContextClassRef.Value; got != "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport" {
		t.Fatalf("class stated: %q", got)
	}

	// IdP-initiated, for a listed service only.
	_, page = browse(t, c, env.URL+saml.PathInit+"?sp="+url.QueryEscape(sp.ServiceProviderIssuer)+"&RelayState=home")
	action, msg, relay := postPage(t, page, "SAMLResponse")
	if action != sp.AssertionConsumerServiceURL || relay != "home" {
		t.Fatalf("IdP-initiated to %s relay %q", action, relay)
	}
	if raw, _ := base64.StdEncoding.DecodeString(msg); strings.Contains(string(raw), "InResponseTo") {
		t.Fatalf("unsolicited response with InResponseTo:\n%s", raw)
	}
	resp, _ = browse(t, c, env.URL+saml.PathInit+"?sp=https%3A%2F%2Fother.example%2F")
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("IdP-initiated to an unlisted service: %d", resp.StatusCode)
	}
}

// cloneSP copies a gosaml2 service provider's settings (not its cached
// signing context) so a test can vary one request.
func cloneSP(sp *saml2.SAMLServiceProvider) *saml2.SAMLServiceProvider {
	return &saml2.SAMLServiceProvider{
		IdentityProviderSSOURL: sp.IdentityProviderSSOURL, IdentityProviderSSOBinding: sp.IdentityProviderSSOBinding,
		IdentityProviderSLOURL: sp.IdentityProviderSLOURL, IdentityProviderIssuer: sp.IdentityProviderIssuer,
		AssertionConsumerServiceURL: sp.AssertionConsumerServiceURL, ServiceProviderSLOURL: sp.ServiceProviderSLOURL,
		ServiceProviderIssuer: sp.ServiceProviderIssuer, AudienceURI: sp.AudienceURI,
		SignAuthnRequests: sp.SignAuthnRequests, IDPCertificateStore: sp.IDPCertificateStore,
		Clock: sp.Clock, SPKeyStore: sp.SPKeyStore,
	}
}

// TestSAMLServicesFromConfig: saml.service_providers registers services
// at start-up with their release; `portti saml sp remove` cannot take
// them away, and the next start without them removes them.
func TestSAMLServicesFromConfig(t *testing.T) {
	dir := t.TempDir()
	boot := apptest.Start(t, nil)
	sp := newTestSP(t, boot, "cfg", false, nil, nil)
	// The metadata as registered: write it to a file for the next start.
	rec, err := boot.App.Store.GetSAMLServiceProvider(context.Background(), sp.sp.ServiceProviderIssuer)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "sp.xml")
	if err := os.WriteFile(file, rec.Metadata, 0o600); err != nil {
		t.Fatal(err)
	}
	env := apptest.StartWithFile(t, "saml:\n  service_providers:\n    - metadata: "+file+"\n      release: [mail, displayName]\n", nil)
	got, err := env.App.Store.GetSAMLServiceProvider(context.Background(), sp.sp.ServiceProviderIssuer)
	if err != nil {
		t.Fatalf("not registered from the file: %v", err)
	}
	if got.Source != "config" || strings.Join(got.Release, ",") != "mail,displayName" {
		t.Fatalf("registered as %+v", got)
	}
	if err := env.App.SyncSAMLServices(context.Background(), env.App.Config.SAML.ServiceProviders); err != nil {
		t.Fatal(err)
	}
	if err := env.App.SyncSAMLServices(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := env.App.Store.GetSAMLServiceProvider(context.Background(), sp.sp.ServiceProviderIssuer); err == nil {
		t.Fatal("a service the file no longer lists is still registered")
	}
}

// TestSAMLLogoutFromPortti: portti's own logout — the account pages'
// "sign out" (POST /logout) and POST /saml/logout — ends the session and
// tells each SAML service in turn.
func TestSAMLLogoutFromPortti(t *testing.T) {
	env := apptest.Start(t, nil)
	const pw = "kesämökki järven rannalla"
	if _, err := env.App.Accounts.AddUser(context.Background(), "aino@example.fi", account.Profile{GivenName: "Aino", FamilyName: "Virtanen"}, pw, account.Meta{ClientIP: "test", Lang: "en"}); err != nil {
		t.Fatal(err)
	}
	sp := newTestSP(t, env, "moodle", false, nil, nil).sp
	for _, path := range []string{"/logout", saml.PathLogout} {
		c := env.Browser(t)
		doc, _ := sp.BuildAuthRequestDocumentNoSig()
		u, err := sp.BuildAuthURLRedirect("", doc)
		if err != nil {
			t.Fatal(err)
		}
		resp, page := browse(t, c, u)
		ret, _ := loginForm(t, resp, page)
		_, page = post(t, c, env.URL+"/login", url.Values{"email": {"aino@example.fi"}, "password": {pw}, "return": {ret}})
		_, msg, _ := postPage(t, page, "SAMLResponse")
		info, err := sp.RetrieveAssertionInfo(msg)
		if err != nil {
			t.Fatal(err)
		}
		// A cross-site form cannot sign anyone out.
		req, _ := http.NewRequest(http.MethodPost, env.URL+path, nil)
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		if resp, err := c.Do(req); err != nil || resp.StatusCode != http.StatusForbidden {
			t.Fatalf("%s cross-site: %v %v", path, err, resp.StatusCode)
		}
		_, page = post(t, c, env.URL+path, nil)
		action, msg, relay := postPage(t, page, "SAMLRequest")
		if action != sp.ServiceProviderSLOURL {
			t.Fatalf("%s: LogoutRequest to %s", path, action)
		}
		lr, err := sp.ValidateEncodedLogoutRequestPOST(msg)
		if err != nil {
			t.Fatalf("%s: gosaml2 refused the LogoutRequest: %v", path, err)
		}
		if lr.NameID.Value != info.NameID {
			t.Fatalf("%s: LogoutRequest for %q, signed in as %q", path, lr.NameID.Value, info.NameID)
		}
		rdoc, _ := sp.BuildLogoutResponseDocument("urn:oasis:names:tc:SAML:2.0:status:Success", lr.ID)
		rxml, _ := rdoc.WriteToString()
		resp, err = c.PostForm(env.URL+saml.PathSLO, url.Values{"SAMLResponse": {base64.StdEncoding.EncodeToString([]byte(rxml))}, "RelayState": {relay}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.Request.URL.Path != "/login" || resp.Request.URL.Query().Get("notice") != "logged_out" {
			t.Fatalf("%s: after the chain at %s", path, resp.Request.URL)
		}
		if resp, _ := browse(t, c, env.URL+"/account"); resp.Request.URL.Path != "/login" {
			t.Fatalf("%s: still signed in: %s", path, resp.Request.URL)
		}
	}
}

// TestSAMLLogoutReachesOpenIDConnect: a session ended by a service's
// Single Logout is reported to the OpenID Connect applications signed in
// through it (back-channel logout), as any other logout is.
func TestSAMLLogoutReachesOpenIDConnect(t *testing.T) {
	env := apptest.Start(t, nil)
	aino := addSSOUser(t, env, "aino@example.fi", "Aino", "Virtanen")
	bc := newBackchannel(t)
	app := newSSOApp(t, env, oidc.ClientSpec{ID: "rp", Name: "Test application", BackchannelLogoutURI: bc.srv.URL + "/backchannel"})
	sp := newTestSP(t, env, "moodle", false, nil, nil).sp
	c := env.Browser(t)
	var claims struct {
		SID string `json:"sid"`
	}
	if err := app.signIn(c, aino.Email).id.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	// The same browser session signs in to the SAML service.
	doc, _ := sp.BuildAuthRequestDocumentNoSig()
	u, _ := sp.BuildAuthURLRedirect("", doc)
	_, page := browse(t, c, u)
	_, msg, _ := postPage(t, page, "SAMLResponse")
	info, err := sp.RetrieveAssertionInfo(msg)
	if err != nil {
		t.Fatal(err)
	}
	lr, _ := sp.BuildLogoutRequestDocument(info.NameID, info.SessionIndex)
	u, _ = sp.BuildLogoutURLRedirect("", lr)
	browse(t, c, u)
	lc := verifyLogoutToken(t, env, bc.wait(t, 5*time.Second), "rp")
	if lc.SID != claims.SID || lc.Subject != aino.ID {
		t.Fatalf("logout token sid %q sub %q, want %q %q", lc.SID, lc.Subject, claims.SID, aino.ID)
	}
}

// TestSAMLMFA: a service asking for the REFEDS MFA profile gets a
// sign-in with the second factor, and the assertion says so.
func TestSAMLMFA(t *testing.T) {
	env := apptest.Start(t, nil)
	addUser(t, env, "aino@example.fi", goodPassword)
	setup := newBrowser(t)
	signIn(t, env, setup, "aino@example.fi", goodPassword, false)
	secret, _ := enrolTOTP(t, env, setup)
	sp := cloneSP(newTestSP(t, env, "moodle", false, nil, nil).sp)
	sp.RequestedAuthnContext = &saml2.RequestedAuthnContext{Comparison: "exact", Contexts: []string{"https://refeds.org/profile/mfa"}}

	c := newBrowser(t)
	doc, _ := sp.BuildAuthRequestDocumentNoSig()
	u, _ := sp.BuildAuthURLRedirect("", doc)
	resp, page := browse(t, c, u)
	ret, _ := loginForm(t, resp, page)
	env.Clock.Advance(time.Minute)
	step := passwordStep(t, env, c, "aino@example.fi", goodPassword, "return", ret)
	done := secondStep(t, env, c, step, totpCode(t, env, secret))
	_, msg, _ := postPage(t, done.Body, "SAMLResponse")
	info, err := sp.RetrieveAssertionInfo(msg)
	if err != nil {
		t.Fatal(err)
	}
	if got := info.Assertions[0].AuthnStatement.AuthnContext.AuthnContextClassRef.Value; got != "https://refeds.org/profile/mfa" {
		t.Fatalf("class %q, want the REFEDS MFA profile", got)
	}
}

// TestSAMLEncryptionCBCOnly: a service whose metadata lists only AES-CBC
// gets AES-256-CBC, which gosaml2 decrypts; the others get AES-256-GCM
// (TestSAMLWebSSO).
func TestSAMLEncryptionCBCOnly(t *testing.T) {
	env := apptest.Start(t, nil)
	addUser(t, env, "aino@example.fi", goodPassword)
	sp := newTestSP(t, env, "legacy", true, func(md string) string {
		return regexp.MustCompile(`<EncryptionMethod Algorithm="http://www.w3.org/2009/xmlenc11#aes\d+-gcm"></EncryptionMethod>`).ReplaceAllString(md, "")
	}, nil).sp
	c := newBrowser(t)
	doc, _ := sp.BuildAuthRequestDocumentNoSig()
	u, _ := sp.BuildAuthURLRedirect("", doc)
	resp, page := browse(t, c, u)
	ret, _ := loginForm(t, resp, page)
	_, page = post(t, c, env.URL+"/login", url.Values{"email": {"aino@example.fi"}, "password": {goodPassword}, "return": {ret}})
	_, msg, _ := postPage(t, page, "SAMLResponse")
	raw, _ := base64.StdEncoding.DecodeString(msg)
	if !strings.Contains(string(raw), "http://www.w3.org/2001/04/xmlenc#aes256-cbc") {
		t.Fatalf("not AES-256-CBC:\n%s", raw)
	}
	info, err := sp.RetrieveAssertionInfo(msg)
	if err != nil {
		t.Fatalf("gosaml2: %v", err)
	}
	if info.Values.Get("urn:oid:0.9.2342.19200300.100.1.3") != "aino@example.fi" {
		t.Fatalf("attributes %+v", info.Values)
	}
}
