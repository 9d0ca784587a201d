// Package loginhelp helps a person type their username on the sign-in
// page (issue 11, point 6): the username format of each user type of the
// organisation ("students: username@student.example.fi", the seeds' list
// inside the product), and a "did you mean …@student.example.fi?" for a
// typo in one of the organisation's domains (@jamk.f, @student.jamk.fi.,
// @stduent.jamk.fi).
//
// Everything here depends on the typed text and the configuration alone,
// never on whether an account exists, so the help tells a stranger
// nothing about anyone.
package loginhelp

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Format is the username format of one user type in one domain: Text by
// language ("fi", "sv", "en"), e.g. "username@student.example.fi".
type Format struct {
	Type   string
	Domain string
	Text   map[string]string
}

// Helper answers what to show for a typed username.
type Helper struct {
	formats []Format
	domains []string // every known domain, formats' first, lower case
}

// New checks the formats and returns a Helper. extraDomains are other
// domains of the organisation (from the user type patterns) that get a
// "did you mean" without a format.
func New(formats []Format, extraDomains []string) (*Helper, error) {
	h := &Helper{}
	seen := map[string]bool{}
	add := func(d string) {
		if !seen[d] {
			seen[d] = true
			h.domains = append(h.domains, d)
		}
	}
	for i, f := range formats {
		f.Domain = strings.ToLower(strings.TrimSpace(f.Domain))
		if !validDomain(f.Domain) {
			return nil, fmt.Errorf("username format %d: %q is not a domain like student.example.fi", i+1, f.Domain)
		}
		if f.Type == "" {
			return nil, fmt.Errorf("username format %d (%s): no user type", i+1, f.Domain)
		}
		if f.Text["en"] == "" && f.Text["fi"] == "" && f.Text["sv"] == "" {
			return nil, fmt.Errorf("username format %d (%s): no text in any language", i+1, f.Domain)
		}
		h.formats = append(h.formats, f)
		add(f.Domain)
	}
	for _, d := range extraDomains {
		d = strings.ToLower(strings.TrimSpace(d))
		if validDomain(d) {
			add(d)
		}
	}
	return h, nil
}

// DomainsOfPatterns returns the plain domains of address patterns like
// "*@student.example.fi" (patterns with a wildcard in the domain give
// none): the organisation's domains that provision.user_types names.
func DomainsOfPatterns(patterns []string) []string {
	var out []string
	for _, p := range patterns {
		at := strings.LastIndexByte(p, '@')
		if at < 0 {
			continue
		}
		if d := strings.ToLower(p[at+1:]); validDomain(d) {
			out = append(out, d)
		}
	}
	return out
}

func validDomain(d string) bool {
	if d == "" || len(d) > 253 || !strings.Contains(d, ".") || strings.HasPrefix(d, ".") || strings.HasSuffix(d, ".") {
		return false
	}
	for _, r := range d {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r > 127) {
			return false
		}
	}
	return true
}

// Help is what the page shows for a typed username.
type Help struct {
	// Type and Format: the format of the domain typed (or suggested); empty
	// when the domain has none.
	Type   string
	Format string
	// Suggestion is the typed address with a known domain in place of a
	// mistyped one; empty when the domain is known or nothing is close.
	Suggestion string
}

// Empty reports whether there is nothing to show.
func (h Help) Empty() bool { return h.Format == "" && h.Suggestion == "" }

// For returns the help for a typed username in a language.
func (h *Helper) For(typed, lang string) Help {
	if h == nil {
		return Help{}
	}
	typed = strings.TrimSpace(typed)
	at := strings.LastIndexByte(typed, '@')
	if at <= 0 || len(typed) > 320 || !utf8.ValidString(typed) {
		return Help{}
	}
	local, domain := typed[:at], strings.ToLower(typed[at+1:])
	if domain == "" {
		return Help{}
	}
	var out Help
	known := h.known(domain)
	if known == "" {
		if known = h.suggest(domain); known == "" {
			return Help{}
		}
		out.Suggestion = local + "@" + known
	}
	for _, f := range h.formats {
		if f.Domain == known {
			out.Type, out.Format = f.Type, text(f.Text, lang)
			break
		}
	}
	return out
}

// DomainFormat is one domain's format in one language.
type DomainFormat struct{ Domain, Type, Format string }

// Formats returns every domain's format in a language, in configuration
// order (for the sign-in page's script).
func (h *Helper) Formats(lang string) []DomainFormat {
	if h == nil {
		return nil
	}
	out := make([]DomainFormat, 0, len(h.formats))
	for _, f := range h.formats {
		out = append(out, DomainFormat{Domain: f.Domain, Type: f.Type, Format: text(f.Text, lang)})
	}
	return out
}

func text(m map[string]string, lang string) string {
	for _, l := range []string{lang, "en", "fi", "sv"} {
		if t := m[l]; t != "" {
			return t
		}
	}
	return ""
}

func (h *Helper) known(domain string) string {
	for _, d := range h.domains {
		if d == domain {
			return d
		}
	}
	return ""
}

// suggest finds the known domain a mistyped one most likely meant: the
// same without trailing dots or spaces, else the closest by edit distance
// (with transpositions: "stduent"), within 1 edit for a short domain and
// 2 for a longer one, or up to 3 when the typed domain ends in the same
// parent domain (…​.jamk.fi); a tie names nothing, since a guess between
// two of the organisation's domains would mislead.
func (h *Helper) suggest(domain string) string {
	trimmed := strings.TrimRight(domain, ". ")
	if d := h.known(trimmed); d != "" {
		return d
	}
	if len(trimmed) > 100 {
		return ""
	}
	best, bestDist, tie := "", 1<<30, false
	for _, d := range h.domains {
		limit := 1
		if len(d) >= 8 {
			limit = 2
		}
		if parent := parentDomain(d); parent != "" && strings.HasSuffix(trimmed, "."+parent) {
			limit = 3
		}
		dist := distance(trimmed, d)
		if dist > limit {
			continue
		}
		switch {
		case dist < bestDist:
			best, bestDist, tie = d, dist, false
		case dist == bestDist:
			tie = true
		}
	}
	if tie {
		return ""
	}
	return best
}

// parentDomain: "student.jamk.fi" → "jamk.fi"; "jamk.fi" → "".
func parentDomain(d string) string {
	i := strings.IndexByte(d, '.')
	if i < 0 || !strings.Contains(d[i+1:], ".") {
		return ""
	}
	return d[i+1:]
}

// distance is the optimal string alignment distance (Levenshtein with
// adjacent transpositions) between a and b, by bytes: domains here are
// ASCII, and a non-ASCII typo only costs more.
func distance(a, b string) int {
	n, m := len(a), len(b)
	prev2 := make([]int, m+1)
	prev := make([]int, m+1)
	cur := make([]int, m+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= n; i++ {
		cur[0] = i
		for j := 1; j <= m; j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[m]
}
