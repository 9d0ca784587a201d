package password

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Preset names accepted by [NewPolicy].
const (
	PresetNIST    = "nist"    // NIST SP 800-63B rev. 4; the default
	PresetClasses = "classes" // City of Kouvola: 6+ characters, four classes
)

// Violation codes returned by [Policy.Check]. They are stable: the web layer
// uses them as translation keys. See the package documentation for the Args
// of each.
const (
	CodeInvalidChars = "password.invalid_chars" // invalid UTF-8 or a control character
	CodeTooShort     = "password.too_short"     // Args {"Min": int}
	CodeTooLong      = "password.too_long"      // Args {"Max": int}
	CodeNeedsLower   = "password.needs_lower"   // no lower-case letter
	CodeNeedsUpper   = "password.needs_upper"   // no upper-case letter
	CodeNeedsDigit   = "password.needs_digit"   // no decimal digit
	CodeNeedsSpecial = "password.needs_special" // no special character
	CodeCommon       = "password.common"        // in the common-password list
	CodePersonal     = "password.personal"      // contains the e-mail address or a name
)

// Rule codes returned by [Policy.Requirements], also stable translation
// keys.
const (
	RuleMinLength   = "password.rule.min_length"   // Args {"Min": int}
	RuleMaxLength   = "password.rule.max_length"   // Args {"Max": int}
	RuleClasses     = "password.rule.classes"      // Args {"Lower", "Upper", "Digit", "Special": bool}
	RuleNotCommon   = "password.rule.not_common"   // no Args
	RuleNotPersonal = "password.rule.not_personal" // no Args
)

// Violation is a rule a password breaks, or (from Requirements) a rule it
// must follow. Code is a stable translation key; Args, nil when the code
// takes none, fill in its message.
type Violation struct {
	Code string
	Args map[string]any
}

// Policy is a set of password rules. Use [NewPolicy] for a preset; the
// fields may then be changed (say, a longer MinLength), and Check applies
// the fields, not the preset name.
//
// Lengths are in Unicode code points after NFC normalisation.
type Policy struct {
	Preset    string // the preset the policy came from
	MinLength int
	MaxLength int

	// Character classes, each requiring at least one character of it.
	// Lower and upper are unicode.IsLower and unicode.IsUpper, so "ä" and
	// "Ä" count; a digit is unicode.IsDigit (decimal digits of any
	// script). A special character is one that is a punctuation mark
	// (unicode.IsPunct), a symbol (unicode.IsSymbol) or a number that is
	// not a decimal digit (such as "½" or "²"). That covers every
	// character in Kouvola's list ;,._-'*~^\`+?=)][](!£#"!@$½. Letters,
	// digits, spaces and combining marks are not special.
	RequireLower   bool
	RequireUpper   bool
	RequireDigit   bool
	RequireSpecial bool

	// RejectCommon rejects passwords in the embedded list of common
	// passwords, compared case-insensitively.
	RejectCommon bool
	// RejectPersonal rejects passwords that contain, case-insensitively,
	// the e-mail address, its local part, or a name given to Check, or a
	// word of three or more characters in one of those.
	RejectPersonal bool
}

// MaxLength is the longest password either preset accepts, in code points.
// NIST asks for at least 64; 256 code points are at most 1 KiB of UTF-8,
// which bounds the work of checking and hashing.
const MaxLength = 256

// NewPolicy returns the policy of a preset: "nist" (also for "") or
// "classes". Any other name is an error.
func NewPolicy(preset string) (Policy, error) {
	switch preset {
	case PresetNIST, "":
		return Policy{
			Preset:         PresetNIST,
			MinLength:      8,
			MaxLength:      MaxLength,
			RejectCommon:   true,
			RejectPersonal: true,
		}, nil
	case PresetClasses:
		// Exactly Kouvola's rule plus the maximum length: Kouvola says
		// nothing of common passwords or personal information.
		return Policy{
			Preset:         PresetClasses,
			MinLength:      6,
			MaxLength:      MaxLength,
			RequireLower:   true,
			RequireUpper:   true,
			RequireDigit:   true,
			RequireSpecial: true,
		}, nil
	}
	return Policy{}, fmt.Errorf("password: unknown policy preset %q (want %q or %q)", preset, PresetNIST, PresetClasses)
}

