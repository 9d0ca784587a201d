package password

import (
	"strings"
	"testing"

	"golang.org/x/text/unicode/norm"
)

// TestBlocklistFiles checks the embedded lists are what isCommon assumes:
// lower-case NFC entries without surrounding space, none twice.
func TestBlocklistFiles(t *testing.T) {
	seen := map[string]string{}
	for _, f := range []struct{ name, text string }{
		{"common-passwords.txt", commonPasswords},
		{"common-passwords-local.txt", commonPasswordsLocal},
	} {
		n := 0
		for i, line := range strings.Split(strings.TrimSuffix(f.text, "\n"), "\n") {
			if strings.HasPrefix(line, "#") {
				continue
			}
			n++
			switch {
			case line == "":
				t.Errorf("%s:%d: empty line", f.name, i+1)
			case strings.TrimSpace(line) != line:
				t.Errorf("%s:%d: %q has surrounding space", f.name, i+1, line)
			case strings.ToLower(line) != line:
				t.Errorf("%s:%d: %q is not lower-case", f.name, i+1, line)
			case !norm.NFC.IsNormalString(line):
				t.Errorf("%s:%d: %q is not NFC", f.name, i+1, line)
			}
			if prev, ok := seen[line]; ok {
				t.Errorf("%s:%d: %q is also in %s", f.name, i+1, line, prev)
			}
			seen[line] = f.name
		}
		if n < 1000 {
			t.Errorf("%s: %d entries, want at least 1000", f.name, n)
		}
	}
	isCommon("")
	if len(commonSet) != len(seen) {
		t.Errorf("blocklist has %d entries, files %d", len(commonSet), len(seen))
	}
}

func TestIsCommon(t *testing.T) {
	for _, tt := range []struct {
		folded string
		want   bool
	}{
		{"123456", true},
		{"password1", true},
		{"qwerty123", true},
		{"salasana", true},
		{"salasana1", true},
		{"kesä2024", true},
		{"lösenord", true},
		{"perkele", true},
		{"", false},
		{"# common passwords", false}, // comment lines are not entries
		{"äitini kesämökki järven rannalla", false},
	} {
		t.Run(tt.folded, func(t *testing.T) {
			if got := isCommon(tt.folded); got != tt.want {
				t.Errorf("isCommon(%q) = %v, want %v", tt.folded, got, tt.want)
			}
		})
	}
}
