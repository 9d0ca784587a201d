package mail

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/golden from the current templates")

// fixedWhen is 14.05 in Helsinki (UTC+2 in November).
var fixedWhen = time.Date(2026, 11, 24, 12, 5, 0, 0, time.UTC)

// samples holds every message type with fixed inputs. The links contain &
// so that the goldens show HTML escaping.
func samples() []Message {
	return []Message{
		Activation{Name: "Aino Virtanen", Link: "https://login.example.fi/activate?token=AcT1v8&lang=fi", ExpiresIn: 24 * time.Hour},
		AlreadyRegistered{Name: "Aino Virtanen", LoginLink: "https://login.example.fi/login", ResetLink: "https://login.example.fi/recovery?email=aino%40example.fi&x=1"},
		Recovery{Name: "Aino Virtanen", Link: "https://login.example.fi/recovery/r3C0v3ry?a=1&b=2", ExpiresIn: 30 * time.Minute},
		PasswordChanged{Name: "Aino Virtanen", ResetLink: "https://login.example.fi/recovery", When: fixedWhen},
		AccountLocked{Name: "Aino Virtanen", ResetLink: "https://login.example.fi/recovery", Until: fixedWhen, Failures: 10},
		EmailChange{Name: "Aino Virtanen", NewEmail: "aino.virtanen@uusi.example.fi", Link: "https://login.example.fi/email/c0nf1rm?a=1&b=2", ExpiresIn: time.Hour},
		EmailChangeRequested{Name: "Aino Virtanen", NewEmail: "aino.virtanen@uusi.example.fi", ResetLink: "https://login.example.fi/recovery"},
		EmailChanged{Name: "Aino Virtanen", NewEmail: "aino.virtanen@uusi.example.fi"},
		MFAChanged{Name: "Aino Virtanen", Change: MFARecoveryUsed, When: fixedWhen, CodesLeft: 3, IP: "192.0.2.7", SettingsLink: "https://login.example.fi/account/mfa", ResetLink: "https://login.example.fi/password/forgot?email=aino%40example.fi"},
		HelpdeskAction{Name: "Aino Virtanen", Change: HelpdeskUnlocked, When: fixedWhen, ResetLink: "https://login.example.fi/password/forgot?email=aino%40example.fi"},
		Invitation{Name: "Aino Virtanen", Email: "aino.virtanen@student.example.fi", Link: "https://login.example.fi/activation/password?token=1nv1te&a=1", ExpiresIn: 7 * 24 * time.Hour},
		AccountPending{Name: "Aino Virtanen", StartsAt: time.Date(2027, 1, 13, 22, 0, 0, 0, time.UTC), ActivationLink: "https://login.example.fi/activation?email=aino%40student.example.fi&a=1"},
		RegistryNotYet{RegistryDelay: "Registries usually send a new student's data the day after enrolment.", WaitDays: 60, RegisterLink: "https://login.example.fi/register?a=1&b=2"},
		AlreadyActive{Name: "Aino Virtanen", LoginLink: "https://login.example.fi/login?email=aino%40example.fi&a=1", ResetLink: "https://login.example.fi/password/forgot?email=aino%40example.fi"},
		AccountEnding{Name: "Aino Virtanen", LastDay: fixedWhen, SignInUntil: fixedWhen.AddDate(0, 0, 30), AccountLink: "https://login.example.fi/account?a=1&b=2"},
		IdentityBound{Name: "Aino Virtanen", OtherEmail: "aino.virtanen@student.example.fi", When: fixedWhen, ResetLink: "https://login.example.fi/password/forgot?email=aino%40example.fi"},
		HomeOrganisationLinked{Name: "Aino Virtanen", Provider: "Tampereen yliopisto", When: fixedWhen, ResetLink: "https://login.example.fi/password/forgot?email=aino%40example.fi"},
		GuestInvitation{Name: "Aino Virtanen", Inviter: "maija.meikalainen@example.fi", Note: "Tutkimushanke <Kide> & co", EndsAt: fixedWhen.AddDate(0, 3, 0), Link: "https://login.example.fi/guests/accept?code=Gu3st&x=1", ExpiresIn: 14 * 24 * time.Hour},
	}
}