// Check returns the rules password breaks, nil if none. personal holds what
// the password must not contain: the e-mail address, the given name, the
// family name; empty strings are ignored. The order of the violations is
// that of the codes in the package documentation.
func (p Policy) Check(password string, personal ...string) []Violation {
	var vs []Violation
	add := func(code string, args map[string]any) {
		vs = append(vs, Violation{Code: code, Args: args})
	}

	valid := utf8.ValidString(password)
	pw := password
	if valid {
		pw = norm.NFC.String(password)
	}

	var n int
	var lower, upper, digit, special, control bool
	for _, r := range pw {
		n++
		switch {
		case unicode.IsControl(r):
			control = true
		case unicode.IsLower(r):
			lower = true
		case unicode.IsUpper(r):
			upper = true
		case unicode.IsDigit(r):
			digit = true
		case isSpecial(r):
			special = true
		}
	}

	if !valid || control {
		add(CodeInvalidChars, nil)
	}
	if n < p.MinLength {
		add(CodeTooShort, map[string]any{"Min": p.MinLength})
	}
	if p.MaxLength > 0 && n > p.MaxLength {
		add(CodeTooLong, map[string]any{"Max": p.MaxLength})
	}
	if p.RequireLower && !lower {
		add(CodeNeedsLower, nil)
	}
	if p.RequireUpper && !upper {
		add(CodeNeedsUpper, nil)
	}
	if p.RequireDigit && !digit {
		add(CodeNeedsDigit, nil)
	}
	if p.RequireSpecial && !special {
		add(CodeNeedsSpecial, nil)
	}

	folded := strings.ToLower(pw)
	if p.RejectCommon && isCommon(folded) {
		add(CodeCommon, nil)
	}
	if p.RejectPersonal && containsPersonal(folded, personal) {
		add(CodePersonal, nil)
	}
	return vs
}

// Requirements lists the rules of p, for showing before the user types.
// The order is that of the rule codes in the package documentation.
func (p Policy) Requirements() []Violation {
	var rs []Violation
	if p.MinLength > 0 {
		rs = append(rs, Violation{Code: RuleMinLength, Args: map[string]any{"Min": p.MinLength}})
	}
	if p.MaxLength > 0 {
		rs = append(rs, Violation{Code: RuleMaxLength, Args: map[string]any{"Max": p.MaxLength}})
	}
	if p.RequireLower || p.RequireUpper || p.RequireDigit || p.RequireSpecial {
		rs = append(rs, Violation{Code: RuleClasses, Args: map[string]any{
			"Lower":   p.RequireLower,
			"Upper":   p.RequireUpper,
			"Digit":   p.RequireDigit,
			"Special": p.RequireSpecial,
		}})
	}
	if p.RejectCommon {
		rs = append(rs, Violation{Code: RuleNotCommon})
	}
	if p.RejectPersonal {
		rs = append(rs, Violation{Code: RuleNotPersonal})
	}
	return rs
}

// isSpecial reports whether r is a special character: punctuation, a
// symbol, or a number that is not a decimal digit.
func isSpecial(r rune) bool {
	return unicode.IsPunct(r) || unicode.IsSymbol(r) || (unicode.IsNumber(r) && !unicode.IsDigit(r))
}

// minPersonal is the shortest personal string or word that is looked for
// in a password: shorter ones ("Al", "Li") would reject too much.
const minPersonal = 3

// containsPersonal reports whether folded (an NFC, lower-cased password)
// contains one of the personal strings or a word of one. For an e-mail
// address that is the address, its local part and the words of the local
// part; for a name, the name and its words. Words are split at spaces and
// at . _ - + and must have at least minPersonal code points.
func containsPersonal(folded string, personal []string) bool {
	check := func(s string) bool {
		return utf8.RuneCountInString(s) >= minPersonal && strings.Contains(folded, s)
	}
	for _, s := range personal {
		s = strings.ToLower(norm.NFC.String(strings.TrimSpace(s)))
		if s == "" {
			continue
		}
		if check(s) {
			return true
		}
		if at := strings.LastIndexByte(s, '@'); at >= 0 {
			s = s[:at]
			if check(s) {
				return true
			}
		}
		words := strings.FieldsFunc(s, func(r rune) bool {
			return unicode.IsSpace(r) || strings.ContainsRune("._-+", r)
		})
		if len(words) > 1 {
			for _, w := range words {
				if check(w) {
					return true
				}
			}
		}
	}
	return false
}
