package provision

import (
	"fmt"
	"path"
	"strings"
)

// Well-known user types; an organisation may define others.
const (
	TypeStaff    = "staff"
	TypeStudent  = "student"
	TypeExternal = "external"
	TypeGuest    = "guest"
)

// UserTypeRule gives accounts whose login address matches one of Domains
// the user type Type. A pattern is a glob on the whole address, "*" for
// any characters: "*@student.example.fi", "*@*.example.fi".
type UserTypeRule struct {
	Type    string
	Domains []string
}

// UserTypes assigns user types from login addresses; the first rule that
// matches wins. The zero value assigns none.
type UserTypes struct{ rules []UserTypeRule }

// NewUserTypes checks the rules: type names as ValidUserType, patterns
// that are valid globs with an "@".
func NewUserTypes(rules []UserTypeRule) (*UserTypes, error) {
	out := &UserTypes{}
	for i, r := range rules {
		if !ValidUserType(r.Type) {
			return nil, fmt.Errorf("user type %d: %q is not a user type name (a-z, 0-9, - and _, at most 32, starting with a letter)", i+1, r.Type)
		}
		if len(r.Domains) == 0 {
			return nil, fmt.Errorf("user type %q: no domains", r.Type)
		}
		rule := UserTypeRule{Type: r.Type}
		for _, d := range r.Domains {
			d = strings.ToLower(strings.TrimSpace(d))
			if _, err := path.Match(d, "x@example.fi"); err != nil || !strings.Contains(d, "@") {
				return nil, fmt.Errorf("user type %q: %q is not an address pattern like *@student.example.fi", r.Type, d)
			}
			rule.Domains = append(rule.Domains, d)
		}
		out.rules = append(out.rules, rule)
	}
	return out, nil
}

// For returns the user type of a normalised login address, or "".
func (u *UserTypes) For(email string) string {
	if u == nil {
		return ""
	}
	for _, r := range u.rules {
		for _, d := range r.Domains {
			if ok, _ := path.Match(d, email); ok {
				return r.Type
			}
		}
	}
	return ""
}

// Patterns is a list of address patterns (globs as in UserTypeRule).
type Patterns []string

// NewPatterns checks address patterns.
func NewPatterns(list []string) (Patterns, error) {
	var out Patterns
	for _, d := range list {
		d = strings.ToLower(strings.TrimSpace(d))
		if _, err := path.Match(d, "x@example.fi"); err != nil || !strings.Contains(d, "@") {
			return nil, fmt.Errorf("%q is not an address pattern like *@student.example.fi", d)
		}
		out = append(out, d)
	}
	return out, nil
}

// Match reports whether a normalised address matches one of the patterns.
func (ps Patterns) Match(email string) bool {
	for _, p := range ps {
		if ok, _ := path.Match(p, email); ok {
			return true
		}
	}
	return false
}

// ValidUserType reports whether s can name a user type.
func ValidUserType(s string) bool {
	if s == "" || len(s) > 32 || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z') && !(c >= '0' && c <= '9') && c != '-' && c != '_' {
			return false
		}
	}
	return true
}
