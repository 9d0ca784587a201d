package refcode

import "testing"

func TestNew(t *testing.T) {
	seen := map[string]bool{}
	for range 2000 {
		c := New()
		if !Valid(c) {
			t.Fatalf("New() = %q, not in the format", c)
		}
		seen[c] = true
	}
	if len(seen) < 1999 {
		t.Errorf("only %d distinct codes in 2000", len(seen))
	}
}

func TestValid(t *testing.T) {
	for _, tc := range []struct {
		s    string
		want bool
	}{
		{"ABCD-EFGH", true}, {"2345-6789", true},
		{"ABCDEFGH", false}, {"ABC-DEFGH", false}, {"abcd-efgh", false},
		{"ABCD-EFG0", false}, {"ABCD-EFGI", false}, {"ABCD-EFGL", false}, {"ABCD-EFGO", false},
		{"", false}, {"ABCD-EFGH\n", false},
	} {
		if got := Valid(tc.s); got != tc.want {
			t.Errorf("Valid(%q) = %v, want %v", tc.s, got, tc.want)
		}
	}
}
