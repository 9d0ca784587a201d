// Package i18n is portti's translation catalogue: every string a person
// reads, in Finnish, Swedish and English, and the choice among them.
//
// The catalogue is flat JSON files (key → text) embedded in the binary:
// messages/LANG.json for the pages that stand, and messages/AREA.LANG.json
// for each feature area (mfa.fi.json, …), so that a feature keeps its texts
// beside each other. A key may live in one file only. Texts name their arguments in braces, "{Min}", filled by T.
// A test keeps the three files in step, so a missing translation fails the
// build's tests instead of showing a key to a person. (We dropped go-i18n:
// its plural machinery is not needed by these texts, and a flat map is
// simpler to read and costs nothing per request.)
package i18n

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	"golang.org/x/text/language"
)

//go:embed messages/*.json
var files embed.FS

// Languages are the supported languages, in the order the switcher shows them.
var Languages = []string{"fi", "sv", "en"}

// Default is the language when nothing in the request matches.
const Default = "en"

// Catalog holds the texts of every language.
type Catalog struct {
	texts   map[string]map[string]string // lang → key → text
	matcher language.Matcher
}

// Load reads the embedded catalogue.
func Load() (*Catalog, error) {
	c := &Catalog{texts: map[string]map[string]string{}}
	tags := []language.Tag{language.English} // first: the matcher's fallback
	for _, lang := range Languages {
		c.texts[lang] = map[string]string{}
		if lang != "en" {
			tags = append(tags, language.MustParse(lang))
		}
	}
	names, err := fs.Glob(files, "messages/*.json")
	if err != nil {
		return nil, fmt.Errorf("i18n: %w", err)
	}
	for _, name := range names {
		lang := fileLanguage(name)
		if !Supported(lang) {
			return nil, fmt.Errorf("i18n: %s: not LANG.json or AREA.LANG.json of a supported language", name)
		}
		b, err := files.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("i18n: %w", err)
		}
		m := map[string]string{}
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, fmt.Errorf("i18n: %s: %w", name, err)
		}
		for k, v := range m {
			if _, dup := c.texts[lang][k]; dup {
				return nil, fmt.Errorf("i18n: %s: key %q is also in another %s file", name, k, lang)
			}
			c.texts[lang][k] = v
		}
	}
	c.matcher = language.NewMatcher(tags)
	return c, nil
}

// fileLanguage reads the language from "messages/fi.json" or
// "messages/mfa.fi.json".
func fileLanguage(name string) string {
	base := strings.TrimSuffix(path.Base(name), ".json")
	return base[strings.LastIndex(base, ".")+1:]
}

// Files returns the catalogue's file names for lang, sorted; tests read
// them to check key order and duplicates file by file.
func Files(lang string) []string {
	names, _ := fs.Glob(files, "messages/*.json")
	var out []string
	for _, n := range names {
		if fileLanguage(n) == lang {
			out = append(out, n)
		}
	}
	return out
}

// Supported reports whether lang is one of Languages.
func Supported(lang string) bool {
	for _, l := range Languages {
		if l == lang {
			return true
		}
	}
	return false
}

// Match picks the language for a request: an explicit choice (the
// language cookie) if supported, else the best match for Accept-Language.
func (c *Catalog) Match(chosen, acceptLanguage string) string {
	if Supported(chosen) {
		return chosen
	}
	if len(acceptLanguage) > 1024 {
		acceptLanguage = acceptLanguage[:1024]
	}
	tags := parseAcceptLanguage(acceptLanguage)
	if len(tags) == 0 {
		return Default
	}
	_, i, conf := c.matcher.Match(tags...)
	if conf == language.No {
		return Default
	}
	return []string{"en", "fi", "sv"}[i]
}

// parseAcceptLanguage reads an Accept-Language header entry by entry:
// language.ParseAcceptLanguage refuses a whole header for one tag it does
// not know, and "fi-FI,fi;q=0.9,qq;q=0.1" should still mean Finnish.
func parseAcceptLanguage(header string) []language.Tag {
	type weighted struct {
		tag language.Tag
		q   float32
	}
	var all []weighted
	for entry := range strings.SplitSeq(header, ",") {
		tags, qs, err := language.ParseAcceptLanguage(entry)
		if err != nil || len(tags) != 1 || qs[0] <= 0 {
			continue
		}
		all = append(all, weighted{tags[0], qs[0]})
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].q > all[j].q })
	out := make([]language.Tag, len(all))
	for i, w := range all {
		out[i] = w.tag
	}
	return out
}

// T returns the text for key in lang, with {Name} placeholders filled from
// args. A key missing from the catalogue comes back as itself, so the
// mistake is visible and the completeness test catches it.
func (c *Catalog) T(lang, key string, args map[string]any) string {
	text, ok := c.texts[lang][key]
	if !ok {
		text, ok = c.texts[Default][key]
	}
	if !ok {
		return key
	}
	if len(args) == 0 || !strings.Contains(text, "{") {
		return text
	}
	pairs := make([]string, 0, 2*len(args))
	for k, v := range args {
		pairs = append(pairs, "{"+k+"}", fmt.Sprint(v))
	}
	return strings.NewReplacer(pairs...).Replace(text)
}

// Has reports whether key is in the catalogue (in the default language).
func (c *Catalog) Has(key string) bool {
	_, ok := c.texts[Default][key]
	return ok
}

// Keys returns the sorted keys of one language.
func (c *Catalog) Keys(lang string) []string {
	keys := make([]string, 0, len(c.texts[lang]))
	for k := range c.texts[lang] {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
