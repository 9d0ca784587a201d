package oidc

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/portti/portti/internal/storage"
)

// SyncResult says what SyncClients did, by client ID.
type SyncResult struct {
	Created   []string
	Updated   []string
	Removed   []string // with their tokens, consents and pending logouts
	Unchanged []string
	// Conflicts are configured clients whose ID belongs to a client added
	// with `portti client add`. SyncClients leaves that client alone and
	// does not register the configured one.
	Conflicts []string
}

// Changed returns the IDs of the clients created, updated or removed.
func (r SyncResult) Changed() []string {
	return slices.Concat(r.Created, r.Updated, r.Removed)
}

var (
	errNotFromConfig = errors.New("added with `portti client add`")
	errUnchanged     = errors.New("unchanged")
)

// SyncClients makes the clients managed by the configuration file
// (Source storage.ClientSourceConfig) match specs: it creates the missing
// ones, updates the changed ones in place (their tokens and consents
// stay), and removes the ones no longer listed. Clients added with
// `portti client add` are never changed or removed; a spec with the ID of
// one is reported in SyncResult.Conflicts.
//
// Every spec must be valid, with unique IDs, and a confidential one must
// give its secret (SecretHash, or Secret): portti cannot show a generated
// secret to a file. Otherwise nothing is written. Several nodes may sync
// the same list at once; each change is made once.
func SyncClients(ctx context.Context, store storage.OIDCStorage, specs []ClientSpec, now time.Time) (SyncResult, error) {
	var res SyncResult
	want := make([]storage.Client, 0, len(specs))
	seen := map[string]bool{}
	apis := map[string]string{} // resource server identifier: client ID
	var problems []string
	for i, spec := range specs {
		if !spec.Public && spec.Secret == "" && spec.SecretHash == "" {
			problems = append(problems, fmt.Sprintf("client %d (%q): a confidential client needs its secret's SHA-256", i, spec.ID))
			continue
		}
		rec, _, err := NewClient(spec, now, nil)
		if err != nil {
			problems = append(problems, fmt.Sprintf("client %d (%q): %v", i, spec.ID, err))
			continue
		}
		if seen[rec.ID] {
			problems = append(problems, fmt.Sprintf("client %d: ID %q is listed twice", i, rec.ID))
			continue
		}
		seen[rec.ID] = true
		if rec.ResourceServer != "" {
			if other, ok := apis[rec.ResourceServer]; ok {
				problems = append(problems, fmt.Sprintf("client %d (%q): resource server %q is client %q's already: identifiers are unique", i, rec.ID, rec.ResourceServer, other))
				continue
			}
			apis[rec.ResourceServer] = rec.ID
		}
		rec.Source = storage.ClientSourceConfig
		want = append(want, rec)
	}
	if len(problems) > 0 {
		return res, &ClientError{Problems: problems}
	}

	existing, err := store.ListClients(ctx)
	if err != nil {
		return res, fmt.Errorf("sync clients: %w", err)
	}
	stored := make(map[string]storage.Client, len(existing))
	for _, c := range existing {
		stored[c.ID] = c
		// An API identifier of a client of `portti client add` is not the
		// file's to take.
		if id, ok := apis[c.ResourceServer]; ok && c.ResourceServer != "" && id != c.ID && c.Source != storage.ClientSourceConfig {
			problems = append(problems, fmt.Sprintf("client %q: resource server %q is client %q's (from portti client add) already: identifiers are unique", id, c.ResourceServer, c.ID))
		}
	}
	if len(problems) > 0 {
		return res, &ClientError{Problems: problems}
	}

	for _, c := range want {
		old, ok := stored[c.ID]
		switch {
		case ok && old.Source != storage.ClientSourceConfig:
			res.Conflicts = append(res.Conflicts, c.ID)
			continue
		case ok && sameClient(old, c):
			res.Unchanged = append(res.Unchanged, c.ID)
			continue
		case !ok:
			err := store.CreateClient(ctx, c)
			if err == nil {
				res.Created = append(res.Created, c.ID)
				continue
			}
			if !errors.Is(err, storage.ErrConflict) {
				return res, fmt.Errorf("sync clients: %w", err)
			}
			// Another node (or `portti client add`) created it meanwhile.
		}
		_, err := store.UpdateClient(ctx, c.ID, func(old storage.Client) (storage.Client, error) {
			if old.Source != storage.ClientSourceConfig {
				return old, errNotFromConfig
			}
			if sameClient(old, c) {
				return old, errUnchanged
			}
			c.CreatedAt = old.CreatedAt
			return c, nil
		})
		switch {
		case err == nil:
			res.Updated = append(res.Updated, c.ID)
		case errors.Is(err, errUnchanged):
			res.Unchanged = append(res.Unchanged, c.ID)
		case errors.Is(err, errNotFromConfig):
			res.Conflicts = append(res.Conflicts, c.ID)
		case errors.Is(err, storage.ErrNotFound):
			// Removed meanwhile: by a node with an older list, which the
			// next sync of this one puts right, or by nothing else (only
			// portti client remove deletes, and it refuses these).
			if err := store.CreateClient(ctx, c); err != nil && !errors.Is(err, storage.ErrConflict) {
				return res, fmt.Errorf("sync clients: %w", err)
			}
			res.Created = append(res.Created, c.ID)
		default:
			return res, fmt.Errorf("sync clients: %w", err)
		}
	}

	for _, old := range existing {
		if old.Source != storage.ClientSourceConfig || seen[old.ID] {
			continue
		}
		if err := store.DeleteClient(ctx, old.ID); err != nil && !errors.Is(err, storage.ErrNotFound) {
			return res, fmt.Errorf("sync clients: %w", err)
		}
		res.Removed = append(res.Removed, old.ID)
	}
	return res, nil
}

// sameClient reports whether two records describe the same client,
// apart from when they were created and changed.
func sameClient(a, b storage.Client) bool {
	return a.ID == b.ID && a.Name == b.Name && a.SecretHash == b.SecretHash && a.Public == b.Public &&
		slices.Equal(a.RedirectURIs, b.RedirectURIs) &&
		slices.Equal(a.PostLogoutRedirectURIs, b.PostLogoutRedirectURIs) &&
		slices.Equal(a.GrantTypes, b.GrantTypes) &&
		a.BackchannelLogoutURI == b.BackchannelLogoutURI &&
		slices.Equal(a.AllowedNetworks, b.AllowedNetworks) &&
		a.ThirdParty == b.ThirdParty && a.IDTokenAlg == b.IDTokenAlg && a.Source == b.Source &&
		slices.Equal(a.Scopes, b.Scopes) &&
		a.ResourceServer == b.ResourceServer && slices.Equal(a.ResourceScopes, b.ResourceScopes) &&
		slices.Equal(a.AllowedGroups, b.AllowedGroups) && a.RequireMFA == b.RequireMFA
}

// SyncClients runs SyncClients on the provider's database at its clock.
// This node's client cache forgets the changed clients at once; other
// nodes see the change within Config.ClientCacheTTL.
func (p *Provider) SyncClients(ctx context.Context, specs []ClientSpec) (SyncResult, error) {
	res, err := SyncClients(ctx, p.store, specs, p.now())
	for _, id := range res.Changed() {
		p.clients.forget(id)
	}
	return res, err
}
