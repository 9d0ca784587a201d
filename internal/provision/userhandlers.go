package provision

import (
	"context"
	"errors"
	"net/http"

	"github.com/portti/portti/internal/account"
	"github.com/portti/portti/internal/provision/scim"
	"github.com/portti/portti/internal/storage"
)

func conflict(format string, args ...any) error {
	return scim.Errorf(http.StatusConflict, scim.Uniqueness, format, args...)
}

func (s *Server) createUser(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	res, err := s.readResource(r, scim.Users)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	f, err := s.userFromResource(res)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	now := s.cfg.Now().UTC()
	var pa storage.ProvisionedAccount
	err = s.cfg.Store.InTx(ctx, func(tx storage.Storage) error {
		var err error
		if pa, err = s.createAccount(ctx, tx, f, storage.ProvisionSourceSCIM, now); err != nil {
			return err
		}
		return s.record(ctx, tx, r, EventUserCreated, pa.Account.ID, "")
	})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.writeResource(w, r, http.StatusCreated, scim.Users, s.userResource(pa, nil), pa.Provisioned.Version)
}

// checkUnique: userName and externalId belong to no other account (self
// is the account being changed, "" on create).
func checkUnique(ctx context.Context, tx storage.Storage, self string, f userFields) error {
	if a, err := tx.GetAccountByEmail(ctx, f.email); err == nil && a.ID != self {
		return conflict("userName is taken")
	} else if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return err
	}
	if f.p.ExternalID != "" {
		if pa, err := tx.GetProvisionedByExternalID(ctx, f.p.ExternalID); err == nil && pa.Account.ID != self {
			return conflict("externalId is taken")
		} else if err != nil && !errors.Is(err, storage.ErrNotFound) {
			return err
		}
	}
	return nil
}