func newTestRenderer(t testing.TB, cfg RendererConfig) *Renderer {
	t.Helper()
	r, err := NewRenderer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestSamplesCoverAllMessages(t *testing.T) {
	have := map[string]bool{}
	for _, m := range samples() {
		have[m.Kind()] = true
	}
	for _, m := range allMessages {
		if !have[m.Kind()] {
			t.Errorf("samples() lacks %s", m.Kind())
		}
	}
}

// TestGolden compares every message in every language with
// testdata/golden/<kind>.<lang>.{subject,txt,html}. After changing a
// template, run go test ./internal/mail -update and review the diff.
func TestGolden(t *testing.T) {
	r := newTestRenderer(t, RendererConfig{Product: "portti"})
	for _, msg := range samples() {
		checkGolden(t, r, msg.Kind(), msg)
	}
	// Variants whose wording differs enough to be worth a golden of
	// their own: <kind>.<variant>.<lang>.<ext>.
	reset := "https://login.example.fi/password/forgot?email=aino%40example.fi"
	for name, msg := range map[string]Message{
		"mfa_changed.reset_helpdesk":         MFAChanged{Name: "Aino Virtanen", Change: MFAResetByHelpdesk, When: fixedWhen, SettingsLink: "https://login.example.fi/account/mfa", ResetLink: reset},
		"mfa_changed.reset":                  MFAChanged{Name: "Aino Virtanen", Change: MFAReset, When: fixedWhen, SettingsLink: "https://login.example.fi/account/mfa", ResetLink: reset},
		"helpdesk_action.access_pass_issued": HelpdeskAction{Name: "Aino Virtanen", Change: HelpdeskAccessPassIssued, When: fixedWhen, ResetLink: reset},
		"helpdesk_action.access_pass_used":   HelpdeskAction{Name: "Aino Virtanen", Change: HelpdeskAccessPassUsed, When: fixedWhen, ResetLink: reset},
	} {
		checkGolden(t, r, name, msg)
	}
}

// checkGolden compares msg in every language with
// testdata/golden/<name>.<lang>.{subject,txt,html}.
func checkGolden(t *testing.T, r *Renderer, name string, msg Message) {
	t.Helper()
	for _, lang := range Languages {
		subject, text, html, err := r.Render(lang, msg)
		if err != nil {
			t.Fatalf("%s/%s: %v", name, lang, err)
		}
		for ext, got := range map[string]string{"subject": subject + "\n", "txt": text, "html": html} {
			path := filepath.Join("testdata", "golden", name+"."+lang+"."+ext)
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./internal/mail -update)", err)
			}
			if got != string(want) {
				t.Errorf("%s differs from the golden file (run go test ./internal/mail -update and review the diff)\ngot:\n%s", path, got)
			}
		}
	}
}

