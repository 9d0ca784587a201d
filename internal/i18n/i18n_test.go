package i18n

import (
	"bytes"
	"encoding/json"
	"io"
	"path"
	"regexp"
	"slices"
	"strings"
	"testing"
)

var placeholder = regexp.MustCompile(`\{[A-Za-z]+\}`)

// sameAsEnglish lists keys whose Finnish or Swedish text may legitimately be
// byte-identical to the English one. Keep it tiny: anything else that matches
// English is an untranslated string.
var sameAsEnglish = map[string]map[string]bool{
	"fi": {},
	"sv": {},
}

// orderedKeys returns the keys of one language's catalogue files, file by
// file in file order (the area prefix stripped from each file's name, so
// fi's mfa.fi.json lines up with en's mfa.en.json), failing on duplicates
// (which json.Unmarshal would silently merge).
func orderedKeys(t *testing.T, lang string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, name := range Files(lang) {
		area := strings.TrimSuffix(strings.TrimSuffix(path.Base(name), ".json"), lang)
		out[area] = orderedFileKeys(t, name)
	}
	return out
}

func orderedFileKeys(t *testing.T, name string) []string {
	t.Helper()
	b, err := files.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("%s: want an object, got %v %v", name, tok, err)
	}
	var keys []string
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		key := tok.(string)
		if seen[key] {
			t.Errorf("%s: duplicate key %q", name, key)
		}
		seen[key] = true
		keys = append(keys, key)
		var value string
		if err := dec.Decode(&value); err != nil {
			t.Fatalf("%s: %s: %v", name, key, err)
		}
	}
	if _, err := dec.Token(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		t.Errorf("%s: trailing data after the object", name)
	}
	return keys
}

func placeholders(s string) []string {
	p := placeholder.FindAllString(s, -1)
	slices.Sort(p)
	return slices.Compact(p)
}

func TestCatalogComplete(t *testing.T) {
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	enKeys := orderedKeys(t, "en")
	if len(enKeys[""]) == 0 {
		t.Fatal("en.json is empty")
	}
	for _, lang := range Languages {
		if lang == "en" {
			continue
		}
		keys := orderedKeys(t, lang)
		for area, want := range enKeys {
			if !slices.Equal(keys[area], want) {
				t.Errorf("%s%s.json: keys or key order differ from %sen.json", area, lang, area)
			}
		}
		for area := range keys {
			if _, ok := enKeys[area]; !ok {
				t.Errorf("%s%s.json has no English file %sen.json", area, lang, area)
			}
		}
	}

	en := c.texts["en"]
	for _, lang := range Languages {
		texts := c.texts[lang]
		for key, text := range texts {
			if _, ok := en[key]; !ok {
				t.Errorf("%s: key %q is not in en.json", lang, key)
			}
			if strings.TrimSpace(text) == "" {
				t.Errorf("%s: %q is empty", lang, key)
			}
		}
		for key, want := range en {
			text, ok := texts[key]
			if !ok {
				t.Errorf("%s: missing key %q", lang, key)
				continue
			}
			if got, wantP := placeholders(text), placeholders(want); !slices.Equal(got, wantP) {
				t.Errorf("%s: %q has placeholders %v, English has %v", lang, key, got, wantP)
			}
			if lang != "en" && text == want && !sameAsEnglish[lang][key] {
				t.Errorf("%s: %q is not translated: %q", lang, key, text)
			}
		}
	}

	for lang, name := range map[string]string{"fi": "Suomi", "sv": "Svenska", "en": "English"} {
		if got := c.T(lang, "language.name", nil); got != name {
			t.Errorf("%s: language.name = %q, want %q", lang, got, name)
		}
	}
	if !slices.Equal(c.Keys("en"), c.Keys("fi")) || !slices.Equal(c.Keys("en"), c.Keys("sv")) {
		t.Error("Keys differ between languages")
	}
}

func TestMatch(t *testing.T) {
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		chosen, accept, want string
	}{
		{"sv", "fi", "sv"},
		{"fi", "sv-FI,sv;q=0.9", "fi"},
		{"en", "fi-FI", "en"},
		{"de", "fi", "fi"},
		{"xx", "", "en"},
		{"SV", "fi", "fi"}, // the cookie holds our own lower-case codes only
		{"", "fi-FI,fi;q=0.9,en;q=0.8", "fi"},
		{"", "fi", "fi"},
		{"", "sv-FI", "sv"},
		{"", "sv-SE,sv;q=0.9,en;q=0.5", "sv"},
		{"", "de-DE", "en"},
		{"", "de-DE,fi;q=0.4", "fi"},
		{"", "", "en"},
		{"", "*", "en"},
		{"", ";;;,,,==", "en"},
		{"", "not a language header!", "en"},
		{"", "en-GB,fi;q=0.5", "en"},
		{"", "en-US", "en"},
	}
	for _, tt := range tests {
		if got := c.Match(tt.chosen, tt.accept); got != tt.want {
			t.Errorf("Match(%q, %q) = %q, want %q", tt.chosen, tt.accept, got, tt.want)
		}
	}
}

func TestT(t *testing.T) {
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.T("en", "password.too_short", map[string]any{"Min": 12}), "The password is too short: use at least 12 characters."; got != want {
		t.Errorf("T en = %q, want %q", got, want)
	}
	if got, want := c.T("fi", "password.rule.min_length", map[string]any{"Min": 12}), "Vähintään 12 merkkiä."; got != want {
		t.Errorf("T fi = %q, want %q", got, want)
	}
	got := c.T("sv", "register.sent", map[string]any{"Email": "aino@example.fi", "Minutes": 30})
	if !strings.Contains(got, "aino@example.fi") || !strings.Contains(got, "30") || placeholder.MatchString(got) {
		t.Errorf("T sv register.sent = %q: placeholders not filled", got)
	}
	// A value that looks like a placeholder is not expanded again.
	if got := c.T("en", "reset.for", map[string]any{"Email": "{Email}"}); got != "Account: {Email}" {
		t.Errorf("T with placeholder-like value = %q", got)
	}
	// Without args the text comes back unchanged.
	if got := c.T("en", "reset.for", nil); got != "Account: {Email}" {
		t.Errorf("T without args = %q", got)
	}
	for _, lang := range []string{"fi", "en", "xx"} {
		if got := c.T(lang, "no.such.key", map[string]any{"X": 1}); got != "no.such.key" {
			t.Errorf("T(%q, missing key) = %q, want the key itself", lang, got)
		}
	}
	// An unknown language falls back to the default.
	if got, want := c.T("xx", "login.title", nil), c.T(Default, "login.title", nil); got != want {
		t.Errorf("T unknown language = %q, want %q", got, want)
	}
	if !c.Has("login.title") || c.Has("no.such.key") {
		t.Error("Has is wrong")
	}
}

func FuzzMatch(f *testing.F) {
	c, err := Load()
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{"", "fi", "sv-FI", "fi-FI,fi;q=0.9,en;q=0.8", "en-GB,fi;q=0.5", "de-DE", "*", ";q=", "x-" + strings.Repeat("a", 2000)} {
		f.Add("", s)
		f.Add("sv", s)
	}
	f.Fuzz(func(t *testing.T, chosen, accept string) {
		got := c.Match(chosen, accept)
		if !slices.Contains(Languages, got) {
			t.Fatalf("Match(%q, %q) = %q, not one of %v", chosen, accept, got, Languages)
		}
		if Supported(chosen) && got != chosen {
			t.Fatalf("Match(%q, %q) = %q, want the supported choice", chosen, accept, got)
		}
	})
}
