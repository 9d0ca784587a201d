package scim

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

func sampleUser(t testing.TB) map[string]any {
	t.Helper()
	var res map[string]any
	if err := DecodeJSON([]byte(`{"userName":"a@example.fi","name":{"givenName":"A","familyName":"B"},
		"emails":[{"type":"work","value":"a@example.org","primary":true},{"type":"home","value":"a@home.example"}],
		"`+EnterpriseSchema+`":{"department":"Physics"}}`), &res); err != nil {
		t.Fatal(err)
	}
	c, err := Users.Canonical(res)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func patchOf(ops string) PatchRequest {
	var r PatchRequest
	_ = json.Unmarshal([]byte(`{"schemas":["`+PatchSchema+`"],"Operations":`+ops+`}`), &r)
	return r
}

// TestApplyPatch: RFC 7644 3.5.2's cases, and Microsoft Entra ID's.
func TestApplyPatch(t *testing.T) {
	for _, tc := range []struct {
		name, ops string
		check     func(t *testing.T, got map[string]any)
		scimType  string
	}{
		{"replace a sub-attribute of filtered values", `[{"op":"replace","path":"emails[type eq \"work\"].value","value":"new@example.org"}]`,
			func(t *testing.T, got map[string]any) {
				if v := got["emails"].([]any)[0].(map[string]any)["value"]; v != "new@example.org" {
					t.Errorf("work email %v", v)
				}
				if v := got["emails"].([]any)[1].(map[string]any)["value"]; v != "a@home.example" {
					t.Errorf("home email changed: %v", v)
				}
			}, ""},
		{"add where no value matches creates it (Entra)", `[{"op":"Add","path":"phoneNumbers[type eq \"mobile\"].value","value":"+358 50 1"}]`,
			func(t *testing.T, got map[string]any) {
				want := []any{map[string]any{"type": "mobile", "value": "+358 50 1"}}
				if !reflect.DeepEqual(got["phoneNumbers"], want) {
					t.Errorf("phoneNumbers %v", got["phoneNumbers"])
				}
			}, ""},
		{"remove filtered values", `[{"op":"remove","path":"emails[type eq \"home\"]"}]`,
			func(t *testing.T, got map[string]any) {
				if n := len(got["emails"].([]any)); n != 1 {
					t.Errorf("%d emails left", n)
				}
			}, ""},
		{"remove the last value leaves the attribute unassigned", `[{"op":"remove","path":"emails[type eq \"home\"]"},{"op":"remove","path":"emails[type eq \"work\"]"}]`,
			func(t *testing.T, got map[string]any) {
				if _, ok := got["emails"]; ok {
					t.Errorf("emails %v", got["emails"])
				}
			}, ""},
		{"add to a multi-valued attribute appends", `[{"op":"add","path":"emails","value":[{"type":"other","value":"x@example.org"}]}]`,
			func(t *testing.T, got map[string]any) {
				if n := len(got["emails"].([]any)); n != 3 {
					t.Errorf("%d emails", n)
				}
			}, ""},
		{"replace a multi-valued attribute replaces all", `[{"op":"replace","path":"emails","value":[{"type":"other","value":"x@example.org"}]}]`,
			func(t *testing.T, got map[string]any) {
				if n := len(got["emails"].([]any)); n != 1 {
					t.Errorf("%d emails", n)
				}
			}, ""},
		{"replace without a path merges a complex attribute", `[{"op":"replace","value":{"name":{"givenName":"C"},"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:division":"Sciences"}}]`,
			func(t *testing.T, got map[string]any) {
				name := got["name"].(map[string]any)
				ent := got[EnterpriseSchema].(map[string]any)
				if name["givenName"] != "C" || name["familyName"] != "B" || ent["division"] != "Sciences" || ent["department"] != "Physics" {
					t.Errorf("name %v, enterprise %v", name, ent)
				}
			}, ""},
		{"remove an extension attribute", `[{"op":"remove","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"}]`,
			func(t *testing.T, got map[string]any) {
				if _, ok := got[EnterpriseSchema]; ok {
					t.Errorf("enterprise %v", got[EnterpriseSchema])
				}
			}, ""},
		{"case of names and op", `[{"op":"REPLACE","path":"NAME.GIVENNAME","value":"D"}]`,
			func(t *testing.T, got map[string]any) {
				if got["name"].(map[string]any)["givenName"] != "D" {
					t.Errorf("name %v", got["name"])
				}
			}, ""},
		{"a sub-attribute of a multi-valued attribute needs a filter", `[{"op":"replace","path":"emails.value","value":"x"}]`, nil, InvalidPath},
		{"a filter on a simple attribute", `[{"op":"replace","path":"userName[value eq \"x\"]","value":"x"}]`, nil, InvalidPath},
		{"a value of the wrong type", `[{"op":"replace","path":"name","value":"x"}]`, nil, InvalidValue},
		{"an empty operation list", `[]`, nil, InvalidSyntax},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := sampleUser(t)
			before := deepCopy(res)
			got, err := ApplyPatch(Users, res, patchOf(tc.ops))
			if !reflect.DeepEqual(res, before) {
				t.Fatal("ApplyPatch changed its input")
			}
			if tc.scimType != "" {
				var e *Error
				if !errors.As(err, &e) || e.ScimType != tc.scimType {
					t.Fatalf("error %v, want %s", err, tc.scimType)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, got)
		})
	}
}

// FuzzApplyPatch: any operations either fail with a SCIM 400 or give a
// resource that is canonical again (what ApplyPatch returns is what a
// client could have sent), and never change their input.
func FuzzApplyPatch(f *testing.F) {
	for _, s := range []string{
		`[{"op":"replace","path":"emails[type eq \"work\"].value","value":"n@example.org"}]`,
		`[{"op":"Remove","path":"emails","value":[{"value":"a@home.example"}]}]`,
		`[{"op":"add","value":{"active":"False","title":"x"}}]`,
		`[{"op":"add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":"m"}]`,
		`[{"op":"remove","path":"name.givenName"}]`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ops string) {
		var req PatchRequest
		if json.Unmarshal([]byte(`{"schemas":["`+PatchSchema+`"],"Operations":`+ops+`}`), &req) != nil {
			return
		}
		res := sampleUser(t)
		before := deepCopy(res)
		got, err := ApplyPatch(Users, res, req)
		if !reflect.DeepEqual(res, before) {
			t.Fatal("ApplyPatch changed its input")
		}
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Status != 400 {
				t.Fatalf("%s: error %v is not a SCIM 400", ops, err)
			}
			return
		}
		if _, err := Users.Canonical(got); err != nil {
			t.Fatalf("%s: result is not canonical: %v\n%v", ops, err, got)
		}
	})
}
