package config

import (
	"strings"
	"testing"
)

func TestFederationProviders(t *testing.T) {
	path := writeYAML(t, `key_encryption_key: `+kek+`
federation:
  providers:
    - id: tuni
      name: {fi: Tampereen yliopisto, sv: Tammerfors universitet, en: Tampere University}
      issuer: https://idp.tuni.example
      client_id: portti
      trust_mfa: true
      acr_values: [https://refeds.org/profile/mfa, https://refeds.org/profile/sfa]
    - id: jamk
      name: JAMK
      issuer: https://login.jamk.example
      client_id: portti
      token_endpoint_auth: client_secret_basic
      client_secret_env: JAMK_SECRET
`)
	cfg, err := Load(path, env(map[string]string{"JAMK_SECRET": "s3cret"}))
	if err != nil {
		t.Fatal(err)
	}
	ps := cfg.Federation.Providers
	if len(ps) != 2 {
		t.Fatalf("%d providers", len(ps))
	}
	if p := ps[0]; !p.TrustMFA || p.IdentifierClaim != "sub" || p.TokenEndpointAuth != "private_key_jwt" || p.RequestObject || p.EncryptedIDToken ||
		p.Name["sv"] != "Tammerfors universitet" || len(p.ACRValues) != 2 {
		t.Fatalf("tuni = %+v", p)
	}
	if p := ps[1]; p.TrustMFA || p.ClientSecret != "s3cret" || p.Name["fi"] != "JAMK" {
		t.Fatalf("jamk = %+v", p)
	}
}

func TestFederationProvidersInvalid(t *testing.T) {
	path := writeYAML(t, `federation:
  providers:
    - id: tuni
      issuer: http://idp.tuni.example
      trust_mfa: maybe
      colour: blue
    - id: tuni
      name: Again
      issuer: https://b.example
      client_id: x
      token_endpoint_auth: client_secret_basic
`)
	_, err := Load(path, env(nil))
	if err == nil {
		t.Fatal("accepted")
	}
	msg := err.Error()
	for _, want := range []string{"federation.providers[0].colour", "federation.providers[0].trust_mfa", "federation.providers[0].issuer",
		"federation.providers[0].client_id", "federation.providers[0].name", "federation.providers[0].token_endpoint_auth",
		"federation.providers[1].id", "federation.providers[1].client_secret_env"} {
		if !strings.Contains(msg, want) {
			t.Errorf("no problem named %s in:\n%s", want, msg)
		}
	}
}
