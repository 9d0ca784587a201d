package scim

import (
	"encoding/json"
	"math/big"
	"strings"
	"unicode/utf8"
)

// The filter language of RFC 7644 3.4.2.2:
//
//	FILTER    = attrExp / logExp / valuePath / *1"not" "(" FILTER ")"
//	valuePath = attrPath "[" valFilter "]"
//	attrExp   = (attrPath SP "pr") / (attrPath SP compareOp SP compValue)
//	logExp    = FILTER SP ("and" / "or") SP FILTER
//	compValue = false / null / true / number / string
//	attrPath  = [URI ":"] ATTRNAME *1subAttr
//
// Operators and keywords are case-insensitive; "not" binds tighter than
// "and", which binds tighter than "or". The parser is recursive descent
// with a depth bound, so a hostile filter costs at most its length.

// Limits on a filter: longer or deeper ones are refused as tooMany.
const (
	MaxFilterLength = 4096
	maxFilterDepth  = 32
)

// Expr is a parsed filter.
type Expr interface{ isExpr() }

// And, Or, Not combine filters.
type (
	And struct{ L, R Expr }
	Or  struct{ L, R Expr }
	Not struct{ X Expr }
)

// Compare is "attrPath op value" or "attrPath pr" (Value nil then).
type Compare struct {
	Path  AttrPath
	Op    string // lower case: eq ne co sw ew gt ge lt le pr
	Value any    // string, bool, json.Number or nil (null)
}

// ValuePath is "attrPath[filter]": some value of a multi-valued
// attribute matches Filter, whose paths are sub-attributes.
type ValuePath struct {
	Path   AttrPath
	Filter Expr
}

func (And) isExpr()       {}
func (Or) isExpr()        {}
func (Not) isExpr()       {}
func (Compare) isExpr()   {}
func (ValuePath) isExpr() {}

// AttrPath names an attribute: an optional schema URN, the attribute and
// an optional sub-attribute, as written (resolve them with Resolve).
type AttrPath struct {
	URN  string
	Attr string
	Sub  string
}

func (p AttrPath) String() string {
	s := p.Attr
	if p.Sub != "" {
		s += "." + p.Sub
	}
	if p.URN != "" {
		s = p.URN + ":" + s
	}
	return s
}

var compareOps = map[string]bool{"eq": true, "ne": true, "co": true, "sw": true, "ew": true, "gt": true, "ge": true, "lt": true, "le": true}

// ParseFilter parses a filter. Errors are *Error with scimType invalidFilter
// (or tooMany for an oversized one).
func ParseFilter(s string) (Expr, error) {
	if len(s) > MaxFilterLength {
		return nil, BadRequest(TooMany, "the filter is longer than %d bytes", MaxFilterLength)
	}
	if !utf8.ValidString(s) {
		return nil, BadRequest(InvalidFilter, "the filter is not valid UTF-8")
	}
	p := &filterParser{lex: lexer{s: s}}
	if err := p.next(); err != nil {
		return nil, err
	}
	e, err := p.or(0, false)
	if err != nil {
		return nil, err
	}
	if p.tok.kind != tEOF {
		return nil, p.fail("unexpected %s", p.tok)
	}
	return e, nil
}

type tokKind int

const (
	tEOF tokKind = iota
	tWord
	tString
	tLParen
	tRParen
	tLBracket
	tRBracket
)

type token struct {
	kind tokKind
	text string // a word as written; a string decoded
	pos  int
}

func (t token) String() string {
	switch t.kind {
	case tEOF:
		return "end of filter"
	case tString:
		return "string"
	case tWord:
		return "\"" + t.text + "\""
	default:
		return "\"" + t.text + "\""
	}
}

type lexer struct {
	s   string
	pos int
}

func (l *lexer) next() (token, error) {
	for l.pos < len(l.s) && (l.s[l.pos] == ' ' || l.s[l.pos] == '\t' || l.s[l.pos] == '\n' || l.s[l.pos] == '\r') {
		l.pos++
	}
	if l.pos >= len(l.s) {
		return token{kind: tEOF, pos: l.pos}, nil
	}
	start := l.pos
	switch c := l.s[l.pos]; c {
	case '(':
		l.pos++
		return token{tLParen, "(", start}, nil
	case ')':
		l.pos++
		return token{tRParen, ")", start}, nil
	case '[':
		l.pos++
		return token{tLBracket, "[", start}, nil
	case ']':
		l.pos++
		return token{tRBracket, "]", start}, nil
	case '"':
		// A JSON string (RFC 7644 3.4.2.2: compValue is JSON).
		i := l.pos + 1
		for i < len(l.s) {
			switch l.s[i] {
			case '\\':
				i += 2
				continue
			case '"':
				var v string
				if err := json.Unmarshal([]byte(l.s[l.pos:i+1]), &v); err != nil {
					return token{}, BadRequest(InvalidFilter, "the string at position %d is not a valid JSON string", start+1)
				}
				l.pos = i + 1
				return token{tString, v, start}, nil
			}
			i++
		}
		return token{}, BadRequest(InvalidFilter, "the string at position %d has no closing quote", start+1)
	default:
		i := l.pos
		for i < len(l.s) && !strings.ContainsRune(" \t\r\n()[]\"", rune(l.s[i])) {
			i++
		}
		l.pos = i
		return token{tWord, l.s[start:i], start}, nil
	}
}

type filterParser struct {
	lex lexer
	tok token
}

func (p *filterParser) next() error {
	t, err := p.lex.next()
	if err != nil {
		return err
	}
	p.tok = t
	return nil
}

