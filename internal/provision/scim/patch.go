package scim

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
)

// PatchRequest is the body of a PATCH (RFC 7644 3.5.2).
type PatchRequest struct {
	Schemas    []string  `json:"schemas"`
	Operations []PatchOp `json:"Operations"`
}

// PatchOp is one operation. Op is matched ignoring case: Microsoft Entra
// ID sends "Add", "Replace" and "Remove".
type PatchOp struct {
	Op    string          `json:"op"`
	Path  string          `json:"path,omitempty"`
	Value json.RawMessage `json:"value,omitempty"`
}

// MaxPatchOperations bounds one PATCH request.
const MaxPatchOperations = 1000

// Path is a PATCH path: attrPath, or attrPath[valFilter][.subAttr].
type Path struct {
	Attr   AttrPath
	Filter Expr   // nil without [ ]
	Sub    string // after ], if any
}

// ParsePath parses a PATCH path (RFC 7644 3.5.2).
func ParsePath(s string) (Path, error) {
	var p Path
	if len(s) > MaxFilterLength {
		return p, BadRequest(InvalidPath, "the path is too long")
	}
	open := strings.IndexByte(s, '[')
	if open < 0 {
		a, err := ParseAttrPath(strings.TrimSpace(s))
		if err != nil {
			return p, err
		}
		p.Attr = a
		return p, nil
	}
	close := strings.LastIndexByte(s, ']')
	if close < open {
		return p, BadRequest(InvalidPath, "%q has no closing \"]\"", s)
	}
	a, err := ParseAttrPath(s[:open])
	if err != nil {
		return p, err
	}
	if a.Sub != "" {
		return p, BadRequest(InvalidPath, "%q: a value filter must follow an attribute", s)
	}
	f, err := ParseFilter(s[open+1 : close])
	if err != nil {
		e := err.(*Error)
		return p, BadRequest(InvalidPath, "%q: %s", s, e.Detail)
	}
	p.Attr, p.Filter = a, f
	if rest := s[close+1:]; rest != "" {
		if !strings.HasPrefix(rest, ".") || !validName(rest[1:]) {
			return p, BadRequest(InvalidPath, "%q: expected .subAttribute after \"]\"", s)
		}
		p.Sub = rest[1:]
	}
	return p, nil
}

// ApplyPatch applies the operations, in order, to a copy of res (in
// canonical form) and returns the copy. Any failing operation fails the
// whole request (RFC 7644 3.5.2: "atomic"); res is never changed.
func ApplyPatch(rt *ResourceType, res map[string]any, req PatchRequest) (map[string]any, error) {
	if len(req.Schemas) != 1 || req.Schemas[0] != PatchSchema {
		return nil, BadRequest(InvalidSyntax, "schemas must be [%q]", PatchSchema)
	}
	if len(req.Operations) == 0 {
		return nil, BadRequest(InvalidSyntax, "Operations is empty")
	}
	if len(req.Operations) > MaxPatchOperations {
		return nil, BadRequest(TooMany, "more than %d operations", MaxPatchOperations)
	}
	out := deepCopy(res)
	for i, op := range req.Operations {
		if err := applyOp(rt, out, op); err != nil {
			if e, ok := err.(*Error); ok {
				e.Detail = "operation " + itoa(i+1) + ": " + e.Detail
			}
			return nil, err
		}
	}
	return out, nil
}

func deepCopy(m map[string]any) map[string]any {
	b, _ := json.Marshal(m)
	var out map[string]any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	_ = dec.Decode(&out)
	if out == nil {
		out = map[string]any{}
	}
	return out
}

// DecodeJSON decodes a JSON value with numbers as json.Number.
func DecodeJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return BadRequest(InvalidSyntax, "extra data after the JSON value")
	}
	return nil
}