// TestRenderAll checks what every message in every language must have,
// with and without a name and a support contact.
func TestRenderAll(t *testing.T) {
	for _, cfg := range []RendererConfig{{}, {Product: "Tunnus & Co", Support: "tuki@example.fi"}} {
		r := newTestRenderer(t, cfg)
		product := cfg.Product
		if product == "" {
			product = "portti"
		}
		for _, msg := range samples() {
			for _, named := range []bool{true, false} {
				if !named {
					msg = withoutName(msg)
				}
				for _, lang := range Languages {
					subject, text, html, err := r.Render(lang, msg)
					if err != nil {
						t.Fatalf("%s/%s: %v", msg.Kind(), lang, err)
					}
					where := msg.Kind() + "/" + lang
					for part, s := range map[string]string{"subject": subject, "text": text, "html": html} {
						for _, bad := range []string{"<no value>", "%!", "{{", "}}", "ZgotmplZ"} {
							if strings.Contains(s, bad) {
								t.Errorf("%s %s contains %q:\n%s", where, part, bad, s)
							}
						}
					}
					if !strings.Contains(subject, product) {
						t.Errorf("%s subject %q does not name the product", where, subject)
					}
					if !strings.Contains(text, product) || !strings.Contains(html, htmlEscape(product)) {
						t.Errorf("%s body does not name the product", where)
					}
					if strings.Contains(subject, "\n") {
						t.Errorf("%s subject has a newline", where)
					}
					if !strings.HasPrefix(html, "<!DOCTYPE html>") || !strings.Contains(html, `<html lang="`+lang+`">`) {
						t.Errorf("%s html lacks doctype or lang", where)
					}
					for _, link := range links(msg) {
						if !strings.Contains(text, link) {
							t.Errorf("%s text lacks %s", where, link)
						}
						if !strings.Contains(html, `href="`+htmlEscape(link)+`"`) {
							t.Errorf("%s html lacks a link to %s", where, link)
						}
					}
					// The answer to an unknown address greets no one: there is no account.
					_, anonymous := msg.(RegistryNotYet)
					if named && !anonymous && !strings.Contains(text, "Aino Virtanen") {
						t.Errorf("%s does not greet by name", where)
					}
					if strings.Contains(text, " ,") || strings.Contains(html, " ,") {
						t.Errorf("%s has a stray space before a comma", where)
					}
					if _, ok := msg.(EmailChanged); ok && cfg.Support != "" && !strings.Contains(text, cfg.Support) {
						t.Errorf("%s does not show the support contact", where)
					}
				}
			}
		}
	}
}

func withoutName(m Message) Message {
	switch m := m.(type) {
	case Activation:
		m.Name = ""
		return m
	case AlreadyRegistered:
		m.Name = ""
		return m
	case Recovery:
		m.Name = ""
		return m
	case PasswordChanged:
		m.Name = ""
		return m
	case AccountLocked:
		m.Name = ""
		return m
	case EmailChange:
		m.Name = ""
		return m
	case EmailChangeRequested:
		m.Name = ""
		return m
	case EmailChanged:
		m.Name = ""
		return m
	case MFAChanged:
		m.Name = ""
		return m
	case HelpdeskAction:
		m.Name = ""
		return m
	case IdentityBound:
		m.Name = ""
		return m
	case HomeOrganisationLinked:
		m.Name = ""
		return m
	case Invitation:
		m.Name = ""
		return m
	case AccountPending:
		m.Name = ""
		return m
	case RegistryNotYet:
		m.RegistryDelay = ""
		return m
	case AlreadyActive:
		m.Name = ""
		return m
	case GuestInvitation:
		m.Name, m.Note = "", ""
		return m
	case AccountEnding:
		m.Name = ""
		return m
	}
	panic("unknown message")
}

func links(m Message) []string {
	switch m := m.(type) {
	case Activation:
		return []string{m.Link}
	case AlreadyRegistered:
		return []string{m.LoginLink, m.ResetLink}
	case Recovery:
		return []string{m.Link}
	case PasswordChanged:
		return []string{m.ResetLink}
	case AccountLocked:
		return []string{m.ResetLink}
	case EmailChange:
		return []string{m.Link}
	case EmailChangeRequested:
		return []string{m.ResetLink}
	case HelpdeskAction:
		return []string{m.ResetLink}
	case HomeOrganisationLinked:
		return []string{m.ResetLink}
	case Invitation:
		return []string{m.Link}
	case AccountPending:
		return []string{m.ActivationLink}
	case RegistryNotYet:
		return []string{m.RegisterLink}
	case AlreadyActive:
		return []string{m.LoginLink, m.ResetLink}
	case GuestInvitation:
		return []string{m.Link}
	case AccountEnding:
		return []string{m.AccountLink}
	}
	return nil
}

func htmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

func TestRenderLanguageFallback(t *testing.T) {
	r := newTestRenderer(t, RendererConfig{})
	msg := samples()[0]
	want := map[string]string{
		"fi": "Vahvista", "FI": "Vahvista", "fi-FI": "Vahvista",
		"sv": "Bekräfta", "sv-FI": "Bekräfta", "sv_SE": "Bekräfta",
		"en": "Confirm", "": "Confirm", "de": "Confirm", "se": "Confirm",
	}
	for lang, prefix := range want {
		subject, _, _, err := r.Render(lang, msg)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(subject, prefix) {
			t.Errorf("Render(%q) subject = %q, want it to start with %q", lang, subject, prefix)
		}
	}
}

