package config

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Federation is sign-in with a home organisation: the upstream OpenID
// Connect identity providers people may sign in with (package
// federation). File-only, like clients and proofing.providers.
type Federation struct {
	Providers []FederationProvider `yaml:"providers"`
}

// FederationProvider is one entry of federation.providers. The keys shared
// with proofing.providers mean the same; the defaults differ: an ordinary
// OpenID provider needs no request object nor encrypted id_token, and the
// person is identified by the "sub" claim.
type FederationProvider struct {
	ProofingProvider `yaml:",inline"`
	// TrustMFA: the provider's acr https://refeds.org/profile/mfa counts
	// as the sign-in's second factor (guests do their MFA at home).
	TrustMFA bool `yaml:"trust_mfa"`
}

func federationPath(i int) string { return fmt.Sprintf("federation.providers[%d]", i) }

var federationKeyNames = []string{"id", "name", "issuer", "client_id", "scopes", "acr_values",
	"identifier_claim", "token_endpoint_auth", "client_secret_env", "request_object",
	"encrypted_id_token", "trust_mfa"}

// federationProviders reads the federation.providers list; each entry's
// shared keys are read by proofingEntry.
func (l *loader) federationProviders(path string, n *yaml.Node) {
	l.cfg.Federation.Providers = nil
	if isNull(n) {
		return
	}
	if n.Kind != yaml.SequenceNode {
		l.problem("federation.providers", fmt.Sprintf("%s:%d", path, n.Line),
			"must be a list of providers, each a mapping with id, name, issuer, client_id, … (see portti.example.yaml)")
		return
	}
	for i, en := range n.Content {
		en = deref(en)
		base := federationPath(i)
		at := fmt.Sprintf("%s:%d", path, en.Line)
		l.origins[base] = at
		p := FederationProvider{ProofingProvider: ProofingProvider{TokenEndpointAuth: "private_key_jwt", IdentifierClaim: "sub"}}
		if en.Kind != yaml.MappingNode {
			l.problem(base, at, "must be a mapping of keys such as id: and issuer:")
			l.cfg.Federation.Providers = append(l.cfg.Federation.Providers, p)
			continue
		}
		shared := &yaml.Node{Kind: yaml.MappingNode, Line: en.Line}
		for j := 0; j+1 < len(en.Content); j += 2 {
			kn, vn := deref(en.Content[j]), deref(en.Content[j+1])
			key := base + "." + kn.Value
			kat := fmt.Sprintf("%s:%d", path, kn.Line)
			switch {
			case kn.Value == "trust_mfa":
				b, err := strconv.ParseBool(scalarValue(vn))
				if vn.Kind != yaml.ScalarNode || err != nil {
					l.problem(key, kat, "must be true or false, got %q", scalarValue(vn))
					continue
				}
				l.origins[key] = kat
				p.TrustMFA = b
			case kn.Kind == yaml.ScalarNode && !slices.Contains(federationKeyNames, kn.Value):
				l.problem(key, kat, "unknown key; a provider has %s", strings.Join(federationKeyNames, ", "))
			default:
				shared.Content = append(shared.Content, en.Content[j], en.Content[j+1])
			}
		}
		l.proofingEntry(path, base, shared, &p.ProofingProvider)
		l.cfg.Federation.Providers = append(l.cfg.Federation.Providers, p)
	}
}

// validateFederation checks every provider whole.
func validateFederation(c Config, ps *Problems) {
	ids := map[string]int{}
	for i, p := range c.Federation.Providers {
		base := federationPath(i)
		switch {
		case p.ID == "":
			ps.add(base+".id", "is required (a short name such as tuni)")
		case strings.ContainsAny(p.ID, " /?#&%"):
			ps.add(base+".id", "must be a short name without spaces or URL characters")
		default:
			if j, dup := ids[p.ID]; dup {
				ps.add(base+".id", "%q is also the id of federation.providers[%d]", p.ID, j)
			}
			ids[p.ID] = i
		}
		if len(p.Name) == 0 {
			ps.add(base+".name", "is required: the organisation's name people search for, per language (fi:, sv:, en:)")
		}
		if u, err := url.Parse(p.Issuer); p.Issuer == "" || err != nil || u.Host == "" || (u.Scheme != "https" && !isLocalHost(u.Hostname())) {
			ps.add(base+".issuer", "must be the provider's https issuer URL (its discovery document is at ISSUER/.well-known/openid-configuration)")
		}
		if p.ClientID == "" {
			ps.add(base+".client_id", "is required: portti's client ID at the provider")
		}
		switch p.TokenEndpointAuth {
		case "private_key_jwt":
			if c.KeyEncryptionKey == "" {
				ps.add(base+".token_endpoint_auth", "private_key_jwt needs key_encryption_key (portti's relying-party keys are sealed with it); or use client_secret_basic")
			}
		case "client_secret_basic":
			switch {
			case p.ClientSecretEnv == "":
				ps.add(base+".client_secret_env", "is required with client_secret_basic: the environment variable that holds the client secret")
			case p.ClientSecret == "":
				ps.add(base+".client_secret_env", "names %s, which is not set", p.ClientSecretEnv)
			}
		default:
			ps.add(base+".token_endpoint_auth", "must be private_key_jwt or client_secret_basic, got %q", p.TokenEndpointAuth)
		}
		if (p.RequestObject || p.EncryptedIDToken) && c.KeyEncryptionKey == "" {
			ps.add(base+".request_object", "request objects and encrypted id_tokens need key_encryption_key")
		}
	}
}
