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
	for _, ch := range []MFAChange{MFAMethodAdded, MFAMethodRemoved, MFARecoveryUsed, MFARecoveryGenerated, MFAReset, MFAResetByHelpdesk} {
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

// TestMFAResetSaysWho: a reset by the helpdesk says the helpdesk did it,
// one by the operator's command says an administrator did.
func TestMFAResetSaysWho(t *testing.T) {
	r := newTestRenderer(t, RendererConfig{Product: "portti"})
	helpdesk := map[string]string{"en": "The helpdesk removed", "fi": "Käyttötuki poisti", "sv": "Användarstödet tog bort"}
	operator := map[string]string{"en": "An administrator removed", "fi": "Ylläpitäjä poisti", "sv": "En administratör tog bort"}
	for _, lang := range Languages {
		for ch, want := range map[MFAChange]map[string]string{MFAResetByHelpdesk: helpdesk, MFAReset: operator} {
			_, text, html, err := r.Render(lang, MFAChanged{Name: "Aino", Change: ch, When: fixedWhen,
				SettingsLink: "https://login.example.fi/account/mfa", ResetLink: "https://login.example.fi/password/forgot"})
			if err != nil {
				t.Fatal(err)
			}
			other := operator
			if ch == MFAReset {
				other = helpdesk
			}
			if !strings.Contains(text, want[lang]) || !strings.Contains(html, want[lang]) || strings.Contains(text, other[lang]) {
				t.Errorf("%s %s: want %q, not %q:\n%s", ch, lang, want[lang], other[lang], text)
			}
		}
	}
}

// TestHelpdeskAccessPassMessages: the owner is told when a pass is issued
// and when it is used, with how to report it.
func TestHelpdeskAccessPassMessages(t *testing.T) {
	r := newTestRenderer(t, RendererConfig{Product: "portti"})
	want := map[string][2]string{"en": {"temporary access pass", "did not ask"}, "fi": {"pääsykoodi", "Jos et pyytänyt"}, "sv": {"åtkomstkod", "Om du inte bad"}}
	for _, ch := range []HelpdeskChange{HelpdeskAccessPassIssued, HelpdeskAccessPassUsed} {
		for _, lang := range Languages {
			subject, text, _, err := r.Render(lang, HelpdeskAction{Name: "Aino", Change: ch, When: fixedWhen, ResetLink: "https://login.example.fi/password/forgot"})
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(strings.ToLower(subject+text), want[lang][0]) || !strings.Contains(text, want[lang][1]) || !strings.Contains(text, "password/forgot") {
				t.Errorf("%s %s:\n%s\n%s", ch, lang, subject, text)
			}
		}
	}
}