func TestRenderRejectsCallerBugs(t *testing.T) {
	r := newTestRenderer(t, RendererConfig{})
	for _, msg := range []Message{
		nil,
		Activation{Link: "/activate?token=secret", ExpiresIn: time.Hour},
		Activation{Link: "javascript:alert(1)", ExpiresIn: time.Hour},
		Activation{Link: "https://login.example.fi/a"},
		PasswordChanged{ResetLink: "https://login.example.fi/r"},
		AccountLocked{ResetLink: "https://login.example.fi/r", Until: fixedWhen},
		EmailChanged{},
	} {
		_, _, _, err := r.Render("fi", msg)
		if err == nil {
			t.Errorf("Render(%#v) succeeded", msg)
			continue
		}
		if strings.Contains(err.Error(), "secret") {
			t.Errorf("error reveals the link: %v", err)
		}
	}
}

func TestNewRendererRejectsControlCharacters(t *testing.T) {
	if _, err := NewRenderer(RendererConfig{Product: "portti\r\nBcc: x@example.com"}); err == nil {
		t.Error("NewRenderer accepted a product name with a newline")
	}
}

func TestFormatTime(t *testing.T) {
	summer := time.Date(2026, 7, 1, 21, 30, 0, 0, time.UTC) // 00.30 next day, UTC+3
	for _, tc := range []struct {
		lang string
		t    time.Time
		want string
	}{
		{"fi", fixedWhen, "24.11.2026 klo 14.05"},
		{"sv", fixedWhen, "24.11.2026 kl. 14.05"},
		{"en", fixedWhen, "24 November 2026 at 14:05 (Helsinki time)"},
		{"fi", summer, "2.7.2026 klo 0.30"},
		{"en", summer, "2 July 2026 at 00:30 (Helsinki time)"},
	} {
		if got := formatTime(tc.lang, tc.t); got != tc.want {
			t.Errorf("formatTime(%s, %v) = %q, want %q", tc.lang, tc.t, got, tc.want)
		}
	}
}

func TestFormatDuration(t *testing.T) {
	for _, tc := range []struct {
		lang string
		d    time.Duration
		want string
	}{
		{"fi", 30 * time.Minute, "30 minuuttia"},
		{"fi", time.Minute, "minuutin"},
		{"fi", 90 * time.Second, "2 minuuttia"},
		{"fi", time.Hour, "tunnin"},
		{"fi", 90 * time.Minute, "90 minuuttia"},
		{"fi", 24 * time.Hour, "24 tuntia"},
		{"fi", 72 * time.Hour, "3 päivää"},
		{"sv", time.Hour, "en timme"},
		{"sv", 15 * time.Minute, "15 minuter"},
		{"sv", 7 * 24 * time.Hour, "7 dagar"},
		{"en", time.Hour, "one hour"},
		{"en", 2 * time.Hour, "2 hours"},
		{"en", 30 * time.Minute, "30 minutes"},
	} {
		if got := formatDuration(tc.lang, tc.d); got != tc.want {
			t.Errorf("formatDuration(%s, %v) = %q, want %q", tc.lang, tc.d, got, tc.want)
		}
	}
}

func TestFormatTimes(t *testing.T) {
	for _, tc := range []struct {
		lang string
		n    int
		want string
	}{
		{"fi", 1, "kerran"}, {"fi", 5, "5 kertaa"},
		{"sv", 1, "en gång"}, {"sv", 5, "5 gånger"},
		{"en", 1, "once"}, {"en", 5, "5 times"},
	} {
		if got := formatTimes(tc.lang, tc.n); got != tc.want {
			t.Errorf("formatTimes(%s, %d) = %q, want %q", tc.lang, tc.n, got, tc.want)
		}
	}
}
