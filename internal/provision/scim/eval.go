package scim

import (
	"encoding/json"
	"math/big"
	"strings"
)

// resolved is an attribute path resolved against a resource type.
type resolved struct {
	urn  string // the schema the attribute is in ("" for the core)
	attr *Attr
	sub  *Attr // nil when the path names no sub-attribute
}

// resolve finds the attribute path p names in rt; within a value filter
// (parent non-nil), p names a sub-attribute of parent.
func resolve(rt *ResourceType, parent *resolved, p AttrPath) (resolved, error) {
	if parent != nil {
		if p.URN != "" || p.Sub != "" {
			return resolved{}, BadRequest(InvalidFilter, "%q inside [ ] must name a sub-attribute of %s", p.String(), parent.attr.Name)
		}
		sa := parent.attr.Sub(p.Attr)
		if sa == nil {
			return resolved{}, BadRequest(InvalidFilter, "%s has no sub-attribute %q", parent.attr.Name, p.Attr)
		}
		return resolved{urn: parent.urn, attr: parent.attr, sub: sa}, nil
	}
	s := rt.Schema(p.URN)
	if s == nil {
		return resolved{}, BadRequest(InvalidFilter, "unknown schema %q", p.URN)
	}
	a := s.Attr(p.Attr)
	if a == nil {
		return resolved{}, BadRequest(InvalidFilter, "unknown attribute %q", p.String())
	}
	r := resolved{attr: a}
	if s != rt.Core {
		r.urn = s.ID
	}
	if p.Sub != "" {
		if r.sub = a.Sub(p.Sub); r.sub == nil {
			return resolved{}, BadRequest(InvalidFilter, "%s has no sub-attribute %q", a.Name, p.Sub)
		}
	}
	return r, nil
}

// leaf is the attribute whose values a comparison compares: the
// sub-attribute, or "value" of a multi-valued complex attribute.
func (r resolved) leaf() *Attr {
	if r.sub != nil {
		return r.sub
	}
	if r.attr.Type == TComplex {
		return r.attr.Sub("value")
	}
	return r.attr
}

// Filter is a filter checked against a resource type, ready to match.
type Filter struct {
	rt   *ResourceType
	expr Expr
}

// CompileFilter parses a filter and checks every attribute and operator
// in it against rt: an unknown attribute or a comparison the attribute's
// type has no meaning for (gt on a boolean) is an invalidFilter error.
func CompileFilter(rt *ResourceType, s string) (*Filter, error) {
	e, err := ParseFilter(s)
	if err != nil {
		return nil, err
	}
	if err := check(rt, nil, e); err != nil {
		return nil, err
	}
	return &Filter{rt: rt, expr: e}, nil
}

// Expr returns the parsed filter.
func (f *Filter) Expr() Expr { return f.expr }

