package mail

import (
	"strings"
	"testing"
)

// TestAccountLockedBySecondFactor: a lock caused by wrong second-factor
// codes does not speak of wrong passwords alone, and says that someone
// knows the password; a lock by wrong passwords keeps its text.
func TestAccountLockedBySecondFactor(t *testing.T) {
	r := newTestRenderer(t, RendererConfig{Product: "portti"})
	want := map[string][2]string{
		"en": {"wrong passwords or sign-in codes", "someone knows your password"},
		"fi": {"väärällä salasanalla tai kirjautumiskoodilla", "joku tietää salasanasi"},
		"sv": {"fel lösenord eller inloggningskod", "känner någon till ditt lösenord"},
	}
	for _, lang := range Languages {
		msg := AccountLocked{Name: "Aino", ResetLink: "https://login.example.fi/r", Until: fixedWhen, Failures: 10, SecondFactor: true}
		_, text, html, err := r.Render(lang, msg)
		if err != nil {
			t.Fatal(err)
		}
		for _, body := range []string{text, html} {
			for _, w := range want[lang] {
				if !strings.Contains(body, w) {
					t.Errorf("%s: the second-factor lock mail lacks %q:\n%s", lang, w, body)
				}
			}
		}
		msg.SecondFactor = false
		_, text, _, err = r.Render(lang, msg)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(text, want[lang][0]) || strings.Contains(text, want[lang][1]) {
			t.Errorf("%s: the password lock mail speaks of codes:\n%s", lang, text)
		}
	}
}