func (s *Server) getUser(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	pa, err := s.cfg.Store.GetProvisioned(ctx, r.PathValue("id"))
	if err != nil {
		s.fail(w, r, mapStorageError(err, "user"))
		return
	}
	if notModified(w, r, pa.Provisioned.Version) {
		return
	}
	groups, err := s.cfg.Store.ListAccountGroups(ctx, pa.Account.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.writeResource(w, r, http.StatusOK, scim.Users, s.userResource(pa, groups), pa.Provisioned.Version)
}

func (s *Server) replaceUser(w http.ResponseWriter, r *http.Request) {
	res, err := s.readResource(r, scim.Users)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.changeUser(w, r, func(map[string]any) (map[string]any, error) { return res, nil })
}

func (s *Server) patchUser(w http.ResponseWriter, r *http.Request) {
	var req scim.PatchRequest
	if err := s.readJSON(r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	s.changeUser(w, r, func(cur map[string]any) (map[string]any, error) {
		return scim.ApplyPatch(scim.Users, cur, req)
	})
}

// changeUser is PUT and PATCH: in one transaction, lock the user's
// registry record, check If-Match, compute the new resource, check it
// whole and write it. The record's row lock (UpdateProvisioned) orders
// concurrent changes of one user on PostgreSQL as SQLite's write lock
// does: each sees the one before it, so no change is lost.
func (s *Server) changeUser(w http.ResponseWriter, r *http.Request, change func(cur map[string]any) (map[string]any, error)) {
	ctx := r.Context()
	id := r.PathValue("id")
	now := s.cfg.Now().UTC()
	var (
		out    storage.ProvisionedAccount
		groups []storage.Group
	)
	err := s.cfg.Store.InTx(ctx, func(tx storage.Storage) error {
		var (
			f                  userFields
			oldState, newState string
		)
		p, err := tx.UpdateProvisioned(ctx, id, func(cur storage.Provisioned) (storage.Provisioned, error) {
			if err := ifMatch(r, cur.Version); err != nil {
				return cur, err
			}
			a, err := tx.GetAccount(ctx, id)
			if err != nil {
				return cur, err
			}
			if groups, err = tx.ListAccountGroups(ctx, id); err != nil {
				return cur, err
			}
			res, err := change(s.userResource(storage.ProvisionedAccount{Account: a, Provisioned: cur}, groups))
			if err != nil {
				return cur, err
			}
			if f, err = s.userFromResource(res); err != nil {
				return cur, err
			}
			if err := checkUnique(ctx, tx, id, f); err != nil {
				return cur, err
			}
			oldState = cur.State
			p := s.nextRecord(id, cur, f, storage.ProvisionSourceSCIM, now)
			newState = p.State
			return p, nil
		})
		switch {
		case errors.Is(err, storage.ErrConflict):
			return conflict("externalId is taken")
		case err != nil:
			return mapStorageError(err, "user")
		}
		a, err := s.applyAccount(ctx, tx, id, f, oldState, newState, now)
		if err != nil {
			return err
		}
		if err := s.inviteOnChange(ctx, tx, a, p, oldState, newState); err != nil {
			return err
		}
		out = storage.ProvisionedAccount{Account: a, Provisioned: p}
		detail := ""
		if newState != oldState {
			detail = "state " + oldState + " → " + newState
		}
		return s.record(ctx, tx, r, EventUserUpdated, id, detail)
	})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.writeResource(w, r, http.StatusOK, scim.Users, s.userResource(out, groups), out.Provisioned.Version)
}

func (s *Server) deleteUser(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id := r.PathValue("id")
	err := s.cfg.Store.InTx(ctx, func(tx storage.Storage) error {
		// Locked, so that If-Match compares with the version deleted.
		_, err := tx.UpdateProvisioned(ctx, id, func(cur storage.Provisioned) (storage.Provisioned, error) {
			return cur, ifMatch(r, cur.Version)
		})
		if err != nil {
			return mapStorageError(err, "user")
		}
		if err := tx.DeleteProvisionedAccount(ctx, id); err != nil {
			return mapStorageError(err, "user")
		}
		// The event keeps the account ID, which no longer names anyone.
		return s.record(ctx, tx, r, EventUserDeleted, id, "")
	})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request) {
	p, err := paramsFromQuery(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.queryUsers(w, r, p)
}

func (s *Server) searchUsers(w http.ResponseWriter, r *http.Request) {
	p, err := paramsFromSearch(s, r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.queryUsers(w, r, p)
}

// scanPage is how many accounts a filter without an indexed equality
// reads at a time.
const scanPage = 500

func (s *Server) queryUsers(w http.ResponseWriter, r *http.Request, p listParams) {
	ctx := r.Context()
	var f *scim.Filter
	if p.Filter != "" {
		var err error
		if f, err = scim.CompileFilter(scim.Users, p.Filter); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	// A user's groups cost a query: read for every user only when the
	// filter asks about groups, else for the returned page alone.
	withGroups := f.Mentions("groups")
	type match struct {
		pa      storage.ProvisionedAccount
		res     map[string]any
		grouped bool
	}
	var matches []match
	consider := func(pa storage.ProvisionedAccount) error {
		var groups []storage.Group
		if withGroups {
			var err error
			if groups, err = s.cfg.Store.ListAccountGroups(ctx, pa.Account.ID); err != nil {
				return err
			}
		}
		res := s.userResource(pa, groups)
		if f == nil || f.Match(res) {
			matches = append(matches, match{pa, res, withGroups})
		}
		return nil
	}
	err := func() error {
		// What registries ask most (Microsoft Entra ID before every
		// create: userName eq "…") is answered from an index.
		if f != nil {
			var (
				pa  storage.ProvisionedAccount
				err error
				hit bool
			)
			if v, ok := f.EqualityOn("userName"); ok {
				hit = true
				if email, nerr := account.NormalizeEmail(v); nerr == nil {
					var a storage.Account
					if a, err = s.cfg.Store.GetAccountByEmail(ctx, email); err == nil {
						pa, err = s.cfg.Store.GetProvisioned(ctx, a.ID)
					}
				} else {
					err = storage.ErrNotFound
				}
			} else if v, ok := f.EqualityOn("externalId"); ok {
				hit = true
				pa, err = s.cfg.Store.GetProvisionedByExternalID(ctx, v)
			} else if v, ok := f.EqualityOn("id"); ok {
				hit = true
				pa, err = s.cfg.Store.GetProvisioned(ctx, v)
			}
			if hit {
				if errors.Is(err, storage.ErrNotFound) {
					return nil
				}
				if err != nil {
					return err
				}
				return consider(pa)
			}
		}
		after := ""
		for {
			page, err := s.cfg.Store.ListProvisioned(ctx, after, scanPage)
			if err != nil {
				return err
			}
			for _, pa := range page {
				if err := consider(pa); err != nil {
					return err
				}
			}
			if len(page) < scanPage {
				return nil
			}
			after = page[len(page)-1].Account.ID
		}
	}()
	if err != nil {
		s.fail(w, r, err)
		return
	}
	from, to := p.page(len(matches))
	resources := make([]map[string]any, len(matches))
	for i, m := range matches {
		if i >= from && i < to && !m.grouped {
			groups, err := s.cfg.Store.ListAccountGroups(ctx, m.pa.Account.ID)
			if err != nil {
				s.fail(w, r, err)
				return
			}
			m.res = s.userResource(m.pa, groups)
		}
		resources[i] = m.res
	}
	s.listResponse(w, scim.Users, p, resources)
}