func check(rt *ResourceType, parent *resolved, e Expr) error {
	switch e := e.(type) {
	case And:
		if err := check(rt, parent, e.L); err != nil {
			return err
		}
		return check(rt, parent, e.R)
	case Or:
		if err := check(rt, parent, e.L); err != nil {
			return err
		}
		return check(rt, parent, e.R)
	case Not:
		return check(rt, parent, e.X)
	case ValuePath:
		r, err := resolve(rt, nil, e.Path)
		if err != nil {
			return err
		}
		if r.attr.Type != TComplex {
			return BadRequest(InvalidFilter, "%s has no sub-attributes to filter on", r.attr.Name)
		}
		return check(rt, &r, e.Filter)
	case Compare:
		r, err := resolve(rt, parent, e.Path)
		if err != nil {
			return err
		}
		leaf := r.leaf()
		if leaf == nil || leaf.Type == TComplex {
			return BadRequest(InvalidFilter, "%s is complex: compare one of its sub-attributes", e.Path.String())
		}
		if e.Op == "pr" || e.Value == nil {
			return nil
		}
		switch leaf.Type {
		case TBoolean:
			if _, ok := e.Value.(bool); !ok || (e.Op != "eq" && e.Op != "ne") {
				return BadRequest(InvalidFilter, "%s is a boolean: only eq or ne true or false", e.Path.String())
			}
		case TInteger, TDecimal:
			if _, ok := e.Value.(json.Number); !ok {
				return BadRequest(InvalidFilter, "%s is a number: compare it with a number", e.Path.String())
			}
		case TDateTime:
			s, ok := e.Value.(string)
			if !ok {
				return BadRequest(InvalidFilter, "%s is a date and time: compare it with one in double quotes", e.Path.String())
			}
			if e.Op != "co" && e.Op != "sw" && e.Op != "ew" {
				if _, err := ParseDateTime(s); err != nil {
					return BadRequest(InvalidFilter, "%q is not a date and time like 2027-01-14T00:00:00Z", s)
				}
			}
		default:
			if _, ok := e.Value.(string); !ok {
				return BadRequest(InvalidFilter, "%s is a string: compare it with a string in double quotes", e.Path.String())
			}
			if leaf.Type == TBinary && e.Op != "eq" && e.Op != "ne" && e.Op != "pr" {
				return BadRequest(InvalidFilter, "%s is binary: only eq, ne or pr", e.Path.String())
			}
		}
		return nil
	}
	return BadRequest(InvalidFilter, "unsupported filter")
}

// Match reports whether a resource in canonical form matches the filter.
func (f *Filter) Match(res map[string]any) bool { return match(f.rt, nil, f.expr, res) }

func match(rt *ResourceType, parent *resolved, e Expr, obj map[string]any) bool {
	switch e := e.(type) {
	case And:
		return match(rt, parent, e.L, obj) && match(rt, parent, e.R, obj)
	case Or:
		return match(rt, parent, e.L, obj) || match(rt, parent, e.R, obj)
	case Not:
		return !match(rt, parent, e.X, obj)
	case ValuePath:
		r, _ := resolve(rt, nil, e.Path)
		for _, el := range elements(container(obj, r.urn)[r.attr.Name]) {
			if m, ok := el.(map[string]any); ok && match(rt, &r, e.Filter, m) {
				return true
			}
		}
		return false
	case Compare:
		r, err := resolve(rt, parent, e.Path)
		if err != nil {
			return false
		}
		vals := values(r, parent != nil, obj)
		switch {
		case e.Op == "pr":
			return len(vals) > 0
		case e.Value == nil && e.Op == "eq":
			return len(vals) == 0
		case e.Value == nil && e.Op == "ne":
			return len(vals) > 0
		case e.Op == "ne":
			for _, v := range vals {
				if compare(r.leaf(), v, "eq", e.Value) {
					return false
				}
			}
			return true
		}
		for _, v := range vals {
			if compare(r.leaf(), v, e.Op, e.Value) {
				return true
			}
		}
		return false
	}
	return false
}

// container returns the object an attribute lives in: the resource, or
// its extension object.
func container(res map[string]any, urn string) map[string]any {
	if urn == "" {
		return res
	}
	m, _ := res[urn].(map[string]any)
	return m
}

func elements(v any) []any {
	if l, ok := v.([]any); ok {
		return l
	}
	if v == nil {
		return nil
	}
	return []any{v}
}

// values collects the simple values a path names in obj (an element of a
// multi-valued attribute when inElement).
func values(r resolved, inElement bool, obj map[string]any) []any {
	if inElement {
		if v, ok := obj[r.sub.Name]; ok && present(v) {
			return []any{v}
		}
		return nil
	}
	var out []any
	for _, el := range elements(container(obj, r.urn)[r.attr.Name]) {
		if r.attr.Type == TComplex {
			m, _ := el.(map[string]any)
			el = m[r.leaf().Name]
		}
		if present(el) {
			out = append(out, el)
		}
	}
	return out
}

