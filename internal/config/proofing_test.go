package config

import (
	"reflect"
	"strings"
	"testing"
)

const kek = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="

func TestProofingProviders(t *testing.T) {
	path := writeYAML(t, `key_encryption_key: `+kek+`
proofing:
  providers:
    - id: ftn
      name: {fi: Pankkitunnukset, sv: Bankkoder, en: Bank credentials}
      issuer: https://broker.example.fi
      client_id: portti
      scopes: [openid, profile]
      acr_values: [http://ftn.ficora.fi/2017/loa3]
      identifier_claim: urn:oid:1.2.246.21
    - id: docs
      name: Document service
      issuer: https://docs.example.com
      client_id: portti
      identifier_claim: document_number
      given_name_claim: first
      family_name_claim: last
      token_endpoint_auth: client_secret_basic
      client_secret_env: DOCS_SECRET
      request_object: false
      encrypted_id_token: false
`)
	cfg, err := Load(path, env(map[string]string{"DOCS_SECRET": "s3cret"}))
	if err != nil {
		t.Fatal(err)
	}
	ps := cfg.Proofing.Providers
	if len(ps) != 2 {
		t.Fatalf("%d providers", len(ps))
	}
	want := ProofingProvider{ID: "ftn", Name: map[string]string{"fi": "Pankkitunnukset", "sv": "Bankkoder", "en": "Bank credentials"},
		Issuer: "https://broker.example.fi", ClientID: "portti", Scopes: []string{"openid", "profile"},
		ACRValues: []string{"http://ftn.ficora.fi/2017/loa3"}, IdentifierClaim: "urn:oid:1.2.246.21",
		TokenEndpointAuth: "private_key_jwt", RequestObject: true, EncryptedIDToken: true}
	if !reflect.DeepEqual(ps[0], want) {
		t.Fatalf("ftn = %+v\nwant %+v", ps[0], want)
	}
	if d := ps[1]; d.Name["sv"] != "Document service" || d.ClientSecret != "s3cret" || d.RequestObject || d.EncryptedIDToken || d.TokenEndpointAuth != "client_secret_basic" {
		t.Fatalf("docs = %+v", d)
	}
}

func TestProofingProvidersInvalid(t *testing.T) {
	path := writeYAML(t, `proofing:
  providers:
    - id: ftn
      issuer: http://broker.example.fi
      token_endpoint_auth: client_secret_post
      colour: blue
    - id: ftn
      issuer: https://b.example.fi
      client_id: x
      identifier_claim: nin
      token_endpoint_auth: client_secret_basic
`)
	_, err := Load(path, env(nil))
	if err == nil {
		t.Fatal("accepted")
	}
	msg := err.Error()
	for _, want := range []string{"proofing.providers[0].colour", "proofing.providers[0].issuer", "proofing.providers[0].client_id",
		"proofing.providers[0].identifier_claim", "proofing.providers[0].token_endpoint_auth", "proofing.providers[1].id",
		"proofing.providers[1].client_secret_env", "key_encryption_key"} {
		if !strings.Contains(msg, want) {
			t.Errorf("no problem named %s in:\n%s", want, msg)
		}
	}
}