func applyOp(rt *ResourceType, res map[string]any, op PatchOp) error {
	kind := strings.ToLower(op.Op)
	var value any
	hasValue := len(op.Value) > 0 && string(op.Value) != "null"
	if hasValue {
		if err := DecodeJSON(op.Value, &value); err != nil {
			return BadRequest(InvalidSyntax, "the value is not valid JSON")
		}
	}
	switch kind {
	case "add", "replace":
		if !hasValue {
			return BadRequest(InvalidValue, "%s needs a value", kind)
		}
	case "remove":
		if op.Path == "" {
			return BadRequest(NoTarget, "remove needs a path")
		}
	default:
		return BadRequest(InvalidSyntax, "unknown op %q: add, replace or remove", op.Op)
	}
	if op.Path == "" {
		obj, ok := value.(map[string]any)
		if !ok {
			return BadRequest(InvalidValue, "without a path, the value must be an object of attributes")
		}
		c, err := rt.Canonical(obj)
		if err != nil {
			return err
		}
		for name, v := range c {
			if ext := rt.Schema(name); ext != nil && ext != rt.Core {
				dst, _ := res[name].(map[string]any)
				if dst == nil {
					dst = map[string]any{}
				}
				for n, x := range v.(map[string]any) {
					setAttr(ext.Attr(n), dst, x, kind == "add")
				}
				res[name] = dst
				continue
			}
			setAttr(rt.Core.Attr(name), res, v, kind == "add")
		}
		return nil
	}
	p, err := ParsePath(op.Path)
	if err != nil {
		return err
	}
	s := rt.Schema(p.Attr.URN)
	if s == nil {
		return BadRequest(InvalidPath, "unknown schema %q", p.Attr.URN)
	}
	a := s.Attr(p.Attr.Attr)
	if a == nil {
		return BadRequest(InvalidPath, "unknown attribute %q", op.Path)
	}
	if a.Mutability == "readOnly" {
		return BadRequest(Mutability, "%s is read-only", a.Name)
	}
	sub := p.Attr.Sub
	if p.Sub != "" {
		sub = p.Sub
	}
	var sa *Attr
	if sub != "" {
		if sa = a.Sub(sub); sa == nil {
			return BadRequest(InvalidPath, "%s has no sub-attribute %q", a.Name, sub)
		}
	}
	cont := res
	if s != rt.Core {
		cont, _ = res[s.ID].(map[string]any)
		if cont == nil {
			cont = map[string]any{}
			res[s.ID] = cont
		}
		defer func() {
			if len(cont) == 0 {
				delete(res, s.ID)
			}
		}()
	}
	// The value, checked against what the path names.
	var cv any
	if hasValue {
		switch {
		case sa != nil:
			cv, err = singleValue(sa, value, a.Name+"."+sa.Name)
		case p.Filter != nil:
			cv, err = singleValue(a, value, a.Name)
		default:
			cv, err = canonicalValue(a, value, a.Name)
		}
		if err != nil {
			return err
		}
	}
	if p.Filter != nil {
		if !a.MultiValued || a.Type != TComplex {
			return BadRequest(InvalidPath, "%s is not a multi-valued complex attribute", a.Name)
		}
		r := resolved{urn: "", attr: a}
		if err := check(&ResourceType{Core: &Schema{Attributes: []*Attr{a}}}, &r, p.Filter); err != nil {
			return BadRequest(InvalidPath, "%s", err.(*Error).Detail)
		}
		return applyFiltered(kind, cont, a, sa, p.Filter, cv)
	}
	switch kind {
	case "remove":
		if a.MultiValued && a.Type == TComplex && hasValue {
			// Remove only the listed values: Microsoft Entra ID removes
			// group members so, and RFC 7644 3.5.2.2 leaves the value
			// open.
			return removeValues(cont, a, cv)
		}
		if sa != nil {
			for _, el := range elements(cont[a.Name]) {
				if m, ok := el.(map[string]any); ok {
					delete(m, sa.Name)
				}
			}
			cleanup(cont, a)
			return nil
		}
		delete(cont, a.Name)
		return nil
	case "add", "replace":
		if sa != nil {
			if a.MultiValued {
				return BadRequest(InvalidPath, "%s has many values: name one with a filter, as %s[type eq \"work\"].%s", a.Name, a.Name, sa.Name)
			}
			m, _ := cont[a.Name].(map[string]any)
			if m == nil {
				m = map[string]any{}
			}
			if cv == nil {
				delete(m, sa.Name)
			} else {
				m[sa.Name] = cv
			}
			cont[a.Name] = m
			cleanup(cont, a)
			return nil
		}
		if cv == nil {
			if kind == "replace" {
				delete(cont, a.Name)
			}
			return nil
		}
		setAttr(a, cont, cv, kind == "add")
	}
	return nil
}

