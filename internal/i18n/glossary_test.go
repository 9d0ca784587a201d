package i18n

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// bannedTerm is one banned variant of GLOSSARY.md, for one language.
type bannedTerm struct {
	lang, term string
	re         *regexp.Regexp
}

// readGlossary parses GLOSSARY.md: under "## LANG", each table row's last
// cell lists banned variants in backticks.
func readGlossary(t *testing.T) []bannedTerm {
	t.Helper()
	b, err := os.ReadFile("GLOSSARY.md")
	if err != nil {
		t.Fatal(err)
	}
	var out []bannedTerm
	lang := ""
	tick := regexp.MustCompile("`([^`]+)`")
	for _, line := range strings.Split(string(b), "\n") {
		if h, ok := strings.CutPrefix(line, "## "); ok {
			lang = strings.TrimSpace(h)
			continue
		}
		if lang == "" || !strings.HasPrefix(line, "|") || strings.HasPrefix(line, "|---") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "| "), "|")
		for _, m := range tick.FindAllStringSubmatch(cells[len(cells)-1], -1) {
			out = append(out, bannedTerm{lang: lang, term: m[1], re: termRE(m[1])})
		}
	}
	if len(out) == 0 {
		t.Fatal("GLOSSARY.md lists no banned variants")
	}
	for _, l := range Languages {
		if !slicesHasLang(out, l) {
			t.Errorf("GLOSSARY.md has no banned variants for %s", l)
		}
	}
	return out
}

func slicesHasLang(ts []bannedTerm, lang string) bool {
	for _, x := range ts {
		if x.lang == lang {
			return true
		}
	}
	return false
}

// termRE matches term as whole words, case-insensitively; a trailing *
// lets the last word continue. Go's \b knows ASCII letters only, so the
// boundaries are written out for every script ("käyttäjätunnus" must not
// match "tunnus*").
func termRE(term string) *regexp.Regexp {
	open := strings.HasSuffix(term, "*")
	term = strings.TrimSuffix(term, "*")
	words := strings.Fields(term)
	for i, w := range words {
		words[i] = regexp.QuoteMeta(w)
	}
	expr := `(?i)(?:^|[^\p{L}\p{N}])(` + strings.Join(words, `[\s\p{Zs}]+`)
	if open {
		expr += `[\p{L}\p{N}-]*`
	}
	expr += `)(?:$|[^\p{L}\p{N}])`
	return regexp.MustCompile(expr)
}

// templateAction and htmlTag are not text a person reads.
var (
	templateAction = regexp.MustCompile(`(?s)\{\{.*?\}\}`)
	textArg        = regexp.MustCompile(`\{[A-Za-z]+\}`)
	htmlTag        = regexp.MustCompile(`(?s)<[^>]*>`)
)

// TestGlossary enforces GLOSSARY.md over every message file (every area's
// included) and every mail template: no banned variant in any language.
func TestGlossary(t *testing.T) {
	terms := readGlossary(t)
	check := func(lang, where, text string) {
		for _, bt := range terms {
			if bt.lang != lang {
				continue
			}
			if m := bt.re.FindStringSubmatch(text); m != nil {
				t.Errorf("%s: %q is banned by GLOSSARY.md (%s: `%s`); use the preferred term", where, m[1], lang, bt.term)
			}
		}
	}

	files, _ := filepath.Glob("messages/*.json")
	if len(files) == 0 {
		t.Fatal("no message files")
	}
	for _, f := range files {
		lang := fileLanguage(f)
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]string
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			check(lang, fmt.Sprintf("%s key %q", f, k), textArg.ReplaceAllString(m[k], " "))
		}
	}

	// The mail templates: internal/mail/templates/KIND/LANG/FILE.
	mails, _ := filepath.Glob("../mail/templates/*/*/*")
	if len(mails) == 0 {
		t.Fatal("no mail templates found under ../mail/templates")
	}
	for _, f := range mails {
		lang := filepath.Base(filepath.Dir(f))
		if !Supported(lang) {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(b), "\n") {
			text := htmlTag.ReplaceAllString(templateAction.ReplaceAllString(line, " "), " ")
			check(lang, fmt.Sprintf("%s line %d", f, i+1), text)
		}
	}
}

// TestGlossaryMatcher: the word boundaries hold in every script, and a
// banned variant is found where it stands.
func TestGlossaryMatcher(t *testing.T) {
	for _, tc := range []struct {
		term, text string
		want       bool
	}{
		{"tunnus*", "Luo käyttäjätunnus", false},
		{"tunnuks*", "kirjautunut tunnuksella x", true},
		{"log in", "Please log in now", true},
		{"log in", "Please log\u00a0in now", true},
		{"log in", "a blog in Finnish", false},
		{"login*", "the login address", true},
		{"login*", "sign-in address", false},
		{"e-mail*", "E-mail address", true},
		{"e-mail*", "email address", false},
		{"computer*", "this Computer", true},
		{"dator*", "datorn", true},
		{"verkko-osoit*", "Verkko-osoitteestasi", true},
	} {
		if got := termRE(tc.term).MatchString(tc.text); got != tc.want {
			t.Errorf("%q in %q: %v, want %v", tc.term, tc.text, got, tc.want)
		}
	}
}
