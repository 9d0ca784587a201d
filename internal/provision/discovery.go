package provision

import (
	"net/http"
	"strings"

	"github.com/portti/portti/internal/provision/scim"
)

// serviceProviderConfig says what portti supports (RFC 7643 5).
func (s *Server) serviceProviderConfig(w http.ResponseWriter, r *http.Request) {
	s.write(w, http.StatusOK, map[string]any{
		"schemas":          []string{scim.SPConfigURN},
		"documentationUri": "https://github.com/portti/portti#provisioning",
		"patch":            map[string]any{"supported": true},
		"bulk":             map[string]any{"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
		"filter":           map[string]any{"supported": true, "maxResults": maxCount},
		"changePassword":   map[string]any{"supported": false},
		"sort":             map[string]any{"supported": false},
		"etag":             map[string]any{"supported": true},
		"authenticationSchemes": []any{map[string]any{
			"type": "oauthbearertoken", "name": "OAuth Bearer Token", "primary": true,
			"description": "An access token from portti's token endpoint (client_credentials) with the scim scope",
			"specUri":     "https://www.rfc-editor.org/rfc/rfc6750",
		}},
		"meta": map[string]any{"resourceType": "ServiceProviderConfig", "location": s.cfg.BaseURL + "/scim/v2/ServiceProviderConfig"},
	})
}

func (s *Server) resourceTypeJSON(rt *scim.ResourceType) map[string]any {
	ext := []any{}
	for _, e := range rt.Extensions {
		ext = append(ext, map[string]any{"schema": e.ID, "required": false})
	}
	out := map[string]any{
		"schemas":  []string{scim.ResTypeURN},
		"id":       rt.Name,
		"name":     rt.Name,
		"endpoint": rt.Endpoint,
		"schema":   rt.Core.ID,
		"meta":     map[string]any{"resourceType": "ResourceType", "location": s.cfg.BaseURL + "/scim/v2/ResourceTypes/" + rt.Name},
	}
	if len(ext) > 0 {
		out["schemaExtensions"] = ext
	}
	return out
}

func (s *Server) resourceTypes(w http.ResponseWriter, r *http.Request) {
	oneOrAll(s, w, r, r.PathValue("name"), []*scim.ResourceType{scim.Users, scim.Groups},
		func(rt *scim.ResourceType) string { return rt.Name }, s.resourceTypeJSON, "resource type")
}

// oneOrAll answers a discovery endpoint: the item named key (matched
// ignoring case), 404 if none, or all of them as a list when key is "".
func oneOrAll[T any](s *Server, w http.ResponseWriter, r *http.Request, key string, all []T,
	name func(T) string, render func(T) map[string]any, what string) {
	if key == "" {
		var list []map[string]any
		for _, x := range all {
			list = append(list, render(x))
		}
		s.writeList(w, list)
		return
	}
	for _, x := range all {
		if strings.EqualFold(name(x), key) {
			s.write(w, http.StatusOK, render(x))
			return
		}
	}
	s.fail(w, r, scim.Errorf(http.StatusNotFound, "", "no %s %q", what, key))
}

func (s *Server) schemaJSON(sc *scim.Schema) map[string]any {
	return map[string]any{
		"schemas": []string{scim.SchemaURN}, "id": sc.ID, "name": sc.Name, "description": sc.Description,
		"attributes": sc.Attributes,
		"meta":       map[string]any{"resourceType": "Schema", "location": s.cfg.BaseURL + "/scim/v2/Schemas/" + sc.ID},
	}
}

func (s *Server) schemas(w http.ResponseWriter, r *http.Request) {
	oneOrAll(s, w, r, r.PathValue("id"), []*scim.Schema{scim.User, scim.Enterprise, scim.Portti, scim.Group},
		func(sc *scim.Schema) string { return sc.ID }, s.schemaJSON, "schema")
}

func (s *Server) writeList(w http.ResponseWriter, list []map[string]any) {
	s.write(w, http.StatusOK, map[string]any{
		"schemas": []string{scim.ListSchema}, "totalResults": len(list), "startIndex": 1,
		"itemsPerPage": len(list), "Resources": list,
	})
}