// setAttr adds (merge) or replaces attribute a in obj with the canonical v.
func setAttr(a *Attr, obj map[string]any, v any, add bool) {
	switch {
	case a.MultiValued:
		if !add {
			obj[a.Name] = v
			return
		}
		list := elements(obj[a.Name])
		for _, x := range elements(v) {
			if !containsValue(list, x) {
				list = append(list, x)
			}
		}
		obj[a.Name] = list
	case a.Type == TComplex:
		// Both add and replace merge sub-attributes (RFC 7644 3.5.2.3).
		m, _ := obj[a.Name].(map[string]any)
		if m == nil {
			m = map[string]any{}
		}
		for k, x := range v.(map[string]any) {
			m[k] = x
		}
		obj[a.Name] = m
	default:
		obj[a.Name] = v
	}
}

func containsValue(list []any, x any) bool {
	for _, y := range list {
		if reflect.DeepEqual(y, x) {
			return true
		}
	}
	return false
}

// removeValues removes the elements whose "value" is one of vals'.
func removeValues(obj map[string]any, a *Attr, vals any) error {
	gone := map[string]bool{}
	for _, v := range elements(vals) {
		m, _ := v.(map[string]any)
		s, ok := m["value"].(string)
		if !ok {
			return BadRequest(InvalidValue, "each value to remove from %s needs its \"value\"", a.Name)
		}
		gone[s] = true
	}
	var keep []any
	for _, el := range elements(obj[a.Name]) {
		m, _ := el.(map[string]any)
		if s, ok := m["value"].(string); ok && gone[s] {
			continue
		}
		keep = append(keep, el)
	}
	obj[a.Name] = keep
	cleanup(obj, a)
	return nil
}

// cleanup drops an attribute left empty: it is then unassigned.
func cleanup(obj map[string]any, a *Attr) {
	if !present(obj[a.Name]) {
		delete(obj, a.Name)
		return
	}
	if l, ok := obj[a.Name].([]any); ok {
		keep := l[:0]
		for _, el := range l {
			if present(el) {
				keep = append(keep, el)
			}
		}
		if len(keep) == 0 {
			delete(obj, a.Name)
		} else {
			obj[a.Name] = keep
		}
	}
}

func applyFiltered(kind string, obj map[string]any, a, sa *Attr, f Expr, cv any) error {
	rt := &ResourceType{Core: &Schema{Attributes: []*Attr{a}}}
	r := resolved{attr: a}
	list := elements(obj[a.Name])
	matched := 0
	var keep []any
	for _, el := range list {
		m, _ := el.(map[string]any)
		if m == nil || !match(rt, &r, f, m) {
			keep = append(keep, el)
			continue
		}
		matched++
		switch {
		case kind == "remove" && sa == nil:
			continue // dropped
		case kind == "remove":
			delete(m, sa.Name)
		case sa != nil:
			if cv == nil {
				delete(m, sa.Name)
			} else {
				m[sa.Name] = cv
			}
		default:
			nv, ok := cv.(map[string]any)
			if !ok {
				return BadRequest(InvalidValue, "the value for %s[…] must be an object", a.Name)
			}
			if kind == "replace" {
				m = map[string]any{}
			}
			for k, x := range nv {
				m[k] = x
			}
		}
		keep = append(keep, m)
	}
	if matched == 0 && kind != "remove" {
		// Microsoft Entra ID adds a work e-mail address as
		// emails[type eq "work"].value: a filter of equalities names
		// the element to create.
		el, ok := elementFromFilter(f)
		if !ok {
			return BadRequest(NoTarget, "no value of %s matches the filter", a.Name)
		}
		if sa != nil {
			if cv != nil {
				el[sa.Name] = cv
			}
		} else if nv, ok := cv.(map[string]any); ok {
			for k, x := range nv {
				el[k] = x
			}
		}
		c, err := singleValue(a, el, a.Name)
		if err != nil {
			return err
		}
		if c != nil {
			keep = append(keep, c)
		}
	}
	obj[a.Name] = keep
	cleanup(obj, a)
	return nil
}

func elementFromFilter(f Expr) (map[string]any, bool) {
	out := map[string]any{}
	var walk func(Expr) bool
	walk = func(e Expr) bool {
		switch e := e.(type) {
		case And:
			return walk(e.L) && walk(e.R)
		case Compare:
			if e.Op != "eq" || e.Value == nil {
				return false
			}
			out[e.Path.Attr] = e.Value
			return true
		}
		return false
	}
	return out, walk(f)
}
