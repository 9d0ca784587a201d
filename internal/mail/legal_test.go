package mail

import (
	"strings"
	"testing"
)

// TestLegalLinks: with terms_url and privacy_url configured, every message
// in every language links both at its foot, HTML and plain text, with the
// language's own URL; without them, none.
func TestLegalLinks(t *testing.T) {
	urls := map[string]string{"fi": "https://example.fi/ehdot", "sv": "https://example.fi/villkor", "en": "https://example.fi/terms"}
	r := newTestRenderer(t, RendererConfig{
		TermsURL:   func(lang string) string { return urls[lang] },
		PrivacyURL: func(string) string { return "https://example.fi/privacy" },
	})
	for _, msg := range samples() {
		for _, lang := range Languages {
			_, text, html, err := r.Render(lang, msg)
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{urls[lang], "https://example.fi/privacy", legalNames[lang][0], legalNames[lang][1]} {
				if !strings.Contains(text, want) || !strings.Contains(html, want) {
					t.Errorf("%s in %s lacks %q", msg.Kind(), lang, want)
				}
			}
			if !strings.Contains(html, `<a href="`+urls[lang]+`"`) {
				t.Errorf("%s in %s: the terms are not a link", msg.Kind(), lang)
			}
		}
	}
	plain := newTestRenderer(t, RendererConfig{})
	_, text, html, err := plain.Render("en", samples()[0])
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(text, "Terms of use") || strings.Contains(html, "Terms of use") {
		t.Error("a message links terms that are not configured")
	}
}
