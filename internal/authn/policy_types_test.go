package authn

import "testing"

// TestPolicyByType: a listed user type decides before the domain
// patterns; an unlisted or empty type leaves them to decide; in both
// lists, required wins.
func TestPolicyByType(t *testing.T) {
	p := Policy{
		RequiredDomains: []string{"*@example.fi"}, OptionalDomains: []string{"*@student.example.fi"},
		RequiredTypes: []string{"staff", "both"}, OptionalTypes: []string{"guest", "both"},
	}
	for _, tc := range []struct {
		typ, email string
		want       bool
	}{
		{"staff", "x@student.example.fi", true},
		{"guest", "x@example.fi", false},
		{"both", "x@student.example.fi", true},
		{"student", "x@student.example.fi", false},
		{"", "x@example.fi", true},
		{"", "x@other.fi", false},
	} {
		if got := p.RequiredForType(tc.typ, tc.email); got != tc.want {
			t.Errorf("%q %q: %v, want %v", tc.typ, tc.email, got, tc.want)
		}
	}
	if (Policy{}).ByType() || !p.ByType() {
		t.Error("ByType")
	}
}
