package scim

import (
	"encoding/json"
	"strings"
	"time"
)

// Schema URNs portti serves.
const (
	UserSchema       = "urn:ietf:params:scim:schemas:core:2.0:User"
	GroupSchema      = "urn:ietf:params:scim:schemas:core:2.0:Group"
	EnterpriseSchema = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	// PorttiSchema is portti's own extension: what a university registry
	// knows that the core schema has no place for.
	PorttiSchema  = "urn:portti:params:scim:schemas:extension:portti:2.0:User"
	ListSchema    = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
	PatchSchema   = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
	SPConfigURN   = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
	ResTypeURN    = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
	SchemaURN     = "urn:ietf:params:scim:schemas:core:2.0:Schema"
	SearchRequest = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
)

// Attribute types (RFC 7643 2.3).
const (
	TString    = "string"
	TBoolean   = "boolean"
	TDecimal   = "decimal"
	TInteger   = "integer"
	TDateTime  = "dateTime"
	TReference = "reference"
	TComplex   = "complex"
	TBinary    = "binary"
)

// Attr describes one attribute (RFC 7643 7), as served at /Schemas.
type Attr struct {
	Name           string   `json:"name"`
	Type           string   `json:"type"`
	MultiValued    bool     `json:"multiValued"`
	Description    string   `json:"description,omitempty"`
	Required       bool     `json:"required"`
	CaseExact      bool     `json:"caseExact"`
	Mutability     string   `json:"mutability"` // readOnly, readWrite, immutable, writeOnly
	Returned       string   `json:"returned"`   // always, never, default, request
	Uniqueness     string   `json:"uniqueness"` // none, server, global
	ReferenceTypes []string `json:"referenceTypes,omitempty"`
	SubAttributes  []*Attr  `json:"subAttributes,omitempty"`
}

// Sub finds a sub-attribute by name, ignoring case.
func (a *Attr) Sub(name string) *Attr { return find(a.SubAttributes, name) }

func find(attrs []*Attr, name string) *Attr {
	for _, a := range attrs {
		if strings.EqualFold(a.Name, name) {
			return a
		}
	}
	return nil
}

// Schema is one schema (RFC 7643 7).
type Schema struct {
	ID          string  `json:"id"`
	Name        string  `json:"name"`
	Description string  `json:"description"`
	Attributes  []*Attr `json:"attributes"`
}

// Attr finds an attribute by name, ignoring case.
func (s *Schema) Attr(name string) *Attr { return find(s.Attributes, name) }

// ResourceType is a core schema with its extensions (RFC 7643 6).
type ResourceType struct {
	Name       string
	Endpoint   string
	Core       *Schema
	Extensions []*Schema
}

// Schema returns the core schema or the extension with the URN, ignoring
// case; nil when there is none.
func (rt *ResourceType) Schema(urn string) *Schema {
	if urn == "" || strings.EqualFold(urn, rt.Core.ID) {
		return rt.Core
	}
	for _, e := range rt.Extensions {
		if strings.EqualFold(urn, e.ID) {
			return e
		}
	}
	return nil
}

func str(name string, opts ...func(*Attr)) *Attr {
	a := &Attr{Name: name, Type: TString, Mutability: "readWrite", Returned: "default", Uniqueness: "none"}
	for _, o := range opts {
		o(a)
	}
	return a
}

func typ(t string) func(*Attr)     { return func(a *Attr) { a.Type = t } }
func multi(a *Attr)                { a.MultiValued = true }
func required(a *Attr)             { a.Required = true }
func caseExact(a *Attr)            { a.CaseExact = true }
func readOnly(a *Attr)             { a.Mutability = "readOnly" }
func writeOnly(a *Attr)            { a.Mutability, a.Returned = "writeOnly", "never" }
func always(a *Attr)               { a.Returned = "always" }
func unique(a *Attr)               { a.Uniqueness = "server" }
func refs(t ...string) func(*Attr) { return func(a *Attr) { a.ReferenceTypes = t } }
func subs(s ...*Attr) func(*Attr) {
	return func(a *Attr) { a.Type, a.SubAttributes = TComplex, s }
}

// multiSubs are the sub-attributes of a multi-valued attribute (RFC 7643 2.4).
func multiSubs(value *Attr) func(*Attr) {
	return subs(value, str("display"), str("type"), str("primary", typ(TBoolean)))
}

// Common attributes of every resource (RFC 7643 3.1).
var (
	idAttr       = str("id", caseExact, readOnly, always, unique)
	externalAttr = str("externalId", caseExact)
	metaAttr     = str("meta", readOnly, subs(
		str("resourceType", caseExact, readOnly),
		str("created", typ(TDateTime), readOnly),
		str("lastModified", typ(TDateTime), readOnly),
		str("location", typ(TReference), caseExact, readOnly, refs("uri")),
		str("version", caseExact, readOnly),
	))
)

