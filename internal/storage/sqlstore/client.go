package sqlstore

import (
	"context"
	"fmt"

	"github.com/portti/portti/internal/storage"
)

// Client IDs are public (they travel in every authorization URL), so error
// messages name them.

const (
	clientColumns = `id, name, secret_hash, is_public, redirect_uris,
	post_logout_redirect_uris, grant_types, backchannel_logout_uri,
	allowed_networks, third_party, id_token_alg, created_at, updated_at,
	source, scopes, resource_server, resource_scopes, require_mfa, allowed_groups`

	insertClient = `INSERT INTO clients (` + clientColumns + `)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)`
	updateClient = `UPDATE clients SET name = $2, secret_hash = $3,
	is_public = $4, redirect_uris = $5, post_logout_redirect_uris = $6,
	grant_types = $7, backchannel_logout_uri = $8, allowed_networks = $9,
	third_party = $10, id_token_alg = $11, created_at = $12, updated_at = $13,
	source = $14, scopes = $15, resource_server = $16, resource_scopes = $17, require_mfa = $18,
	allowed_groups = $19
	WHERE id = $1`
	selectClient = `SELECT ` + clientColumns + ` FROM clients WHERE id = $1`
	listClients  = `SELECT ` + clientColumns + ` FROM clients ORDER BY id`
	// The partial unique index clients_resource_server makes this one row.
	selectClientByResource = `SELECT ` + clientColumns + ` FROM clients WHERE resource_server = $1 AND resource_server <> ''`
	// The foreign keys remove the client's auth requests, tokens,
	// consents, session clients and logout deliveries with it.
	deleteClient = `DELETE FROM clients WHERE id = $1`
)

func clientArgs(c storage.Client) []any {
	return []any{
		c.ID, c.Name, c.SecretHash, dbBool(c.Public), dbList(c.RedirectURIs),
		dbList(c.PostLogoutRedirectURIs), dbList(c.GrantTypes), c.BackchannelLogoutURI,
		dbList(c.AllowedNetworks), dbBool(c.ThirdParty), c.IDTokenAlg,
		dbTime(c.CreatedAt), dbTime(c.UpdatedAt), c.Source, dbList(c.Scopes),
		c.ResourceServer, dbList(c.ResourceScopes), dbBool(c.RequireMFA), dbList(c.AllowedGroups),
	}
}

func scanClient(r scanner) (storage.Client, error) {
	var (
		c                                   storage.Client
		public, thirdParty, created, update int64
		redirects, postLogout, grants, nets string
		scopes, resourceScopes, groups      string
		requireMFA                          int64
	)
	err := r.Scan(&c.ID, &c.Name, &c.SecretHash, &public, &redirects,
		&postLogout, &grants, &c.BackchannelLogoutURI,
		&nets, &thirdParty, &c.IDTokenAlg, &created, &update, &c.Source, &scopes,
		&c.ResourceServer, &resourceScopes, &requireMFA, &groups)
	if err != nil {
		return storage.Client{}, classify(err)
	}
	var d listDecoder
	c.RedirectURIs = d.list(redirects)
	c.PostLogoutRedirectURIs = d.list(postLogout)
	c.GrantTypes = d.list(grants)
	c.AllowedNetworks = d.list(nets)
	c.Scopes = d.list(scopes)
	c.ResourceScopes = d.list(resourceScopes)
	c.AllowedGroups = d.list(groups)
	if d.err != nil {
		return storage.Client{}, d.err
	}
	c.Public = public != 0
	c.ThirdParty = thirdParty != 0
	c.RequireMFA = requireMFA != 0
	c.CreatedAt = goTime(created)
	c.UpdatedAt = goTime(update)
	return c, nil
}

// roundTripClient returns c as GetClient would return it once stored.
func roundTripClient(c storage.Client) storage.Client {
	c.RedirectURIs = roundTripList(c.RedirectURIs)
	c.PostLogoutRedirectURIs = roundTripList(c.PostLogoutRedirectURIs)
	c.GrantTypes = roundTripList(c.GrantTypes)
	c.AllowedNetworks = roundTripList(c.AllowedNetworks)
	c.Scopes = roundTripList(c.Scopes)
	c.ResourceScopes = roundTripList(c.ResourceScopes)
	c.AllowedGroups = roundTripList(c.AllowedGroups)
	c.CreatedAt = roundTrip(c.CreatedAt)
	c.UpdatedAt = roundTrip(c.UpdatedAt)
	return c
}

// CreateClient stores a new client. ErrConflict when the ID is taken.
func (s *Store) CreateClient(ctx context.Context, c storage.Client) error {
	if _, err := s.exec(ctx, insertClient, clientArgs(c)...); err != nil {
		return fmt.Errorf("sqlstore: create client %q: %w", c.ID, err)
	}
	return nil
}

// GetClient returns the client with the given ID.
func (s *Store) GetClient(ctx context.Context, id string) (storage.Client, error) {
	c, err := scanClient(s.q.QueryRowContext(ctx, selectClient, id))
	if err != nil {
		return storage.Client{}, fmt.Errorf("sqlstore: get client %q: %w", id, err)
	}
	return c, nil
}

// UpdateClient reads, changes and writes a client in one transaction. fn
// must not change the ID.
func (s *Store) UpdateClient(ctx context.Context, id string, fn func(storage.Client) (storage.Client, error)) (storage.Client, error) {
	var out storage.Client
	err := s.withTx(ctx, func(tx *Store) error {
		old, err := scanClient(tx.q.QueryRowContext(ctx, selectClient+tx.forUpdate(), id))
		if err != nil {
			return fmt.Errorf("sqlstore: update client %q: %w", id, err)
		}
		c, err := fn(old)
		if err != nil {
			return err
		}
		if c.ID != old.ID {
			return fmt.Errorf("sqlstore: update client %q: the update changed the ID", id)
		}
		if _, err := tx.exec(ctx, updateClient, clientArgs(c)...); err != nil {
			return fmt.Errorf("sqlstore: update client %q: %w", id, err)
		}
		out = roundTripClient(c)
		return nil
	})
	if err != nil {
		return storage.Client{}, err
	}
	return out, nil
}

// ListClients returns every client, by ID.
func (s *Store) ListClients(ctx context.Context) ([]storage.Client, error) {
	out, err := queryAll(ctx, s.q, scanClient, listClients)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list clients: %w", err)
	}
	return out, nil
}

// DeleteClient removes a client and, through the foreign keys, its auth
// requests, refresh and access tokens, consents, session clients and
// pending logout deliveries. ErrNotFound if there is no such client.
func (s *Store) DeleteClient(ctx context.Context, id string) error {
	n, err := s.exec(ctx, deleteClient, id)
	if err != nil {
		return fmt.Errorf("sqlstore: delete client %q: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("sqlstore: delete client %q: %w", id, storage.ErrNotFound)
	}
	return nil
}
