package config

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/portti/portti/internal/i18n"
)

// Proofing is strong identification: the upstream identity-proofing
// providers (package proofing). File-only, like clients.
type Proofing struct {
	Providers []ProofingProvider `yaml:"providers"`
}

// ProofingProvider is one entry of proofing.providers.
type ProofingProvider struct {
	ID                string            `yaml:"id"`
	Name              map[string]string `yaml:"name"` // by language: fi, sv, en
	Issuer            string            `yaml:"issuer"`
	ClientID          string            `yaml:"client_id"`
	Scopes            []string          `yaml:"scopes"`
	ACRValues         []string          `yaml:"acr_values"`
	IdentifierClaim   string            `yaml:"identifier_claim"`
	GivenNameClaim    string            `yaml:"given_name_claim"`
	FamilyNameClaim   string            `yaml:"family_name_claim"`
	TokenEndpointAuth string            `yaml:"token_endpoint_auth"` // private_key_jwt (default) | client_secret_basic
	ClientSecretEnv   string            `yaml:"client_secret_env"`
	RequestObject     bool              `yaml:"request_object"`     // default true
	EncryptedIDToken  bool              `yaml:"encrypted_id_token"` // default true

	// ClientSecret is the value of ClientSecretEnv, read at load.
	ClientSecret string `yaml:"-"`
}

func proofingPath(i int) string { return fmt.Sprintf("proofing.providers[%d]", i) }

var proofingKeyNames = []string{"id", "name", "issuer", "client_id", "scopes", "acr_values",
	"identifier_claim", "given_name_claim", "family_name_claim", "token_endpoint_auth",
	"client_secret_env", "request_object", "encrypted_id_token"}

// proofingProviders reads the proofing.providers list.
func (l *loader) proofingProviders(path string, n *yaml.Node) {
	l.cfg.Proofing.Providers = nil
	if isNull(n) {
		return
	}
	if n.Kind != yaml.SequenceNode {
		l.problem("proofing.providers", fmt.Sprintf("%s:%d", path, n.Line),
			"must be a list of providers, each a mapping with id, issuer, client_id, … (see portti.example.yaml)")
		return
	}
	for i, en := range n.Content {
		en = deref(en)
		base := proofingPath(i)
		at := fmt.Sprintf("%s:%d", path, en.Line)
		l.origins[base] = at
		p := ProofingProvider{RequestObject: true, EncryptedIDToken: true, TokenEndpointAuth: "private_key_jwt"}
		if en.Kind != yaml.MappingNode {
			l.problem(base, at, "must be a mapping of keys such as id: and issuer:")
		} else {
			l.proofingEntry(path, base, en, &p)
		}
		l.cfg.Proofing.Providers = append(l.cfg.Proofing.Providers, p)
	}
}

func (l *loader) proofingEntry(path, base string, m *yaml.Node, p *ProofingProvider) {
	seen := map[string]int{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		kn, vn := deref(m.Content[i]), deref(m.Content[i+1])
		at := fmt.Sprintf("%s:%d", path, kn.Line)
		if kn.Kind != yaml.ScalarNode {
			l.problem(base, at, "keys must be plain names")
			continue
		}
		key := base + "." + kn.Value
		if first, dup := seen[kn.Value]; dup {
			l.problem(key, at, "given twice in this provider (first on line %d)", first)
			continue
		}
		seen[kn.Value] = kn.Line
		at = fmt.Sprintf("%s:%d", path, vn.Line)
		l.origins[key] = at
		str := func(dst *string) {
			if vn.Kind != yaml.ScalarNode {
				l.problem(key, at, "must be a single value, not a list or mapping")
				return
			}
			*dst = scalarValue(vn)
		}
		flag := func(dst *bool) {
			v := scalarValue(vn)
			b, err := strconv.ParseBool(v)
			if vn.Kind != yaml.ScalarNode || err != nil {
				l.problem(key, at, "must be true or false, got %q", v)
				return
			}
			*dst = b
		}
		switch kn.Value {
		case "id":
			str(&p.ID)
		case "name":
			p.Name = map[string]string{}
			switch {
			case vn.Kind == yaml.ScalarNode:
				for _, lang := range i18n.Languages {
					p.Name[lang] = scalarValue(vn)
				}
			case vn.Kind == yaml.MappingNode:
				for j := 0; j+1 < len(vn.Content); j += 2 {
					lk, lv := deref(vn.Content[j]), deref(vn.Content[j+1])
					if !i18n.Supported(lk.Value) || lv.Kind != yaml.ScalarNode {
						l.problem(key+"."+lk.Value, fmt.Sprintf("%s:%d", path, lk.Line), "a name per language: %s", strings.Join(i18n.Languages, ", "))
						continue
					}
					p.Name[lk.Value] = scalarValue(lv)
				}
			default:
				l.problem(key, at, "must be a name, or a mapping of language to name (fi:, sv:, en:)")
			}
		case "issuer":
			str(&p.Issuer)
		case "client_id":
			str(&p.ClientID)
		case "scopes":
			p.Scopes = l.clientList(path, key, vn)
		case "acr_values":
			p.ACRValues = l.clientList(path, key, vn)
		case "identifier_claim":
			str(&p.IdentifierClaim)
		case "given_name_claim":
			str(&p.GivenNameClaim)
		case "family_name_claim":
			str(&p.FamilyNameClaim)
		case "token_endpoint_auth":
			str(&p.TokenEndpointAuth)
		case "client_secret_env":
			str(&p.ClientSecretEnv)
			if name := p.ClientSecretEnv; name != "" && validEnvName(name) && l.lookupEnv != nil {
				if v, ok := l.lookupEnv(name); ok {
					p.ClientSecret = v
				}
			}
		case "request_object":
			flag(&p.RequestObject)
		case "encrypted_id_token":
			flag(&p.EncryptedIDToken)
		default:
			l.problem(key, at, "unknown key; a provider has %s", strings.Join(proofingKeyNames, ", "))
		}
	}
}

// validateProofing checks every provider whole.
func validateProofing(c Config, ps *Problems) {
	ids := map[string]int{}
	for i, p := range c.Proofing.Providers {
		base := proofingPath(i)
		switch {
		case p.ID == "":
			ps.add(base+".id", "is required (a short name such as ftn)")
		case strings.ContainsAny(p.ID, " /?#&%"):
			ps.add(base+".id", "must be a short name without spaces or URL characters")
		default:
			if j, dup := ids[p.ID]; dup {
				ps.add(base+".id", "%q is also the id of proofing.providers[%d]", p.ID, j)
			}
			ids[p.ID] = i
		}
		if u, err := url.Parse(p.Issuer); p.Issuer == "" || err != nil || u.Host == "" || (u.Scheme != "https" && !isLocalHost(u.Hostname())) {
			ps.add(base+".issuer", "must be the provider's https issuer URL (its discovery document is at ISSUER/.well-known/openid-configuration)")
		}
		if p.ClientID == "" {
			ps.add(base+".client_id", "is required: portti's client ID at the provider")
		}
		if p.IdentifierClaim == "" {
			ps.add(base+".identifier_claim", "is required: the claim that carries the registry identifier (for example urn:oid:1.2.246.21, nin or fi_ssn)")
		}
		switch p.TokenEndpointAuth {
		case "private_key_jwt":
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
	}
	if len(c.Proofing.Providers) > 0 && c.KeyEncryptionKey == "" {
		ps.add("key_encryption_key", "is required with proofing.providers: registry identifiers are stored as keyed hashes under a key derived from it, and the relying-party keys are sealed with it")
	}
}
