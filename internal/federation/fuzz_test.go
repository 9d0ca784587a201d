package federation

import (
	"strings"
	"testing"
)

// FuzzSearch: any query, in any language, answers without panicking with
// a subset of the providers, each once.
func FuzzSearch(f *testing.F) {
	for _, q := range []string{"", "åbo", "ule\u0061\u030aborg", "  ", "\x00", "\xff\xfe", strings.Repeat("a ", 60)} {
		f.Add(q, "fi")
	}
	s := testServiceF(f)
	f.Fuzz(func(t *testing.T, q, lang string) {
		got := s.Search(q, lang)
		seen := map[string]bool{}
		for _, c := range got {
			if _, ok := s.providers[c.ID]; !ok || seen[c.ID] {
				t.Fatalf("Search(%q) = %+v", q, got)
			}
			seen[c.ID] = true
		}
		if strings.TrimSpace(q) == "" && len(got) != len(s.order) {
			t.Fatalf("an empty query lists %d of %d", len(got), len(s.order))
		}
	})
}

// FuzzLocalPath: a kept return address is always a path on this site.
func FuzzLocalPath(f *testing.F) {
	for _, p := range []string{"/account", "//evil", "/\\evil", "https://x/", "/a?b=c", "/\x7f"} {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, p string) {
		got := localPath(p)
		if got == "" {
			return
		}
		if got != p || !strings.HasPrefix(got, "/") || strings.HasPrefix(got, "//") || strings.HasPrefix(got, "/\\") || strings.ContainsAny(got, "\r\n\t") {
			t.Fatalf("localPath(%q) = %q", p, got)
		}
	})
}
