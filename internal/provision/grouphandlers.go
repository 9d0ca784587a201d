package provision

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/portti/portti/internal/provision/scim"
	"github.com/portti/portti/internal/storage"
)

func (s *Server) groupResource(g storage.Group) map[string]any {
	res := map[string]any{
		"schemas":     []any{scim.GroupSchema},
		"id":          g.ID,
		"displayName": g.DisplayName,
		"meta": map[string]any{
			"resourceType": "Group",
			"created":      scim.FormatDateTime(g.CreatedAt),
			"lastModified": scim.FormatDateTime(g.UpdatedAt),
			"location":     s.location("Groups", g.ID),
			"version":      etag(g.Version),
		},
	}
	if g.ExternalID != "" {
		res["externalId"] = g.ExternalID
	}
	if len(g.Members) > 0 {
		m := make([]any, len(g.Members))
		for i, id := range g.Members {
			m[i] = map[string]any{"value": id, "$ref": s.location("Users", id), "type": "User"}
		}
		res["members"] = m
	}
	return res
}

// maxMembers bounds one group.
const maxMembers = 100000

// groupFromResource checks a Group resource in canonical form.
func groupFromResource(res map[string]any) (storage.Group, error) {
	var g storage.Group
	g.DisplayName, _ = res["displayName"].(string)
	if strings.TrimSpace(g.DisplayName) == "" {
		return g, scim.BadRequest(scim.InvalidValue, "displayName is required")
	}
	if len(g.DisplayName) > 256 {
		return g, scim.BadRequest(scim.InvalidValue, "displayName is longer than 256 bytes")
	}
	g.ExternalID, _ = res["externalId"].(string)
	for _, el := range elementsOf(res["members"]) {
		m, _ := el.(map[string]any)
		v, _ := m["value"].(string)
		if v == "" {
			return g, scim.BadRequest(scim.InvalidValue, "a member has no value (the user's id)")
		}
		if t, _ := m["type"].(string); t != "" && !strings.EqualFold(t, "User") {
			return g, scim.BadRequest(scim.InvalidValue, "member %q: only users can be members; portti does not nest groups", v)
		}
		g.Members = append(g.Members, v)
	}
	if len(g.Members) > maxMembers {
		return g, scim.Errorf(http.StatusRequestEntityTooLarge, scim.TooMany, "a group has at most %d members", maxMembers)
	}
	slices.Sort(g.Members)
	g.Members = slices.Compact(g.Members)
	return g, nil
}

func elementsOf(v any) []any {
	l, _ := v.([]any)
	return l
}

// checkMembers: every member not in old is a provisioned user.
func checkMembers(ctx context.Context, tx storage.Storage, members, old []string) error {
	for _, m := range members {
		if _, found := slices.BinarySearch(old, m); found {
			continue
		}
		if _, err := tx.GetProvisioned(ctx, m); errors.Is(err, storage.ErrNotFound) {
			return scim.BadRequest(scim.InvalidValue, "member %q is not a user provisioned here", m)
		} else if err != nil {
			return err
		}
	}
	return nil
}

func (s *Server) createGroup(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	res, err := s.readResource(r, scim.Groups)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	g, err := groupFromResource(res)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	now := s.cfg.Now().UTC()
	g.ID, g.CreatedAt, g.UpdatedAt = newID(), now, now
	err = s.cfg.Store.InTx(ctx, func(tx storage.Storage) error {
		if err := checkMembers(ctx, tx, g.Members, nil); err != nil {
			return err
		}
		if err := tx.CreateGroup(ctx, g); err != nil {
			if errors.Is(err, storage.ErrConflict) {
				return conflict("externalId is taken")
			}
			return err
		}
		return s.record(ctx, tx, r, EventGroupCreated, "", "group "+g.ID)
	})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	g.Version = 1
	s.writeResource(w, r, http.StatusCreated, scim.Groups, s.groupResource(g), g.Version)
}

func (s *Server) getGroup(w http.ResponseWriter, r *http.Request) {
	g, err := s.cfg.Store.GetGroup(r.Context(), r.PathValue("id"))
	if err != nil {
		s.fail(w, r, mapStorageError(err, "group"))
		return
	}
	if notModified(w, r, g.Version) {
		return
	}
	s.writeResource(w, r, http.StatusOK, scim.Groups, s.groupResource(g), g.Version)
}

