package guests

import (
	"testing"
	"time"

	"github.com/portti/portti/internal/storage"
)

// TestParseUntil: a day means to the end of that day in Helsinki; an
// RFC 3339 time is taken as given; anything else is refused.
func TestParseUntil(t *testing.T) {
	got, err := ParseUntil("2027-03-31")
	want := time.Date(2027, 3, 31, 23, 59, 59, 0, Helsinki).UTC()
	if err != nil || !got.Equal(want) {
		t.Fatalf("day: %v %v, want %v", got, err, want)
	}
	// Summer time: the end of the day is 20:59:59 UTC.
	if got, _ := ParseUntil("2027-07-01"); got.Hour() != 20 {
		t.Errorf("summer day ends at %v UTC", got)
	}
	if got, err := ParseUntil("2027-03-31T12:00:00Z"); err != nil || !got.Equal(time.Date(2027, 3, 31, 12, 0, 0, 0, time.UTC)) {
		t.Errorf("RFC 3339: %v %v", got, err)
	}
	for _, bad := range []string{"", "31.3.2027", "2027-02-30", "tomorrow"} {
		if _, err := ParseUntil(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestMayInvite: guest inviters and admins invite; the helpdesk does not.
func TestMayInvite(t *testing.T) {
	for roles, want := range map[string]bool{
		storage.RoleGuestInviter: true, storage.RoleAdmin: true, storage.RoleHelpdesk: false, "": false,
	} {
		if got := MayInvite([]string{roles}); got != want {
			t.Errorf("MayInvite(%q) = %v", roles, got)
		}
	}
}

// TestSecretsHashed: the code is 256 bits, the hash its SHA-256 in hex,
// and two codes differ.
func TestSecretsHashed(t *testing.T) {
	a, ha, err := newSecret()
	if err != nil {
		t.Fatal(err)
	}
	b, _, _ := newSecret()
	if len(a) != 43 || len(ha) != 64 || a == b || ha != hashCode(a) || ha == a {
		t.Fatalf("code %q hash %q", a, ha)
	}
}