func present(v any) bool {
	switch v := v.(type) {
	case nil:
		return false
	case string:
		return v != ""
	case []any:
		return len(v) > 0
	case map[string]any:
		return len(v) > 0
	}
	return true
}

func compare(a *Attr, v any, op string, want any) bool {
	switch a.Type {
	case TBoolean:
		b, ok := v.(bool)
		w, ok2 := want.(bool)
		return ok && ok2 && op == "eq" && b == w
	case TInteger, TDecimal:
		x, ok := toFloat(v)
		y, ok2 := toFloat(want)
		if !ok || !ok2 {
			return false
		}
		return ordered(x.Cmp(y), op)
	case TDateTime:
		s, _ := v.(string)
		w, _ := want.(string)
		if op == "co" || op == "sw" || op == "ew" {
			return stringOp(s, w, op)
		}
		t1, err1 := ParseDateTime(s)
		t2, err2 := ParseDateTime(w)
		if err1 != nil || err2 != nil {
			return false
		}
		return ordered(t1.Compare(t2), op)
	}
	s, ok := v.(string)
	w, ok2 := want.(string)
	if !ok || !ok2 {
		return false
	}
	if !a.CaseExact {
		s, w = strings.ToLower(s), strings.ToLower(w)
	}
	switch op {
	case "gt", "ge", "lt", "le", "eq":
		return ordered(strings.Compare(s, w), op)
	}
	return stringOp(s, w, op)
}

func stringOp(s, w, op string) bool {
	switch op {
	case "co":
		return strings.Contains(s, w)
	case "sw":
		return strings.HasPrefix(s, w)
	case "ew":
		return strings.HasSuffix(s, w)
	case "eq":
		return s == w
	}
	return false
}

func ordered(c int, op string) bool {
	switch op {
	case "eq":
		return c == 0
	case "gt":
		return c > 0
	case "ge":
		return c >= 0
	case "lt":
		return c < 0
	case "le":
		return c <= 0
	}
	return false
}

func toFloat(v any) (*big.Float, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return nil, false
	}
	f, _, err := big.ParseFloat(string(n), 10, 64, big.ToNearestEven)
	return f, err == nil
}

// EqualityOn reports the value the filter requires attr (a core
// attribute) to equal, when the filter is "attr eq value" or an "and"
// with it: the caller can then look the resource up by an index instead
// of scanning.
func (f *Filter) EqualityOn(attr string) (string, bool) { return equality(f.expr, attr) }

func equality(e Expr, attr string) (string, bool) {
	switch e := e.(type) {
	case Compare:
		s, ok := e.Value.(string)
		if ok && e.Op == "eq" && e.Path.Sub == "" && strings.EqualFold(e.Path.Attr, attr) &&
			(e.Path.URN == "" || strings.HasPrefix(strings.ToLower(e.Path.URN), "urn:ietf:params:scim:schemas:core:2.0:")) {
			return s, true
		}
	case And:
		if v, ok := equality(e.L, attr); ok {
			return v, true
		}
		return equality(e.R, attr)
	}
	return "", false
}

// EqualityOnID is EqualityOn("id") on a possibly nil filter.
func (f *Filter) EqualityOnID() (string, bool) {
	if f == nil {
		return "", false
	}
	return f.EqualityOn("id")
}

// Mentions reports whether the filter names the core attribute attr
// anywhere (ignoring case): a caller can then skip reading what only
// such a filter needs.
func (f *Filter) Mentions(attr string) bool {
	if f == nil {
		return false
	}
	var walk func(Expr) bool
	walk = func(e Expr) bool {
		switch e := e.(type) {
		case And:
			return walk(e.L) || walk(e.R)
		case Or:
			return walk(e.L) || walk(e.R)
		case Not:
			return walk(e.X)
		case ValuePath:
			return strings.EqualFold(e.Path.Attr, attr)
		case Compare:
			return strings.EqualFold(e.Path.Attr, attr)
		}
		return false
	}
	return walk(f.expr)
}
