package scim

import (
	"errors"
	"testing"
)

// TestParseFilterRFC: the examples of RFC 7644 3.4.2.2 parse, and
// malformed filters fail with invalidFilter (or tooMany).
func TestParseFilterRFC(t *testing.T) {
	for _, f := range []string{
		`userName eq "bjensen"`,
		`name.familyName co "O'Malley"`,
		`userName sw "J"`,
		`urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J"`,
		`title pr`,
		`meta.lastModified gt "2011-05-13T04:42:34Z"`,
		`meta.lastModified ge "2011-05-13T04:42:34Z"`,
		`meta.lastModified lt "2011-05-13T04:42:34Z"`,
		`meta.lastModified le "2011-05-13T04:42:34Z"`,
		`title pr and userType eq "Employee"`,
		`title pr or userType eq "Intern"`,
		`schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"`,
		`userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")`,
		`userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")`,
		`userType eq "Employee" and (emails.type eq "work")`,
		`userType eq "Employee" and emails[type eq "work" and value co "@example.com"]`,
		`emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]`,
		`userName eq "a\"b\u00e4"`,
		`active eq true`, `active eq FALSE`, `x eq null`, `x gt -1.5e3`,
	} {
		if _, err := ParseFilter(f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	for f, want := range map[string]string{
		``:                              InvalidFilter,
		`userName`:                      InvalidFilter,
		`userName eq`:                   InvalidFilter,
		`userName eq bjensen`:           InvalidFilter,
		`userName xx "a"`:               InvalidFilter,
		`userName eq "a`:                InvalidFilter,
		`userName eq "\x"`:              InvalidFilter,
		`(userName eq "a"`:              InvalidFilter,
		`userName eq "a")`:              InvalidFilter,
		`userName eq "a" and`:           InvalidFilter,
		`not userName eq "a"`:           InvalidFilter,
		`emails[type eq "work"`:         InvalidFilter,
		`emails[type[value eq "x"] pr]`: InvalidFilter,
		`emails.value[type eq "w"]`:     InvalidFilter,
		`1userName eq "a"`:              InvalidFilter,
		`user:Name eq "a"`:              InvalidFilter,
		"userName eq \"\xff\"":          InvalidFilter,
		repeat("(", 40) + `a pr` + repeat(")", 40): TooMany,
		repeat("a", MaxFilterLength+1):             TooMany,
	} {
		_, err := ParseFilter(f)
		var e *Error
		if !errors.As(err, &e) || e.ScimType != want || e.Status != 400 {
			t.Errorf("%q: %v, want %s", f, err, want)
		}
	}
}

func repeat(s string, n int) string {
	out := ""
	for range n {
		out += s
	}
	return out
}

// TestPrecedence: not > and > or.
func TestPrecedence(t *testing.T) {
	e, err := ParseFilter(`a pr or b pr and not (c pr)`)
	if err != nil {
		t.Fatal(err)
	}
	or, ok := e.(Or)
	if !ok {
		t.Fatalf("top is %T", e)
	}
	if and, ok := or.R.(And); !ok {
		t.Fatalf("right of or is %T", or.R)
	} else if _, ok := and.R.(Not); !ok {
		t.Fatalf("right of and is %T", and.R)
	}
}

// FuzzParseFilter: any input parses or fails with a *Error, never
// panics; what parses also compiles or fails cleanly against Users and
// then matches a resource without panicking.
func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{
		`userName eq "bjensen"`, `emails[type eq "work" and value co "@x"]`, `not (a pr)`,
		`meta.lastModified gt "2011-05-13T04:42:34Z"`, `x gt 1e9999`, `a eq "\ud800"`, `((((a pr))))`,
		`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "x"`,
	} {
		f.Add(s)
	}
	res := map[string]any{"userName": "a@example.fi", "active": true,
		"emails":         []any{map[string]any{"type": "work", "value": "a@example.org"}},
		"meta":           map[string]any{"lastModified": "2026-01-01T00:00:00Z"},
		EnterpriseSchema: map[string]any{"manager": map[string]any{"value": "m"}}}
	f.Fuzz(func(t *testing.T, s string) {
		_, err := ParseFilter(s)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Status != 400 {
				t.Fatalf("%q: error %v is not a SCIM 400", s, err)
			}
			return
		}
		for _, rt := range []*ResourceType{Users, Groups} {
			c, err := CompileFilter(rt, s)
			if err != nil {
				var e *Error
				if !errors.As(err, &e) || e.Status != 400 {
					t.Fatalf("%q: compile error %v is not a SCIM 400", s, err)
				}
				continue
			}
			c.Match(res)
		}
	})
}

// FuzzParsePath: PATCH paths parse or fail cleanly.
func FuzzParsePath(f *testing.F) {
	for _, s := range []string{`emails[type eq "work"].value`, `members[value eq "x"]`, `name.givenName`,
		`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if _, err := ParsePath(s); err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Status != 400 {
				t.Fatalf("%q: error %v is not a SCIM 400", s, err)
			}
		}
	})
}