func (p *filterParser) fail(format string, args ...any) error {
	e := BadRequest(InvalidFilter, format, args...)
	e.Detail += " at position " + itoa(p.tok.pos+1)
	return e
}

func itoa(n int) string { return big.NewInt(int64(n)).String() }

func (p *filterParser) keyword(k string) bool {
	return p.tok.kind == tWord && strings.EqualFold(p.tok.text, k)
}

// or parses a disjunction; inValue: inside [ ] (sub-attributes only).
func (p *filterParser) or(depth int, inValue bool) (Expr, error) {
	if depth > maxFilterDepth {
		return nil, BadRequest(TooMany, "the filter nests deeper than %d levels", maxFilterDepth)
	}
	l, err := p.and(depth, inValue)
	if err != nil {
		return nil, err
	}
	for p.keyword("or") {
		if err := p.next(); err != nil {
			return nil, err
		}
		r, err := p.and(depth, inValue)
		if err != nil {
			return nil, err
		}
		l = Or{l, r}
	}
	return l, nil
}

func (p *filterParser) and(depth int, inValue bool) (Expr, error) {
	l, err := p.unary(depth, inValue)
	if err != nil {
		return nil, err
	}
	for p.keyword("and") {
		if err := p.next(); err != nil {
			return nil, err
		}
		r, err := p.unary(depth, inValue)
		if err != nil {
			return nil, err
		}
		l = And{l, r}
	}
	return l, nil
}

func (p *filterParser) unary(depth int, inValue bool) (Expr, error) {
	if depth > maxFilterDepth {
		return nil, BadRequest(TooMany, "the filter nests deeper than %d levels", maxFilterDepth)
	}
	switch {
	case p.tok.kind == tLParen:
		if err := p.next(); err != nil {
			return nil, err
		}
		e, err := p.or(depth+1, inValue)
		if err != nil {
			return nil, err
		}
		if p.tok.kind != tRParen {
			return nil, p.fail("expected \")\", found %s", p.tok)
		}
		return e, p.next()
	case p.keyword("not"):
		if err := p.next(); err != nil {
			return nil, err
		}
		if p.tok.kind != tLParen {
			return nil, p.fail("expected \"(\" after not, found %s", p.tok)
		}
		e, err := p.unary(depth+1, inValue)
		if err != nil {
			return nil, err
		}
		return Not{e}, nil
	case p.tok.kind == tWord:
		return p.attrExp(depth, inValue)
	}
	return nil, p.fail("expected an attribute, \"(\" or not, found %s", p.tok)
}

func (p *filterParser) attrExp(depth int, inValue bool) (Expr, error) {
	path, err := ParseAttrPath(p.tok.text)
	if err != nil {
		return nil, p.fail("%s", err.(*Error).Detail)
	}
	if err := p.next(); err != nil {
		return nil, err
	}
	if p.tok.kind == tLBracket {
		if inValue {
			return nil, p.fail("a value filter cannot contain another")
		}
		if path.Sub != "" {
			return nil, p.fail("a value filter must follow an attribute, not a sub-attribute")
		}
		if err := p.next(); err != nil {
			return nil, err
		}
		f, err := p.or(depth+1, true)
		if err != nil {
			return nil, err
		}
		if p.tok.kind != tRBracket {
			return nil, p.fail("expected \"]\", found %s", p.tok)
		}
		return ValuePath{path, f}, p.next()
	}
	if p.tok.kind != tWord {
		return nil, p.fail("expected an operator after %q, found %s", path.String(), p.tok)
	}
	op := strings.ToLower(p.tok.text)
	if op == "pr" {
		return Compare{Path: path, Op: op}, p.next()
	}
	if !compareOps[op] {
		return nil, p.fail("unknown operator %q", p.tok.text)
	}
	if err := p.next(); err != nil {
		return nil, err
	}
	var v any
	switch {
	case p.tok.kind == tString:
		v = p.tok.text
	case p.keyword("true"):
		v = true
	case p.keyword("false"):
		v = false
	case p.keyword("null"):
		v = nil
	case p.tok.kind == tWord && isJSONNumber(p.tok.text):
		v = json.Number(p.tok.text)
	default:
		return nil, p.fail("expected a value (a string in double quotes, a number, true, false or null), found %s", p.tok)
	}
	return Compare{Path: path, Op: op, Value: v}, p.next()
}

func isJSONNumber(s string) bool {
	var n json.Number
	return json.Unmarshal([]byte(s), &n) == nil && s != "" && (s[0] == '-' || (s[0] >= '0' && s[0] <= '9'))
}

// ParseAttrPath parses "[URN:]attr[.sub]".
func ParseAttrPath(s string) (AttrPath, error) {
	var p AttrPath
	rest := s
	if urn, r, ok := splitURN(s); ok {
		p.URN, rest = urn, r
	} else if strings.Contains(s, ":") {
		return p, BadRequest(InvalidPath, "%q is not an attribute path", s)
	}
	attr, sub, hasSub := strings.Cut(rest, ".")
	if !validName(attr) || (hasSub && !validName(sub)) {
		return p, BadRequest(InvalidPath, "%q is not an attribute path", s)
	}
	p.Attr, p.Sub = attr, sub
	return p, nil
}

// validName: ATTRNAME = ALPHA *(nameChar), plus "$ref" (RFC 7643 2.1).
func validName(s string) bool {
	if s == "$ref" {
		return true
	}
	if s == "" || !isAlpha(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !isAlpha(c) && !(c >= '0' && c <= '9') && c != '-' && c != '_' {
			return false
		}
	}
	return true
}

func isAlpha(c byte) bool { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') }
