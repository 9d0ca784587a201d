package saml

import (
	"bytes"
	"compress/flate"
	"context"
	"crypto/x509"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/portti/portti/internal/storage"
)

// Every XML entry point is fuzzed: what arrives from a browser (the SSO
// and SLO endpoints in both bindings), service metadata, and federation
// aggregates. No input may panic or be answered with a server error.

var xmlSeeds = []string{
	"",
	"<a/>",
	`<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_1" Version="2.0" IssueInstant="2026-11-23T10:00:00Z"><saml:Issuer>https://sp.example</saml:Issuer></samlp:AuthnRequest>`,
	`<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_1" Version="2.0" IssueInstant="2026-11-23T10:00:00Z"><saml:Issuer>https://sp.example</saml:Issuer><saml:NameID>a<!---->b</saml:NameID></samlp:LogoutRequest>`,
	`<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>`,
	`<x xmlns:a="urn:a" xmlns:a="urn:b"/>`,
	`<x><ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo/></ds:Signature></x>`,
}

func FuzzParseXML(f *testing.F) {
	for _, s := range xmlSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		root, err := parseXML(data)
		if err == nil && root == nil {
			t.Fatal("no error and no root")
		}
	})
}

func FuzzSPMetadata(f *testing.F) {
	_, cert := testCert(f, "sp")
	f.Add([]byte(spMetadata("https://sp.example", cert, "")))
	for _, s := range xmlSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		sp, err := parseSPMetadata(data)
		if err == nil && (sp.EntityID == "" || len(sp.ACS) == 0) {
			t.Fatalf("accepted metadata without an entity ID or ACS: %+v", sp)
		}
	})
}

func FuzzAggregate(f *testing.F) {
	p, _, _ := newTestProvider(f)
	key, cert := testCert(f, "fed")
	parsed, _ := x509.ParseCertificate(cert)
	f.Add([]byte(`<md:EntitiesDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" ID="_a" validUntil="2030-01-01T00:00:00Z"/>`))
	_ = key
	for _, s := range xmlSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if _, err := p.verifyAggregate(data, parsed); err == nil {
			t.Fatal("an aggregate the federation never signed was accepted")
		}
	})
}

// FuzzEndpoints sends arbitrary messages to the SSO and SLO endpoints in
// both bindings, for a registered service.
func FuzzEndpoints(f *testing.F) {
	p, _, _ := newTestProvider(f)
	_, cert := testCert(f, "sp")
	if _, err := p.AddService(context.Background(), []byte(spMetadata("https://sp.example", cert, "")), nil, storage.SAMLSourceCLI); err != nil {
		f.Fatal(err)
	}
	h := p.Handler()
	for _, s := range xmlSeeds {
		f.Add(uint8(0), s, "")
		f.Add(uint8(3), s, "relay")
	}
	f.Add(uint8(1), "SAMLRequest=%ZZ&SAMLRequest=x&Signature=&SigAlg=", "")
	f.Add(uint8(2), "", strings.Repeat("r", 2000))
	f.Fuzz(func(t *testing.T, which uint8, msg, relay string) {
		path := []string{PathSSO, PathSLO}[which%2]
		var r *http.Request
		switch which % 4 {
		case 0, 1: // HTTP-Redirect: msg is the raw query when which&1, else a message
			q := msg
			if which%4 == 0 {
				q = "SAMLRequest=" + url.QueryEscape(deflate64(msg)) + "&RelayState=" + url.QueryEscape(relay)
			}
			r = httptest.NewRequest("GET", path+"?"+strings.ReplaceAll(q, " ", "+"), nil)
		default: // HTTP-POST
			form := url.Values{"SAMLRequest": {b64(msg)}, "SAMLResponse": {b64(msg)}, "RelayState": {relay}}
			r = httptest.NewRequest("POST", path, strings.NewReader(form.Encode()))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if rec.Code >= 500 {
			t.Fatalf("%s %s: %d %s", r.Method, path, rec.Code, rec.Body)
		}
	})
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func deflate64(s string) string {
	var buf bytes.Buffer
	fw, _ := flate.NewWriter(&buf, flate.BestSpeed)
	_, _ = fw.Write([]byte(s))
	_ = fw.Close()
	return base64.StdEncoding.EncodeToString(buf.Bytes())
}
