package config

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/portti/portti/internal/i18n"
	"github.com/portti/portti/internal/loginhelp"
)

// UsernameFormat is one entry of provision.username_formats: the username
// format of a user type's domain, shown on the sign-in page (package
// loginhelp). File-only, like clients.
type UsernameFormat struct {
	Type   string            `yaml:"type"`
	Domain string            `yaml:"domain"`
	Format map[string]string `yaml:"format"` // by language: fi, sv, en
}

// UsernameFormats returns provision.username_formats as package loginhelp
// takes them.
func (c Config) UsernameFormats() []loginhelp.Format {
	out := make([]loginhelp.Format, 0, len(c.Provision.UsernameFormats))
	for _, f := range c.Provision.UsernameFormats {
		out = append(out, loginhelp.Format{Type: f.Type, Domain: f.Domain, Text: f.Format})
	}
	return out
}

// RegistryDelay returns provision.registry_delay_text in a language: the
// language's own text, else English, else any; "" when not set.
func (c Config) RegistryDelay(lang string) string {
	m := c.Provision.RegistryDelayText
	for _, l := range append([]string{lang, "en"}, i18n.Languages...) {
		if t := m[l]; t != "" {
			return t
		}
	}
	return ""
}

// localizedText reads a text per language: a plain string (every
// language) or a mapping fi:, sv:, en:. For the environment (set) the
// value is one text for every language.
func localizedText(path, key string, l *loader, n *yaml.Node) map[string]string {
	n = deref(n)
	at := fmt.Sprintf("%s:%d", path, n.Line)
	switch {
	case isNull(n):
		return nil
	case n.Kind == yaml.ScalarNode:
		out := map[string]string{}
		for _, lang := range i18n.Languages {
			out[lang] = n.Value
		}
		return out
	case n.Kind == yaml.MappingNode:
		out := map[string]string{}
		for j := 0; j+1 < len(n.Content); j += 2 {
			lk, lv := deref(n.Content[j]), deref(n.Content[j+1])
			if !i18n.Supported(lk.Value) || lv.Kind != yaml.ScalarNode {
				l.problem(key+"."+lk.Value, fmt.Sprintf("%s:%d", path, lk.Line), "a text per language: %s", strings.Join(i18n.Languages, ", "))
				continue
			}
			out[lk.Value] = scalarValue(lv)
		}
		if len(out) == 0 {
			return nil
		}
		return out
	}
	l.problem(key, at, "must be a text, or a mapping of language to text (fi:, sv:, en:)")
	return nil
}

func registryDelaySetting() setting {
	return setting{
		key: "provision.registry_delay_text",
		set: func(c *Config, raw string) string {
			if strings.TrimSpace(raw) == "" {
				c.Provision.RegistryDelayText = nil
				return ""
			}
			c.Provision.RegistryDelayText = map[string]string{}
			for _, lang := range i18n.Languages {
				c.Provision.RegistryDelayText[lang] = raw
			}
			return ""
		},
		setNode: func(l *loader, path string, n *yaml.Node) {
			l.cfg.Provision.RegistryDelayText = localizedText(path, "provision.registry_delay_text", l, n)
		},
	}
}

// usernameFormats reads provision.username_formats.
func (l *loader) usernameFormats(path string, n *yaml.Node) {
	const key = "provision.username_formats"
	l.cfg.Provision.UsernameFormats = nil
	if isNull(n) {
		return
	}
	if n.Kind != yaml.SequenceNode {
		l.problem(key, fmt.Sprintf("%s:%d", path, n.Line), "must be a list of mappings with type:, domain: and format: (see portti.example.yaml)")
		return
	}
	for i, en := range n.Content {
		en = deref(en)
		base := fmt.Sprintf("%s[%d]", key, i)
		at := fmt.Sprintf("%s:%d", path, en.Line)
		l.origins[base] = at
		var f UsernameFormat
		if en.Kind != yaml.MappingNode {
			l.problem(base, at, "must be a mapping with type:, domain: and format:")
			continue
		}
		for j := 0; j+1 < len(en.Content); j += 2 {
			kn, vn := deref(en.Content[j]), deref(en.Content[j+1])
			k := base + "." + kn.Value
			vat := fmt.Sprintf("%s:%d", path, vn.Line)
			switch kn.Value {
			case "type", "domain":
				if vn.Kind != yaml.ScalarNode {
					l.problem(k, vat, "must be a single value")
					continue
				}
				if kn.Value == "type" {
					f.Type = scalarValue(vn)
				} else {
					f.Domain = scalarValue(vn)
				}
			case "format":
				f.Format = localizedText(path, k, l, vn)
			default:
				l.problem(k, fmt.Sprintf("%s:%d", path, kn.Line), "unknown key; the keys are type, domain and format")
			}
		}
		l.cfg.Provision.UsernameFormats = append(l.cfg.Provision.UsernameFormats, f)
	}
}

// validateLoginHelp checks provision.username_formats.
func validateLoginHelp(c Config, ps *Problems) {
	for i, f := range c.Provision.UsernameFormats {
		if _, err := loginhelp.New([]loginhelp.Format{{Type: f.Type, Domain: f.Domain, Text: f.Format}}, nil); err != nil {
			ps.add(fmt.Sprintf("provision.username_formats[%d]", i), "%v", err)
		}
	}
}