func (s *Server) replaceGroup(w http.ResponseWriter, r *http.Request) {
	res, err := s.readResource(r, scim.Groups)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.changeGroup(w, r, func(map[string]any) (map[string]any, error) { return res, nil })
}

func (s *Server) patchGroup(w http.ResponseWriter, r *http.Request) {
	var req scim.PatchRequest
	if err := s.readJSON(r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	s.changeGroup(w, r, func(cur map[string]any) (map[string]any, error) {
		return scim.ApplyPatch(scim.Groups, cur, req)
	})
}

// changeGroup is PUT and PATCH, inside UpdateGroup's row lock (see
// changeUser): concurrent member changes of one group all count.
func (s *Server) changeGroup(w http.ResponseWriter, r *http.Request, change func(cur map[string]any) (map[string]any, error)) {
	ctx := r.Context()
	id := r.PathValue("id")
	now := s.cfg.Now().UTC()
	var out storage.Group
	err := s.cfg.Store.InTx(ctx, func(tx storage.Storage) error {
		var err error
		out, err = tx.UpdateGroup(ctx, id, func(cur storage.Group) (storage.Group, error) {
			if err := ifMatch(r, cur.Version); err != nil {
				return cur, err
			}
			res, err := change(s.groupResource(cur))
			if err != nil {
				return cur, err
			}
			g, err := groupFromResource(res)
			if err != nil {
				return cur, err
			}
			if err := checkMembers(ctx, tx, g.Members, cur.Members); err != nil {
				return cur, err
			}
			cur.DisplayName, cur.ExternalID, cur.Members, cur.UpdatedAt = g.DisplayName, g.ExternalID, g.Members, now
			return cur, nil
		})
		switch {
		case errors.Is(err, storage.ErrConflict):
			return conflict("externalId is taken")
		case err != nil:
			return mapStorageError(err, "group")
		}
		return s.record(ctx, tx, r, EventGroupUpdated, "", "group "+id)
	})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.writeResource(w, r, http.StatusOK, scim.Groups, s.groupResource(out), out.Version)
}

func (s *Server) deleteGroup(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id := r.PathValue("id")
	err := s.cfg.Store.InTx(ctx, func(tx storage.Storage) error {
		// Locked, so that If-Match compares with the version deleted.
		_, err := tx.UpdateGroup(ctx, id, func(cur storage.Group) (storage.Group, error) {
			return cur, ifMatch(r, cur.Version)
		})
		if err != nil {
			return mapStorageError(err, "group")
		}
		if err := tx.DeleteGroup(ctx, id); err != nil {
			return mapStorageError(err, "group")
		}
		return s.record(ctx, tx, r, EventGroupDeleted, "", "group "+id)
	})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) listGroups(w http.ResponseWriter, r *http.Request) {
	p, err := paramsFromQuery(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.queryGroups(w, r, p)
}

func (s *Server) searchGroups(w http.ResponseWriter, r *http.Request) {
	p, err := paramsFromSearch(s, r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.queryGroups(w, r, p)
}

func (s *Server) queryGroups(w http.ResponseWriter, r *http.Request, p listParams) {
	ctx := r.Context()
	var f *scim.Filter
	if p.Filter != "" {
		var err error
		if f, err = scim.CompileFilter(scim.Groups, p.Filter); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	var matches []map[string]any
	if v, ok := f.EqualityOnID(); ok {
		g, err := s.cfg.Store.GetGroup(ctx, v)
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			s.fail(w, r, err)
			return
		}
		if err == nil {
			if res := s.groupResource(g); f.Match(res) {
				matches = append(matches, res)
			}
		}
		s.listResponse(w, scim.Groups, p, matches)
		return
	}
	after := ""
	for {
		page, err := s.cfg.Store.ListGroups(ctx, after, scanPage)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		for _, g := range page {
			if res := s.groupResource(g); f == nil || f.Match(res) {
				matches = append(matches, res)
			}
		}
		if len(page) < scanPage {
			break
		}
		after = page[len(page)-1].ID
	}
	s.listResponse(w, scim.Groups, p, matches)
}
