// Package refcode makes the reference codes shown to a person on a page
// that explains a problem (an internal error, a disabled account, an
// application that is closed to their network), so that the helpdesk can
// find the log and audit lines about it from what the person reads out.
//
// Every page uses the one format, "ABCD-EFGH": eight characters from an
// alphabet without look-alikes (no 0/O, 1/I/L), grouped in fours so that
// it can be read over the phone. 31^8 ≈ 8.5·10^11 codes: collisions among
// a day's problems are negligible, and a code is not a secret.
package refcode

import (
	"crypto/rand"
	"regexp"
)

// alphabet has no 0, O, 1, I or L.
const alphabet = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"

// pattern is what New returns.
var pattern = regexp.MustCompile(`^[` + alphabet + `]{4}-[` + alphabet + `]{4}$`)

// New returns a fresh reference code.
func New() string {
	out := make([]byte, 0, 9)
	var b [1]byte
	for len(out) < 9 {
		if len(out) == 4 {
			out = append(out, '-')
			continue
		}
		_, _ = rand.Read(b[:])
		// Rejection sampling: 248 = 8·31, so every letter is equally likely.
		if b[0] >= 248 {
			continue
		}
		out = append(out, alphabet[int(b[0])%len(alphabet)])
	}
	return string(out)
}

// Valid reports whether s has the format of a reference code.
func Valid(s string) bool { return pattern.MatchString(s) }