// User is the core User schema (RFC 7643 4.1) as portti accepts it.
var User = &Schema{ID: UserSchema, Name: "User", Description: "User Account", Attributes: []*Attr{
	idAttr, externalAttr, metaAttr,
	str("userName", required, unique),
	str("name", subs(str("formatted"), str("familyName"), str("givenName"), str("middleName"),
		str("honorificPrefix"), str("honorificSuffix"))),
	str("displayName"), str("nickName"),
	str("profileUrl", typ(TReference), refs("external")),
	str("title"), str("userType"), str("preferredLanguage"), str("locale"), str("timezone"),
	str("active", typ(TBoolean)),
	str("password", writeOnly),
	str("emails", multi, multiSubs(str("value"))),
	str("phoneNumbers", multi, multiSubs(str("value"))),
	str("ims", multi, multiSubs(str("value"))),
	str("photos", multi, multiSubs(str("value", typ(TReference), refs("external")))),
	str("addresses", multi, subs(str("formatted"), str("streetAddress"), str("locality"), str("region"),
		str("postalCode"), str("country"), str("type"), str("primary", typ(TBoolean)))),
	str("groups", multi, readOnly, subs(str("value", readOnly), str("$ref", typ(TReference), readOnly, refs("Group")),
		str("display", readOnly), str("type", readOnly))),
	str("entitlements", multi, multiSubs(str("value"))),
	str("roles", multi, multiSubs(str("value"))),
	str("x509Certificates", multi, multiSubs(str("value", typ(TBinary)))),
}}

// Enterprise is the enterprise User extension (RFC 7643 4.3).
var Enterprise = &Schema{ID: EnterpriseSchema, Name: "EnterpriseUser", Description: "Enterprise User", Attributes: []*Attr{
	str("employeeNumber"), str("costCenter"), str("organization"), str("division"), str("department"),
	str("manager", subs(str("value"), str("$ref", typ(TReference), refs("User")), str("displayName", readOnly))),
}}

// Portti is portti's User extension: the person's user type (staff,
// student, external, guest or one the organisation defines) and the dates
// between which the registry says the account exists.
var Portti = &Schema{ID: PorttiSchema, Name: "PorttiUser", Description: "What a university registry knows about an account", Attributes: []*Attr{
	str("userType"),
	str("startDate", typ(TDateTime)),
	str("endDate", typ(TDateTime)),
	// The registry identifier (a personal identity code) for strong
	// identification: write-only, kept only as proofing's keyed hash.
	str("registryIdentifier", writeOnly),
}}

// Group is the core Group schema (RFC 7643 4.2).
var Group = &Schema{ID: GroupSchema, Name: "Group", Description: "Group", Attributes: []*Attr{
	idAttr, externalAttr, metaAttr,
	str("displayName", required),
	str("members", multi, subs(str("value", caseExact), str("$ref", typ(TReference), refs("User", "Group")),
		str("display", readOnly), str("type", caseExact))),
}}

// Resource types portti serves.
var (
	Users  = &ResourceType{Name: "User", Endpoint: "/Users", Core: User, Extensions: []*Schema{Enterprise, Portti}}
	Groups = &ResourceType{Name: "Group", Endpoint: "/Groups", Core: Group}
)

// Canonical checks a resource sent by a client against the resource type
// and returns it in canonical form: known attributes only, names spelled
// as in the schema, values of the right type (a boolean sent as the
// string "True" or "False", as Microsoft Entra ID does, becomes a
// boolean), readOnly attributes dropped (RFC 7644 3.3: ignored), null and
// empty values dropped (RFC 7644 3.5.1: unassigned). "schemas" is checked
// to name the core schema and known extensions only.
func (rt *ResourceType) Canonical(in map[string]any) (map[string]any, error) {
	out := map[string]any{}
	for k, v := range in {
		if strings.EqualFold(k, "schemas") {
			list, ok := v.([]any)
			if !ok {
				return nil, BadRequest(InvalidSyntax, `"schemas" is not a list of URNs`)
			}
			for _, s := range list {
				u, _ := s.(string)
				if rt.Schema(u) == nil {
					return nil, BadRequest(InvalidValue, "unknown schema %q", u)
				}
			}
			continue
		}
		if ext := rt.Schema(k); ext != nil && ext != rt.Core {
			obj, ok := v.(map[string]any)
			if !ok {
				if v == nil {
					continue
				}
				return nil, BadRequest(InvalidValue, "%s is not an object", ext.ID)
			}
			m, err := canonicalAttrs(ext, obj, ext.ID+":")
			if err != nil {
				return nil, err
			}
			if len(m) > 0 {
				out[ext.ID] = m
			}
			continue
		}
		// An extension attribute written as one name ("urn:…:User:department").
		if urn, name, ok := splitURN(k); ok {
			ext := rt.Schema(urn)
			if ext == nil {
				return nil, BadRequest(InvalidValue, "unknown attribute %q", k)
			}
			m, err := canonicalAttrs(ext, map[string]any{name: v}, ext.ID+":")
			if err != nil {
				return nil, err
			}
			if ext == rt.Core {
				for n, x := range m {
					out[n] = x
				}
				continue
			}
			dst, _ := out[ext.ID].(map[string]any)
			if dst == nil {
				dst = map[string]any{}
			}
			for n, x := range m {
				dst[n] = x
			}
			if len(dst) > 0 {
				out[ext.ID] = dst
			}
			continue
		}
		m, err := canonicalAttrs(rt.Core, map[string]any{k: v}, "")
		if err != nil {
			return nil, err
		}
		for n, x := range m {
			out[n] = x
		}
	}
	return out, nil
}

