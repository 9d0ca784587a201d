package authn

import (
	"fmt"
	"strings"
)

// Policy says whose sign-ins need a second factor. Required is the
// default for everyone (mfa.policy); the domain lists override it per
// e-mail address pattern. Of the patterns that match an address, the most
// specific wins: the one with the most characters besides '*'. So
// `*@student.example.fi` (required) beats `*@*.example.fi` (optional), and
// an exact address beats both; on a tie, required wins.
//
// A pattern is `*@domain` (that domain exactly), `*@*.domain` (its
// subdomains, not the domain itself) or a whole address; case does not
// matter.
//
// RequiredTypes and OptionalTypes do the same per user type (staff,
// student…; package provision). A user type listed there decides before
// the domain patterns: the registry's word on who a person is is more
// specific than their address. Listed in both: required.
type Policy struct {
	Required        bool
	RequiredDomains []string
	OptionalDomains []string
	RequiredTypes   []string
	OptionalTypes   []string
}

// ByType reports whether the policy says anything per user type, so that
// callers look the type up only then.
func (p Policy) ByType() bool { return len(p.RequiredTypes) > 0 || len(p.OptionalTypes) > 0 }

// RequiredForType is RequiredFor for a person of user type userType
// ("" for none) with address email.
func (p Policy) RequiredForType(userType, email string) bool {
	if userType != "" {
		for _, t := range p.RequiredTypes {
			if t == userType {
				return true
			}
		}
		for _, t := range p.OptionalTypes {
			if t == userType {
				return false
			}
		}
	}
	return p.RequiredFor(email)
}

// ValidatePattern checks one domain pattern.
func ValidatePattern(p string) error {
	local, domain, ok := strings.Cut(strings.ToLower(p), "@")
	if !ok || local == "" || domain == "" || strings.Contains(domain, "@") {
		return fmt.Errorf("%q is not an address pattern like *@example.fi", p)
	}
	if strings.Contains(local, "*") && local != "*" {
		return fmt.Errorf("%q: '*' stands for the whole part before @", p)
	}
	rest := strings.TrimPrefix(domain, "*.")
	if strings.Contains(rest, "*") || rest == "" {
		return fmt.Errorf("%q: '*' in the domain only as its first label (*@*.example.fi)", p)
	}
	return nil
}

// matchScore is how specifically pattern p matches address email, or -1.
func matchScore(p, email string) int {
	p, email = strings.ToLower(p), strings.ToLower(email)
	pl, pd, ok := strings.Cut(p, "@")
	el, ed, ok2 := strings.Cut(email, "@")
	if !ok || !ok2 {
		return -1
	}
	if pl != "*" && pl != el {
		return -1
	}
	if sub, isSub := strings.CutPrefix(pd, "*."); isSub {
		if !strings.HasSuffix(ed, "."+sub) {
			return -1
		}
	} else if pd != ed {
		return -1
	}
	return len(p) - strings.Count(p, "*")
}

// RequiredFor reports whether the policy requires a second factor for the
// owner of address email.
func (p Policy) RequiredFor(email string) bool {
	best, required := -1, p.Required
	for _, list := range []struct {
		patterns []string
		required bool
	}{{p.RequiredDomains, true}, {p.OptionalDomains, false}} {
		for _, pat := range list.patterns {
			s := matchScore(pat, email)
			if s > best || (s == best && s >= 0 && list.required) {
				best, required = s, list.required
			}
		}
	}
	return required
}
