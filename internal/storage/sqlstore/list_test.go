package sqlstore

import (
	"encoding/json"
	"slices"
	"testing"
	"unicode/utf8"
)

// FuzzPlainList: when plainList decodes a stored list, it reads what
// encoding/json reads; and every list dbList writes decodes the same.
func FuzzPlainList(f *testing.F) {
	for _, s := range []string{`["a"]`, `["openid","profile"]`, `["https://api.example.fi/x"]`, `["ä","€"]`, `["a\"b"]`, `["",""]`, `[ "a"]`, `["a",]`, `["\u00e4"]`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if l, ok := plainList(s); ok {
			var want []string
			if err := json.Unmarshal([]byte(s), &want); err != nil || !slices.Equal(l, want) {
				t.Fatalf("plainList(%q) = %q, encoding/json: %q (%v)", s, l, want, err)
			}
		}
		// The round trip of dbList (which writes invalid UTF-8 as U+FFFD).
		if !utf8.ValidString(s) {
			return
		}
		in := []string{s, "x"}
		var d listDecoder
		if got := d.list(dbList(in)); d.err != nil || !slices.Equal(got, in) {
			t.Fatalf("round trip of %q: %q %v", in, got, d.err)
		}
	})
}
