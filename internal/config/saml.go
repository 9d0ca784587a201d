package config

import (
	"fmt"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// SAML configures the SAML 2.0 identity provider (package saml). Every
// zero value has a meaning, so an operator who does not use SAML writes
// nothing here.
type SAML struct {
	// EntityID overrides the entity ID ({public_url}/saml/metadata).
	EntityID string `yaml:"entity_id"`
	// Scope is the organisation's scope: of eduPersonPrincipalName,
	// eduPersonScopedAffiliation, subject-id and pairwise-id (the
	// public URL's host by default).
	Scope string `yaml:"scope"`
	// HomeOrganization is schacHomeOrganization (the scope by default);
	// HomeOrganizationType is schacHomeOrganizationType
	// (urn:schac:homeOrganizationType:int:university by default).
	HomeOrganization     string `yaml:"home_organization"`
	HomeOrganizationType string `yaml:"home_organization_type"`
	// KeyBits is the RSA size of keys made on first start; 0 means 2048.
	KeyBits int `yaml:"key_bits"`
	// DefaultRelease is what a service registered without --release
	// gets (attribute friendly names); empty means every attribute,
	// which its metadata's RequestedAttribute list still narrows.
	DefaultRelease []string `yaml:"default_release"`
	// IdPInitiated lists entity IDs that /saml/init may sign in to.
	IdPInitiated []string `yaml:"idp_initiated"`
	// ServiceProviders are services registered from the file.
	ServiceProviders []SAMLServiceProvider `yaml:"service_providers"`
	// Aggregates are federation metadata aggregates.
	Aggregates []SAMLAggregate `yaml:"aggregates"`
	// AggregateRefresh is how often aggregates are fetched; 0 means 1h.
	AggregateRefresh time.Duration `yaml:"aggregate_refresh"`
}

// SAMLServiceProvider is one saml.service_providers entry.
type SAMLServiceProvider struct {
	Metadata string   `yaml:"metadata"` // a file or https URL
	Release  []string `yaml:"release"`  // attribute friendly names; empty: default_release
}

// SAMLAggregate is one saml.aggregates entry.
type SAMLAggregate struct {
	URL         string   `yaml:"url"`
	Certificate string   `yaml:"certificate"` // PEM file of the federation's signing certificate
	Release     []string `yaml:"release"`
}

// samlEntries reads a list of mappings whose keys are strings or lists,
// reporting unknown keys.
func (l *loader) samlEntries(path, key string, n *yaml.Node, keys map[string]bool) []map[string][]string {
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		l.problem(key, fmt.Sprintf("%s:%d", path, n.Line), "must be a list of mappings (see portti.example.yaml)")
		return nil
	}
	var out []map[string][]string
	for i, en := range n.Content {
		en = deref(en)
		base := fmt.Sprintf("%s[%d]", key, i)
		at := fmt.Sprintf("%s:%d", path, en.Line)
		l.origins[base] = at
		m := map[string][]string{}
		if en.Kind != yaml.MappingNode {
			l.problem(base, at, "must be a mapping")
			out = append(out, m)
			continue
		}
		for j := 0; j+1 < len(en.Content); j += 2 {
			kn, vn := deref(en.Content[j]), deref(en.Content[j+1])
			if !keys[kn.Value] {
				names := make([]string, 0, len(keys))
				for k := range keys {
					names = append(names, k)
				}
				l.problem(base+"."+kn.Value, fmt.Sprintf("%s:%d", path, kn.Line), "unknown key; an entry has %s", strings.Join(names, ", "))
				continue
			}
			m[kn.Value] = l.clientList(path, base+"."+kn.Value, vn)
		}
		out = append(out, m)
	}
	return out
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

func (l *loader) samlServiceProviders(path string, n *yaml.Node) {
	l.cfg.SAML.ServiceProviders = nil
	for _, m := range l.samlEntries(path, "saml.service_providers", n, map[string]bool{"metadata": true, "release": true}) {
		l.cfg.SAML.ServiceProviders = append(l.cfg.SAML.ServiceProviders, SAMLServiceProvider{Metadata: first(m["metadata"]), Release: m["release"]})
	}
}

func (l *loader) samlAggregates(path string, n *yaml.Node) {
	l.cfg.SAML.Aggregates = nil
	for _, m := range l.samlEntries(path, "saml.aggregates", n, map[string]bool{"url": true, "certificate": true, "release": true}) {
		l.cfg.SAML.Aggregates = append(l.cfg.SAML.Aggregates, SAMLAggregate{URL: first(m["url"]), Certificate: first(m["certificate"]), Release: m["release"]})
	}
}

// validateSAML checks what can be checked without reading metadata.
func validateSAML(s SAML, ps *Problems) {
	if s.KeyBits != 0 && s.KeyBits < 2048 {
		ps.add("saml.key_bits", "must be at least 2048 (or 0 for 2048), got %d", s.KeyBits)
	}
	if s.AggregateRefresh < 0 || (s.AggregateRefresh > 0 && s.AggregateRefresh < time.Minute) {
		ps.add("saml.aggregate_refresh", "must be at least 1m (or 0 for 1h), got %s", s.AggregateRefresh)
	}
	if strings.ContainsAny(s.Scope, "@ \t") {
		ps.add("saml.scope", "must be a domain name such as example.fi, got %q", s.Scope)
	}
	for i, sp := range s.ServiceProviders {
		if sp.Metadata == "" {
			ps.add(fmt.Sprintf("saml.service_providers[%d].metadata", i), "is required: a metadata file or https URL")
		} else if strings.HasPrefix(sp.Metadata, "http://") && !strings.HasPrefix(sp.Metadata, "http://localhost") && !strings.HasPrefix(sp.Metadata, "http://127.0.0.1") {
			ps.add(fmt.Sprintf("saml.service_providers[%d].metadata", i), "must be a file or an https URL (http only for localhost)")
		}
	}
	for i, ag := range s.Aggregates {
		if !strings.HasPrefix(ag.URL, "https://") && !strings.HasPrefix(ag.URL, "http://localhost") && !strings.HasPrefix(ag.URL, "http://127.0.0.1") {
			ps.add(fmt.Sprintf("saml.aggregates[%d].url", i), "must be an https URL")
		}
		if ag.Certificate == "" {
			ps.add(fmt.Sprintf("saml.aggregates[%d].certificate", i), "is required: the federation's signing certificate (PEM file)")
		}
	}
}
