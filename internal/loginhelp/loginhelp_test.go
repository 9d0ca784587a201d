package loginhelp

import "testing"

func jamk(t *testing.T) *Helper {
	t.Helper()
	h, err := New([]Format{
		{Type: "staff", Domain: "jamk.fi", Text: map[string]string{"en": "firstname.lastname@jamk.fi", "fi": "etunimi.sukunimi@jamk.fi"}},
		{Type: "student", Domain: "student.jamk.fi", Text: map[string]string{"en": "username@student.jamk.fi", "fi": "tunnus@student.jamk.fi"}},
		{Type: "external", Domain: "external.jamk.fi", Text: map[string]string{"en": "firstname.lastname@external.jamk.fi"}},
	}, DomainsOfPatterns([]string{"*@student.jamk.fi", "*@*.jamk.fi", "*@guest.example.fi"}))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestFor(t *testing.T) {
	h := jamk(t)
	for _, tc := range []struct {
		typed, lang             string
		typ, format, suggestion string
	}{
		{"aino@student.jamk.fi", "en", "student", "username@student.jamk.fi", ""},
		{"Aino@STUDENT.jamk.fi", "fi", "student", "tunnus@student.jamk.fi", ""},
		{"aino.v@jamk.fi", "sv", "staff", "firstname.lastname@jamk.fi", ""}, // no sv text: English
		{"aino@jamk.f", "en", "staff", "firstname.lastname@jamk.fi", "aino@jamk.fi"},
		{"aino@student.jamk.fi.", "en", "student", "username@student.jamk.fi", "aino@student.jamk.fi"},
		{"aino@stduent.jamk.fi", "en", "student", "username@student.jamk.fi", "aino@student.jamk.fi"},
		{"aino@studnet.jamk.fi", "en", "student", "username@student.jamk.fi", "aino@student.jamk.fi"},
		{"aino@student.jamk.ft", "en", "student", "username@student.jamk.fi", "aino@student.jamk.fi"},
		{"aino@stdnt.jamk.fi", "en", "student", "username@student.jamk.fi", "aino@student.jamk.fi"}, // 3 edits, same parent
		{"aino@externl.jamk.fi", "en", "external", "firstname.lastname@external.jamk.fi", "aino@external.jamk.fi"},
		{"aino@guest.exmaple.fi", "en", "", "", "aino@guest.example.fi"}, // a domain with no format
		{"aino@gmail.com", "en", "", "", ""},
		{"aino@jamk.com", "en", "", "", ""},
		{"aino", "en", "", "", ""},
		{"@jamk.fi", "en", "", "", ""},
		{"aino@", "en", "", "", ""},
		{"", "en", "", "", ""},
	} {
		t.Run(tc.typed, func(t *testing.T) {
			got := h.For(tc.typed, tc.lang)
			if got.Type != tc.typ || got.Format != tc.format || got.Suggestion != tc.suggestion {
				t.Errorf("For(%q, %s) = %+v, want type %q format %q suggestion %q", tc.typed, tc.lang, got, tc.typ, tc.format, tc.suggestion)
			}
		})
	}
}

func TestFormats(t *testing.T) {
	got := jamk(t).Formats("fi")
	want := []DomainFormat{{"jamk.fi", "staff", "etunimi.sukunimi@jamk.fi"}, {"student.jamk.fi", "student", "tunnus@student.jamk.fi"},
		{"external.jamk.fi", "external", "firstname.lastname@external.jamk.fi"}}
	if len(got) != len(want) {
		t.Fatalf("Formats = %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("Formats[%d] = %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestTieSuggestsNothing(t *testing.T) {
	h, err := New(nil, []string{"ab.example.fi", "ac.example.fi"})
	if err != nil {
		t.Fatal(err)
	}
	if got := h.For("x@ad.example.fi", "en"); !got.Empty() {
		t.Errorf("a tie between two domains suggested %+v", got)
	}
}

func TestNewRefusesBadFormats(t *testing.T) {
	for name, f := range map[string]Format{
		"no domain":  {Type: "staff", Text: map[string]string{"en": "x"}},
		"bad domain": {Type: "staff", Domain: "*.example.fi", Text: map[string]string{"en": "x"}},
		"no type":    {Domain: "example.fi", Text: map[string]string{"en": "x"}},
		"no text":    {Type: "staff", Domain: "example.fi"},
	} {
		if _, err := New([]Format{f}, nil); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{{"", "", 0}, {"abc", "abc", 0}, {"abc", "acb", 1}, {"jamk.f", "jamk.fi", 1}, {"kitten", "sitting", 3}, {"", "ab", 2}} {
		if got := distance(tc.a, tc.b); got != tc.want {
			t.Errorf("distance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}

// FuzzFor: any typed text gives an answer without panicking, and a
// suggestion is always an address in a known domain.
func FuzzFor(f *testing.F) {
	for _, s := range []string{"aino@jamk.f", "a@b@c", "@", "x@stduent.jamk.fi..", "ä@ö.fi"} {
		f.Add(s)
	}
	h, _ := New([]Format{{Type: "student", Domain: "student.jamk.fi", Text: map[string]string{"en": "u@student.jamk.fi"}}}, []string{"jamk.fi"})
	f.Fuzz(func(t *testing.T, s string) {
		got := h.For(s, "en")
		if got.Suggestion != "" && h.known(got.Suggestion[len(got.Suggestion)-len(parentOrSelf(got.Suggestion)):]) == "" {
			t.Errorf("suggestion %q is not in a known domain", got.Suggestion)
		}
	})
}

func parentOrSelf(addr string) string {
	for i := len(addr) - 1; i >= 0; i-- {
		if addr[i] == '@' {
			return addr[i+1:]
		}
	}
	return addr
}
