package account

import (
	"errors"
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// MaxEmailLength is the longest address accepted (RFC 5321 path limit).
const MaxEmailLength = 254

// ErrInvalidEmail is returned by NormalizeEmail for anything that is not a
// plain, deliverable-looking address.
var ErrInvalidEmail = errors.New("invalid e-mail address")

// NormalizeEmail turns what a person typed into the form portti stores and
// compares: surrounding space trimmed, Unicode NFC, lower-cased. Login names
// are case-insensitive, so "Maija.Meikalainen@Example.FI" and
// "maija.meikalainen@example.fi " are the same account.
//
// Only a bare addr-spec is accepted (no display name, no comments, no quoted
// local part, no IP-literal domain), with a dot in the domain: that is what
// people type, and anything cleverer is more likely an attack on a mail
// header than an address.
func NormalizeEmail(s string) (string, error) {
	s = strings.TrimSpace(s)
	if !utf8.ValidString(s) {
		return "", ErrInvalidEmail
	}
	s = strings.ToLower(norm.NFC.String(s))
	if s == "" || len(s) > MaxEmailLength {
		return "", ErrInvalidEmail
	}
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at == len(s)-1 || strings.Count(s, "@") != 1 {
		return "", ErrInvalidEmail
	}
	local, domain := s[:at], s[at+1:]
	if len(local) > 64 || strings.HasPrefix(local, ".") || strings.HasSuffix(local, ".") || strings.Contains(local, "..") {
		return "", ErrInvalidEmail
	}
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.IsControl(r) || r == '"' || r == '(' || r == ')' || r == '<' || r == '>' || r == ',' || r == ';' || r == ':' || r == '\\' || r == '[' || r == ']' {
			return "", ErrInvalidEmail
		}
	}
	if !validDomain(domain) {
		return "", ErrInvalidEmail
	}
	// net/mail is the final word on syntax, so a stored address always
	// round-trips through the mail headers we build from it.
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return "", ErrInvalidEmail
	}
	return s, nil
}

func validDomain(d string) bool {
	if len(d) > 253 || !strings.Contains(d, ".") {
		return false
	}
	for label := range strings.SplitSeq(d, ".") {
		if label == "" || len(label) > 63 || strings.HasPrefix(label, "-") || strings.HasSuffix(label, "-") {
			return false
		}
		for _, r := range label {
			if r != '-' && !unicode.IsLetter(r) && !unicode.IsDigit(r) && !unicode.Is(unicode.Mn, r) {
				return false
			}
		}
	}
	return true
}
