package authn

// MaxCodeInput bounds what the second step's code field is read at: the
// longest code is a recovery code with its dashes; anything much longer is
// junk and is refused before any work.
const MaxCodeInput = 64

// NormalizeCode turns what a person typed into a code: spaces and dashes
// (as codes are printed in groups) are dropped and letters upper-cased.
// It returns ErrMalformed for anything but 6 to 16 letters and digits, so
// that methods never see junk, and a malformed code costs no lookup.
func NormalizeCode(s string) (string, error) {
	if len(s) > MaxCodeInput {
		return "", ErrMalformed
	}
	out := make([]byte, 0, 16)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '-' || c == '\t':
			continue
		case c >= 'a' && c <= 'z':
			c -= 'a' - 'A'
		case c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		default:
			return "", ErrMalformed
		}
		if len(out) == 16 {
			return "", ErrMalformed
		}
		out = append(out, c)
	}
	if len(out) < 6 {
		return "", ErrMalformed
	}
	return string(out), nil
}
