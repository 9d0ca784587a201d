package password

import (
	"reflect"
	"slices"
	"strings"
	"testing"
)

func mustPolicy(t testing.TB, preset string) Policy {
	t.Helper()
	p, err := NewPolicy(preset)
	if err != nil {
		t.Fatalf("NewPolicy(%q): %v", preset, err)
	}
	return p
}

func codes(vs []Violation) []string {
	var cs []string
	for _, v := range vs {
		cs = append(cs, v.Code)
	}
	return cs
}

type checkCase struct {
	name     string
	password string
	personal []string
	want     []string // codes, in order; nil for none
}

func runCheckCases(t *testing.T, p Policy, cases []checkCase) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			got := codes(p.Check(tt.password, tt.personal...))
			if !slices.Equal(got, tt.want) {
				t.Errorf("Check(%q, %q) = %q, want %q", tt.password, tt.personal, got, tt.want)
			}
		})
	}
}

func TestNewPolicy(t *testing.T) {
	for _, tt := range []struct {
		preset, want string
		ok           bool
	}{
		{"nist", PresetNIST, true},
		{"", PresetNIST, true},
		{"classes", PresetClasses, true},
		{"NIST", "", false},
		{"kouvola", "", false},
	} {
		t.Run(tt.preset, func(t *testing.T) {
			p, err := NewPolicy(tt.preset)
			if (err == nil) != tt.ok || p.Preset != tt.want {
				t.Errorf("NewPolicy(%q) = %q, %v; want %q, ok %v", tt.preset, p.Preset, err, tt.want, tt.ok)
			}
		})
	}
}

func TestCheckClasses(t *testing.T) {
	runCheckCases(t, mustPolicy(t, PresetClasses), []checkCase{
		// Kouvola's own examples.
		{"kouvola ok", "Abc12!", nil, nil},
		{"kouvola no upper", "abc12!", nil, []string{CodeNeedsUpper}},
		{"kouvola no digit", "Abcdef!", nil, []string{CodeNeedsDigit}},
		{"kouvola too short", "Ab1!", nil, []string{CodeTooShort}},

		{"no lower", "ABC12!", nil, []string{CodeNeedsLower}},
		{"no special", "Abc123", nil, []string{CodeNeedsSpecial}},
		{"space is not special", "Abc 12", nil, []string{CodeNeedsSpecial}},
		{"empty", "", nil, []string{CodeTooShort, CodeNeedsLower, CodeNeedsUpper, CodeNeedsDigit, CodeNeedsSpecial}},
		{"unicode letters", "Äöå12!", nil, nil},
		{"half is special", "Äbc12½", nil, nil},
		{"pound is special", "Abc12£", nil, nil},
		{"euro is special", "Abc12€", nil, nil},
		{"arabic-indic digit", "Abcd٣!", nil, nil},
		{"superscript is special not digit", "Abcde²", nil, []string{CodeNeedsDigit}},
		{"max length", "Aa1!" + strings.Repeat("x", 252), nil, nil},
		{"too long", "Aa1!" + strings.Repeat("x", 253), nil, []string{CodeTooLong}},
		// No blocklist and no personal information in this preset.
		{"common is fine", "Password1!", nil, nil},
		{"personal is fine", "Matti1!", []string{"matti@example.fi", "Matti", "Virtanen"}, nil},
		{"control character", "Abc12!\x00", nil, []string{CodeInvalidChars}},
	})
}

func TestClassesEveryKouvolaSpecial(t *testing.T) {
	p := mustPolicy(t, PresetClasses)
	for _, r := range ";,._-'*~^\\`+?=)][](!£#\"!@$½" {
		if vs := p.Check("Abc12" + string(r)); vs != nil {
			t.Errorf("Check(%q) = %q, want none", "Abc12"+string(r), codes(vs))
		}
	}
}

func TestCheckNIST(t *testing.T) {
	runCheckCases(t, mustPolicy(t, PresetNIST), []checkCase{
		{"passphrase", "correct horse battery staple", nil, nil},
		{"finnish passphrase", "Äitini kesämökki järven rannalla", nil, nil},
		{"no composition rules", "kuusikuusikuusi", nil, nil},
		{"eight characters", "kl7fz0qa", nil, nil},
		{"eight two-byte characters", "äöåäöåäö", nil, nil},
		{"too short", "kl7fz0q", nil, []string{CodeTooShort}},
		{"empty", "", nil, []string{CodeTooShort}},
		// Seven code points after NFC though fourteen before it.
		{"decomposed counts after NFC", strings.Repeat("a\u0308", 7), nil, []string{CodeTooShort}},
		{"max length", strings.Repeat("ä", 256), nil, nil},
		{"too long", strings.Repeat("ä", 257), nil, []string{CodeTooLong}},
		{"short and common", "123456", nil, []string{CodeTooShort, CodeCommon}},

		{"common password1", "password1", nil, []string{CodeCommon}},
		{"common salasana1", "salasana1", nil, []string{CodeCommon}},
		{"common Qwerty123", "Qwerty123", nil, []string{CodeCommon}},
		{"common PASSWORD1", "PASSWORD1", nil, []string{CodeCommon}},
		{"common Kesä2024", "Kesä2024", nil, []string{CodeCommon}},
		{"common kesa2024", "kesa2024", nil, []string{CodeCommon}},
		{"common decomposed Kesä2024", "Kesa\u03082024", nil, []string{CodeCommon}},
		{"common lösenord", "lösenord", nil, []string{CodeCommon}},
		{"common kissa123", "kissa123", nil, []string{CodeCommon}},
		{"common perkele1", "Perkele1", nil, []string{CodeCommon}},
		{"common keyboard walk", "qwertyuiopå", nil, []string{CodeCommon}},

		{"invalid utf-8", "salainen\xff\xfe", nil, []string{CodeInvalidChars}},
		{"tab", "hyvä\tsalasana", nil, []string{CodeInvalidChars}},
	})
}

