package config

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"unicode"

	"gopkg.in/yaml.v3"
)

// LocalizedURL is the address of a document people must be able to read
// (the terms of use, the privacy notice): one URL for every language, or
// one per language. Keys are "fi", "sv", "en"; "" is every language.
//
// In the file: `terms_url: https://example.fi/terms` or a mapping
// `terms_url: {fi: …, sv: …, en: …}`. In the environment: the URL, or
// `fi=https://…,sv=https://…,en=https://…`.
type LocalizedURL map[string]string

// For is the URL for lang: its own, else the one for every language, else
// the English one, else any; "" when none is configured.
func (u LocalizedURL) For(lang string) string {
	for _, k := range []string{lang, "", "en", "fi", "sv"} {
		if v := u[k]; v != "" {
			return v
		}
	}
	return ""
}

var legalLanguages = []string{"fi", "sv", "en"}

// localizedURLSetting is a LocalizedURL key: set for the environment (and
// a scalar in the file), setNode for the file's mapping form.
func localizedURLSetting(key string, field func(*Config) *LocalizedURL) setting {
	s := setting{key: key}
	s.set = func(c *Config, raw string) string {
		raw = strings.TrimSpace(raw)
		out := LocalizedURL{}
		if raw == "" {
			*field(c) = nil
			return ""
		}
		perLang := false
		for _, l := range legalLanguages {
			perLang = perLang || strings.HasPrefix(raw, l+"=")
		}
		if !perLang {
			out[""] = raw
			*field(c) = out
			return ""
		}
		for _, item := range strings.Split(raw, ",") {
			lang, u, ok := strings.Cut(strings.TrimSpace(item), "=")
			if !ok || !slices.Contains(legalLanguages, lang) {
				return fmt.Sprintf("must be a URL, or fi=URL,sv=URL,en=URL; got the item %q", item)
			}
			out[lang] = u
		}
		*field(c) = out
		return ""
	}
	s.setNode = func(l *loader, path string, n *yaml.Node) {
		at := fmt.Sprintf("%s:%d", path, n.Line)
		switch {
		case isNull(n), n.Kind == yaml.ScalarNode && strings.TrimSpace(n.Value) == "":
			*field(&l.cfg) = nil
		case n.Kind == yaml.ScalarNode:
			*field(&l.cfg) = LocalizedURL{"": n.Value}
		case n.Kind == yaml.MappingNode:
			out := LocalizedURL{}
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := deref(n.Content[i]), deref(n.Content[i+1])
				if !slices.Contains(legalLanguages, k.Value) || v.Kind != yaml.ScalarNode {
					l.problem(key, fmt.Sprintf("%s:%d", path, k.Line), "keys must be fi, sv or en, each with one URL; got %q", k.Value)
					continue
				}
				out[k.Value] = v.Value
			}
			if len(out) == 0 {
				out = nil // "{}" is no URL, as Marshal writes nil
			}
			*field(&l.cfg) = out
		default:
			l.problem(key, at, "must be a URL, or a mapping of fi, sv and en to URLs")
		}
	}
	return s
}

// validateLegal checks terms_url and privacy_url: absolute http(s) URLs.
func validateLegal(c Config, ps *Problems) {
	for key, u := range map[string]LocalizedURL{"terms_url": c.TermsURL, "privacy_url": c.PrivacyURL} {
		for lang, v := range u {
			where := key
			if lang != "" {
				where += "." + lang
			}
			p, err := url.Parse(v)
			switch {
			case len(v) > 2000 || strings.IndexFunc(v, unicode.IsControl) >= 0:
				ps.add(key, "%s must be one line of at most 2000 bytes", where)
			case err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "":
				ps.add(key, "%s must be an absolute http(s) URL, got %q", where, v)
			}
		}
	}
}