// splitURN splits "urn:…:Schema:attr.sub" into the URN and "attr.sub".
func splitURN(s string) (urn, rest string, ok bool) {
	if len(s) < 4 || !strings.EqualFold(s[:4], "urn:") {
		return "", "", false
	}
	// The attribute name is after the last colon; a sub-attribute's dot
	// may only follow it ("…:2.0:User:manager.value").
	i := strings.LastIndexByte(s, ':')
	if i <= 4 || i == len(s)-1 {
		return "", "", false
	}
	return s[:i], s[i+1:], true
}

func canonicalAttrs(s *Schema, in map[string]any, prefix string) (map[string]any, error) {
	out := map[string]any{}
	for k, v := range in {
		a := s.Attr(k)
		if a == nil {
			return nil, BadRequest(InvalidValue, "unknown attribute %q", prefix+k)
		}
		if a.Mutability == "readOnly" {
			continue
		}
		cv, err := canonicalValue(a, v, prefix+a.Name)
		if err != nil {
			return nil, err
		}
		if cv != nil {
			out[a.Name] = cv
		}
	}
	return out, nil
}

// canonicalValue checks v against a. nil means unassigned.
func canonicalValue(a *Attr, v any, path string) (any, error) {
	if v == nil {
		return nil, nil
	}
	if a.MultiValued {
		list, ok := v.([]any)
		if !ok {
			// A single value where a list is expected: accepted as a list
			// of one, as most providers do.
			list = []any{v}
		}
		out := make([]any, 0, len(list))
		for _, x := range list {
			cv, err := singleValue(a, x, path)
			if err != nil {
				return nil, err
			}
			if cv != nil {
				out = append(out, cv)
			}
		}
		if len(out) == 0 {
			return nil, nil
		}
		return out, nil
	}
	return singleValue(a, v, path)
}

func singleValue(a *Attr, v any, path string) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch a.Type {
	case TComplex:
		obj, ok := v.(map[string]any)
		if s, isStr := v.(string); isStr && a.Sub("value") != nil {
			// A bare value for a complex attribute with a "value"
			// sub-attribute: Microsoft Entra ID sends the manager so.
			obj, ok = map[string]any{"value": s}, true
		}
		if !ok {
			return nil, BadRequest(InvalidValue, "%s must be an object", path)
		}
		out := map[string]any{}
		for k, x := range obj {
			sa := a.Sub(k)
			if sa == nil {
				return nil, BadRequest(InvalidValue, "unknown attribute %q", path+"."+k)
			}
			if sa.Mutability == "readOnly" && a.Name != "members" && a.Name != "manager" {
				continue
			}
			cv, err := singleValue(sa, x, path+"."+sa.Name)
			if err != nil {
				return nil, err
			}
			if cv != nil {
				out[sa.Name] = cv
			}
		}
		if len(out) == 0 {
			return nil, nil
		}
		return out, nil
	case TBoolean:
		switch x := v.(type) {
		case bool:
			return x, nil
		case string:
			// Microsoft Entra ID sends "True" and "False".
			switch strings.ToLower(x) {
			case "true":
				return true, nil
			case "false":
				return false, nil
			}
		}
		return nil, BadRequest(InvalidValue, "%s must be true or false", path)
	case TInteger, TDecimal:
		n, ok := v.(json.Number)
		if !ok {
			return nil, BadRequest(InvalidValue, "%s must be a number", path)
		}
		return n, nil
	case TDateTime:
		s, ok := v.(string)
		if !ok {
			return nil, BadRequest(InvalidValue, "%s must be a date and time (RFC 3339)", path)
		}
		if s == "" {
			return nil, nil
		}
		t, err := ParseDateTime(s)
		if err != nil {
			return nil, BadRequest(InvalidValue, "%s must be a date and time like 2027-01-14T00:00:00Z (xsd:dateTime)", path)
		}
		return FormatDateTime(t), nil
	default: // string, reference, binary
		s, ok := v.(string)
		if !ok {
			return nil, BadRequest(InvalidValue, "%s must be a string", path)
		}
		if s == "" {
			return nil, nil
		}
		return s, nil
	}
}

// ParseDateTime reads an xsd:dateTime (RFC 7643 2.3.5). A time without a
// zone is refused: a start date must not move with the server's zone.
func ParseDateTime(s string) (time.Time, error) {
	return time.Parse(time.RFC3339Nano, s)
}

// FormatDateTime writes a time as SCIM returns it: UTC, RFC 3339.
func FormatDateTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