func TestCheckPersonal(t *testing.T) {
	matti := []string{"Matti.Virtanen@Example.fi", "Matti", "Virtanen"}
	runCheckCases(t, mustPolicy(t, PresetNIST), []checkCase{
		{"whole address", "matti.virtanen@example.fi", matti, []string{CodePersonal}},
		{"local part", "MATTI.VIRTANEN", matti, []string{CodePersonal}},
		{"local part inside", "xx-matti.virtanen-xx", matti, []string{CodePersonal}},
		{"given name", "xXmattiXx99", matti, []string{CodePersonal}},
		{"family name", "virtanen2024!", matti, []string{CodePersonal}},
		{"unrelated", "kuusi pientä sammakkoa", matti, nil},
		{"no personal data", "virtanen2024!", nil, nil},
		{"empty personal data", "virtanen2024!", []string{"", "  "}, nil},
		{"word of local part", "virtanen on paras", []string{"matti.virtanen@example.fi"}, []string{CodePersonal}},
		{"short name ignored", "always sunny day", []string{"al@example.com", "Al", "Li"}, nil},
		{"short local part ignored", "jojo1234 jojo", []string{"jo@x.fi"}, nil},
		{"hyphenated name", "liisa on kiva 42", []string{"", "Anna-Liisa", "Korhonen"}, []string{CodePersonal}},
		{"unicode case", "ÄIJÄLÄ-kesäpaikka", []string{"", "Väinö", "Äijälä"}, []string{CodePersonal}},
		{"decomposed name", "äijälä-kesäpaikka", []string{"", "", "A\u0308ija\u0308la\u0308"}, []string{CodePersonal}},
		{"common and personal", "matti123", matti, []string{CodeCommon, CodePersonal}},
	})
}

func TestCheckArgs(t *testing.T) {
	nist := mustPolicy(t, PresetNIST)
	got := nist.Check("lyhyt", "")
	want := []Violation{{Code: CodeTooShort, Args: map[string]any{"Min": 8}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Check = %#v, want %#v", got, want)
	}
	got = nist.Check(strings.Repeat("x", 300))
	want = []Violation{{Code: CodeTooLong, Args: map[string]any{"Max": 256}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Check = %#v, want %#v", got, want)
	}
}

func TestCheckCustomised(t *testing.T) {
	p := mustPolicy(t, PresetNIST)
	p.MinLength = 12
	p.RequireDigit = true
	got := p.Check("kl7fz0qa")
	want := []Violation{{Code: CodeTooShort, Args: map[string]any{"Min": 12}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Check = %#v, want %#v", got, want)
	}
	if got := codes(p.Check("pitkä salasana ilman numeroita")); !slices.Equal(got, []string{CodeNeedsDigit}) {
		t.Errorf("Check = %q, want [%s]", got, CodeNeedsDigit)
	}
}

func TestRequirements(t *testing.T) {
	for _, tt := range []struct {
		preset string
		want   []Violation
	}{
		{PresetNIST, []Violation{
			{Code: RuleMinLength, Args: map[string]any{"Min": 8}},
			{Code: RuleMaxLength, Args: map[string]any{"Max": 256}},
			{Code: RuleNotCommon},
			{Code: RuleNotPersonal},
		}},
		{PresetClasses, []Violation{
			{Code: RuleMinLength, Args: map[string]any{"Min": 6}},
			{Code: RuleMaxLength, Args: map[string]any{"Max": 256}},
			{Code: RuleClasses, Args: map[string]any{"Lower": true, "Upper": true, "Digit": true, "Special": true}},
		}},
	} {
		t.Run(tt.preset, func(t *testing.T) {
			if got := mustPolicy(t, tt.preset).Requirements(); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Requirements() = %#v, want %#v", got, tt.want)
			}
		})
	}
}

func BenchmarkCheckNIST(b *testing.B) {
	p := mustPolicy(b, PresetNIST)
	p.Check("warm up the blocklist")
	for b.Loop() {
		p.Check("Äitini kesämökki järven rannalla", "matti.virtanen@example.fi", "Matti", "Virtanen")
	}
}
