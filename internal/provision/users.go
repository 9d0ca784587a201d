package provision

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/portti/portti/internal/account"
	"github.com/portti/portti/internal/provision/scim"
	"github.com/portti/portti/internal/storage"
)

// etag is a resource version as an entity tag (RFC 7644 3.14).
func etag(version int64) string { return `W/"` + strconv.FormatInt(version, 10) + `"` }

// userResource is a provisioned account as a SCIM User in canonical form:
// what the registry last sent (Extra), with what portti keeps in columns
// laid over it, so that a change made in portti (the person's name) shows.
func (s *Server) userResource(pa storage.ProvisionedAccount, groups []storage.Group) map[string]any {
	a, p := pa.Account, pa.Provisioned
	res := map[string]any{}
	if len(p.Extra) > 0 {
		_ = scim.DecodeJSON(p.Extra, &res)
	}
	set := func(m map[string]any, k, v string) {
		if v == "" {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	res["id"] = a.ID
	set(res, "externalId", p.ExternalID)
	res["userName"] = a.Email
	name, _ := res["name"].(map[string]any)
	if name == nil {
		name = map[string]any{}
	}
	set(name, "givenName", a.GivenName)
	set(name, "familyName", a.FamilyName)
	if len(name) > 0 {
		res["name"] = name
	} else {
		delete(res, "name")
	}
	set(res, "displayName", p.DisplayName)
	set(res, "nickName", p.NickName)
	set(res, "title", p.Title)
	res["active"] = p.State != storage.ProvisionDisabled && p.State != storage.ProvisionDeleted
	delete(res, "password")

	ent, _ := res[scim.EnterpriseSchema].(map[string]any)
	if ent == nil {
		ent = map[string]any{}
	}
	set(ent, "employeeNumber", p.EmployeeNumber)
	set(ent, "organization", p.Organization)
	set(ent, "department", p.Department)
	if p.Manager != "" {
		ent["manager"] = map[string]any{"value": p.Manager, "$ref": s.location("Users", p.Manager)}
	} else {
		delete(ent, "manager")
	}
	schemas := []any{scim.UserSchema}
	if len(ent) > 0 {
		res[scim.EnterpriseSchema] = ent
		schemas = append(schemas, scim.EnterpriseSchema)
	} else {
		delete(res, scim.EnterpriseSchema)
	}
	ext := map[string]any{}
	set(ext, "userType", p.UserType)
	if !p.StartsAt.IsZero() {
		ext["startDate"] = scim.FormatDateTime(p.StartsAt)
	}
	if !p.EndsAt.IsZero() {
		ext["endDate"] = scim.FormatDateTime(p.EndsAt)
	}
	if len(ext) > 0 {
		res[scim.PorttiSchema] = ext
		schemas = append(schemas, scim.PorttiSchema)
	} else {
		delete(res, scim.PorttiSchema)
	}
	res["schemas"] = schemas
	if len(groups) > 0 {
		gl := make([]any, len(groups))
		for i, g := range groups {
			gl[i] = map[string]any{"value": g.ID, "$ref": s.location("Groups", g.ID), "display": g.DisplayName, "type": "direct"}
		}
		res["groups"] = gl
	} else {
		delete(res, "groups")
	}
	res["meta"] = map[string]any{
		"resourceType": "User",
		"created":      scim.FormatDateTime(p.CreatedAt),
		"lastModified": scim.FormatDateTime(p.UpdatedAt),
		"location":     s.location("Users", a.ID),
		"version":      etag(p.Version),
	}
	return res
}

func (s *Server) location(endpoint, id string) string {
	return s.cfg.BaseURL + "/scim/v2/" + endpoint + "/" + id
}

// userFields is what a User resource says, checked.
type userFields struct {
	email                 string
	givenName, familyName string
	locale                string
	active                bool
	// identifier is the registry identifier, write-only: hashed by
	// bindIdentifier, never kept or returned as sent. "" when not sent.
	identifier string
	p          storage.Provisioned // without AccountID, State, Version, times
	extra      []byte
}

// userFromResource checks a User resource in canonical form (from POST,
// PUT or a PATCH's result).
func (s *Server) userFromResource(res map[string]any) (userFields, error) {
	var f userFields
	str := func(m map[string]any, k string) string { v, _ := m[k].(string); return v }
	userName := str(res, "userName")
	if strings.TrimSpace(userName) == "" {
		return f, scim.BadRequest(scim.InvalidValue, "userName is required")
	}
	email, err := account.NormalizeEmail(userName)
	if err != nil {
		return f, scim.BadRequest(scim.InvalidValue, "userName must be the person's login e-mail address")
	}
	if _, ok := res["password"]; ok {
		return f, scim.BadRequest(scim.InvalidValue, "portti takes no password from a registry: the person sets one when activating the account")
	}
	f.email = email
	name, _ := res["name"].(map[string]any)
	f.givenName, f.familyName = str(name, "givenName"), str(name, "familyName")
	for _, v := range []string{f.givenName, f.familyName} {
		if len(v) > 200 {
			return f, scim.BadRequest(scim.InvalidValue, "a name is longer than 200 characters")
		}
	}
	if lang := strings.ToLower(str(res, "preferredLanguage")); lang != "" {
		for _, l := range []string{"fi", "sv", "en"} {
			if strings.HasPrefix(lang, l) {
				f.locale = l
				break
			}
		}
	}
	f.active = true
	if v, ok := res["active"].(bool); ok {
		f.active = v
	}
	f.p.ExternalID = str(res, "externalId")
	f.p.DisplayName, f.p.NickName, f.p.Title = str(res, "displayName"), str(res, "nickName"), str(res, "title")
	ent, _ := res[scim.EnterpriseSchema].(map[string]any)
	f.p.EmployeeNumber, f.p.Organization, f.p.Department = str(ent, "employeeNumber"), str(ent, "organization"), str(ent, "department")
	if m, ok := ent["manager"].(map[string]any); ok {
		f.p.Manager = str(m, "value")
	}
	ext, _ := res[scim.PorttiSchema].(map[string]any)
	f.p.UserType = str(ext, "userType")
	if f.p.UserType != "" && !ValidUserType(f.p.UserType) {
		return f, scim.BadRequest(scim.InvalidValue, "%s:userType %q is not a user type name (a-z, 0-9, - and _, starting with a letter)", scim.PorttiSchema, f.p.UserType)
	}
	if f.p.UserType == "" {
		f.p.UserType = s.cfg.UserTypes.For(email)
	}
	if id, _ := ext["registryIdentifier"].(string); id != "" {
		if len(id) > 256 {
			return f, scim.BadRequest(scim.InvalidValue, "%s:registryIdentifier is longer than 256 characters", scim.PorttiSchema)
		}
		f.identifier = id
	}
	if v := str(ext, "startDate"); v != "" {
		f.p.StartsAt, _ = scim.ParseDateTime(v) // checked by Canonical
	}
	if v := str(ext, "endDate"); v != "" {
		f.p.EndsAt, _ = scim.ParseDateTime(v)
	}
	if !f.p.StartsAt.IsZero() && !f.p.EndsAt.IsZero() && !f.p.EndsAt.After(f.p.StartsAt) {
		return f, scim.BadRequest(scim.InvalidValue, "%s:endDate must be after startDate", scim.PorttiSchema)
	}
	// What is kept only to be returned: the resource without what
	// portti derives or never keeps.
	keep := make(map[string]any, len(res))
	for k, v := range res {
		switch k {
		case "id", "meta", "schemas", "groups", "password":
			continue
		}
		keep[k] = v
	}
	if _, ok := ext["registryIdentifier"]; ok {
		// Write-only: the identifier itself is never kept.
		e := make(map[string]any, len(ext))
		for k, v := range ext {
			if k != "registryIdentifier" {
				e[k] = v
			}
		}
		keep[scim.PorttiSchema] = e
	}
	f.extra, err = json.Marshal(keep)
	if err != nil {
		return f, err
	}
	if len(f.extra) > maxExtra {
		return f, scim.Errorf(413, "", "the user resource is larger than %d bytes", maxExtra)
	}
	return f, nil
}

// maxExtra bounds what one account keeps of a registry's attributes.
const maxExtra = 64 << 10
