package config

import (
	"strings"
	"testing"
)

// TestLegalURLs: terms_url and privacy_url take one URL or one per
// language, from the file and from the environment, and refuse what is not
// an absolute http(s) URL.
func TestLegalURLs(t *testing.T) {
	for _, tc := range []struct {
		name, file string
		env        map[string]string
		terms      map[string]string // lang → want For(lang)
		problem    string
	}{
		{name: "one URL in the file", file: "terms_url: https://example.fi/terms\n",
			terms: map[string]string{"fi": "https://example.fi/terms", "en": "https://example.fi/terms"}},
		{name: "per language in the file", file: "terms_url:\n  fi: https://example.fi/ehdot\n  sv: https://example.fi/villkor\n  en: https://example.fi/terms\n",
			terms: map[string]string{"fi": "https://example.fi/ehdot", "sv": "https://example.fi/villkor", "en": "https://example.fi/terms"}},
		{name: "one URL in the environment", env: map[string]string{"PORTTI_TERMS_URL": "https://example.fi/t?a=b"},
			terms: map[string]string{"sv": "https://example.fi/t?a=b"}},
		{name: "per language in the environment", env: map[string]string{"PORTTI_TERMS_URL": "fi=https://example.fi/ehdot,en=https://example.fi/terms"},
			terms: map[string]string{"fi": "https://example.fi/ehdot", "en": "https://example.fi/terms", "sv": "https://example.fi/terms"}},
		{name: "not set", terms: map[string]string{"fi": ""}},
		{name: "relative", env: map[string]string{"PORTTI_PRIVACY_URL": "/privacy"}, problem: "privacy_url"},
		{name: "javascript", file: "privacy_url:\n  en: javascript:alert(1)\n", problem: "privacy_url.en must be an absolute http(s) URL"},
		{name: "unknown language", file: "terms_url:\n  de: https://example.de/\n", problem: "keys must be fi, sv or en"},
		{name: "bad environment item", env: map[string]string{"PORTTI_TERMS_URL": "fi=https://a.example,xx=https://b.example"}, problem: "fi=URL,sv=URL,en=URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := ""
			if tc.file != "" {
				path = writeYAML(t, tc.file)
			}
			c, err := Load(path, env(tc.env))
			if tc.problem != "" {
				if err == nil || !strings.Contains(err.Error(), tc.problem) {
					t.Fatalf("want a problem with %q, got %v", tc.problem, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for lang, want := range tc.terms {
				if got := c.TermsURL.For(lang); got != want {
					t.Errorf("TermsURL.For(%s) = %q, want %q", lang, got, want)
				}
			}
		})
	}
}
