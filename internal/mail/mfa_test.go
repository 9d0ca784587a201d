package mail

import (
	"strings"
	"testing"
)

// TestMFAChangedEveryChange renders every kind of change in every language:
// each names what happened and says how to report "this was not me".
func TestMFAChangedEveryChange(t *testing.T) {
	r := newTestRenderer(t, RendererConfig{Product: "portti"})
	report := map[string]string{"en": "this was not you", "fi": "Jos et tehnyt tätä", "sv": "Om det inte var du"}
	for _, ch := range []MFAChange{MFAMethodAdded, MFAMethodRemoved, MFARecoveryUsed, MFARecoveryGenerated, MFAReset} {
		for _, lang := range Languages {
			msg := MFAChanged{Name: "Aino", Change: ch, Method: "totp", When: fixedWhen, CodesLeft: 2,
				SettingsLink: "https://login.example.fi/account/mfa", ResetLink: "https://login.example.fi/password/forgot"}
			subject, text, html, err := r.Render(lang, msg)
			if err != nil {
				t.Fatalf("%s %s: %v", ch, lang, err)
			}
			if subject == "" || !strings.Contains(text, report[lang]) || !strings.Contains(html, "password/forgot") {
				t.Errorf("%s %s: subject %q, text lacks the way to report it:\n%s", ch, lang, subject, text)
			}
			if strings.Contains(text, "{{") || strings.Contains(text, "<no value>") {
				t.Errorf("%s %s: unrendered template:\n%s", ch, lang, text)
			}
		}
	}
	if _, _, _, err := r.Render("en", MFAChanged{Change: "bogus", When: fixedWhen, SettingsLink: "https://x.fi/", ResetLink: "https://x.fi/"}); err == nil {
		t.Error("an unknown change rendered")
	}
}
