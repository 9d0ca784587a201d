package sqlstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/portti/portti/internal/storage"
)

// The SAML identity provider's records (storage.SAMLStorage).

const (
	insertSAMLKey = `INSERT INTO saml_keys (id, key_use, private_key, certificate, created_at)
	VALUES ($1, $2, $3, $4, $5)`
	listSAMLKeys = `SELECT id, key_use, private_key, certificate, created_at FROM saml_keys ORDER BY created_at, id`

	samlSPColumns = `entity_id, metadata, release_attrs, source, valid_until, created_at, updated_at`
	putSAMLSP     = `INSERT INTO saml_service_providers (` + samlSPColumns + `)
	VALUES ($1, $2, $3, $4, $5, $6, $7)
	ON CONFLICT (entity_id) DO UPDATE SET metadata = excluded.metadata,
	release_attrs = excluded.release_attrs, source = excluded.source,
	valid_until = excluded.valid_until, updated_at = excluded.updated_at`
	selectSAMLSP = `SELECT ` + samlSPColumns + ` FROM saml_service_providers WHERE entity_id = $1`
	listSAMLSPs  = `SELECT ` + samlSPColumns + ` FROM saml_service_providers ORDER BY entity_id`
	deleteSAMLSP = `DELETE FROM saml_service_providers WHERE entity_id = $1`
	useSAMLMsgID = `INSERT INTO saml_message_ids (id, expires_at) VALUES ($1, $2)
	ON CONFLICT (id) DO UPDATE SET expires_at = excluded.expires_at
	WHERE saml_message_ids.expires_at < $3`
	putSAMLPart = `INSERT INTO saml_participants (session_id, entity_id, name_id, session_index, created_at)
	VALUES ($1, $2, $3, $4, $5)
	ON CONFLICT (session_id, entity_id) DO UPDATE SET name_id = excluded.name_id,
	session_index = excluded.session_index`
	samlPartColumns = `session_id, entity_id, name_id, session_index, created_at`
	listSAMLParts   = `SELECT ` + samlPartColumns + ` FROM saml_participants WHERE session_id = $1 ORDER BY created_at, entity_id`
	findSAMLPart    = `SELECT ` + samlPartColumns + ` FROM saml_participants WHERE entity_id = $1 AND session_index = $2`
	deleteSAMLPart  = `DELETE FROM saml_participants WHERE session_id = $1 AND entity_id = $2`
	moveSAMLParts   = `UPDATE saml_participants SET session_id = $2 WHERE session_id = $1
	AND entity_id NOT IN (SELECT entity_id FROM saml_participants WHERE session_id = $2)`
	dropSAMLParts = `DELETE FROM saml_participants WHERE session_id = $1`
)

// CreateSAMLKey implements storage.SAMLStorage.
func (s *Store) CreateSAMLKey(ctx context.Context, k storage.SAMLKey) error {
	if _, err := s.exec(ctx, insertSAMLKey, k.ID, k.Use, dbBytes(k.Private), dbBytes(k.Certificate), dbTime(k.CreatedAt)); err != nil {
		return fmt.Errorf("sqlstore: create SAML key %q: %w", k.ID, err)
	}
	return nil
}

// ListSAMLKeys implements storage.SAMLStorage.
func (s *Store) ListSAMLKeys(ctx context.Context) ([]storage.SAMLKey, error) {
	out, err := queryAll(ctx, s.q, func(r scanner) (storage.SAMLKey, error) {
		var (
			k       storage.SAMLKey
			created int64
		)
		err := r.Scan(&k.ID, &k.Use, &k.Private, &k.Certificate, &created)
		k.Private, k.Certificate, k.CreatedAt = goBytes(k.Private), goBytes(k.Certificate), goTime(created)
		return k, err
	}, listSAMLKeys)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list SAML keys: %w", classify(err))
	}
	return out, nil
}

func scanSAMLSP(r scanner) (storage.SAMLServiceProvider, error) {
	var (
		sp                      storage.SAMLServiceProvider
		release                 string
		valid, created, updated int64
	)
	if err := r.Scan(&sp.EntityID, &sp.Metadata, &release, &sp.Source, &valid, &created, &updated); err != nil {
		return storage.SAMLServiceProvider{}, classify(err)
	}
	sp.Metadata = goBytes(sp.Metadata)
	sp.Release = strings.Fields(release)
	sp.ValidUntil, sp.CreatedAt, sp.UpdatedAt = goTime(valid), goTime(created), goTime(updated)
	return sp, nil
}

// PutSAMLServiceProvider implements storage.SAMLStorage.
func (s *Store) PutSAMLServiceProvider(ctx context.Context, sp storage.SAMLServiceProvider) error {
	_, err := s.exec(ctx, putSAMLSP, sp.EntityID, dbBytes(sp.Metadata), strings.Join(sp.Release, " "), sp.Source,
		dbTime(sp.ValidUntil), dbTime(sp.CreatedAt), dbTime(sp.UpdatedAt))
	if err != nil {
		return fmt.Errorf("sqlstore: put SAML service %q: %w", sp.EntityID, err)
	}
	return nil
}

// GetSAMLServiceProvider implements storage.SAMLStorage.
func (s *Store) GetSAMLServiceProvider(ctx context.Context, entityID string) (storage.SAMLServiceProvider, error) {
	sp, err := scanSAMLSP(s.q.QueryRowContext(ctx, selectSAMLSP, entityID))
	if err != nil {
		return sp, fmt.Errorf("sqlstore: get SAML service %q: %w", entityID, err)
	}
	return sp, nil
}

// ListSAMLServiceProviders implements storage.SAMLStorage.
func (s *Store) ListSAMLServiceProviders(ctx context.Context) ([]storage.SAMLServiceProvider, error) {
	out, err := queryAll(ctx, s.q, scanSAMLSP, listSAMLSPs)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list SAML services: %w", classify(err))
	}
	return out, nil
}

// DeleteSAMLServiceProvider implements storage.SAMLStorage.
func (s *Store) DeleteSAMLServiceProvider(ctx context.Context, entityID string) error {
	n, err := s.exec(ctx, deleteSAMLSP, entityID)
	if err != nil {
		return fmt.Errorf("sqlstore: delete SAML service %q: %w", entityID, err)
	}
	if n == 0 {
		return fmt.Errorf("sqlstore: delete SAML service %q: %w", entityID, storage.ErrNotFound)
	}
	return nil
}

// UseSAMLMessageID implements storage.SAMLStorage: the insert changes no
// row when the ID is there and has not expired.
func (s *Store) UseSAMLMessageID(ctx context.Context, id string, now, expires time.Time) error {
	n, err := s.exec(ctx, useSAMLMsgID, id, dbTime(expires), dbTime(now))
	if err != nil {
		return fmt.Errorf("sqlstore: use SAML message ID: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("sqlstore: SAML message ID seen before: %w", storage.ErrConflict)
	}
	return nil
}

func scanSAMLPart(r scanner) (storage.SAMLParticipant, error) {
	var (
		p       storage.SAMLParticipant
		created int64
	)
	err := r.Scan(&p.SessionID, &p.EntityID, &p.NameID, &p.SessionIndex, &created)
	p.CreatedAt = goTime(created)
	return p, classify(err)
}

// PutSAMLParticipant implements storage.SAMLStorage.
func (s *Store) PutSAMLParticipant(ctx context.Context, p storage.SAMLParticipant) error {
	if _, err := s.exec(ctx, putSAMLPart, p.SessionID, p.EntityID, p.NameID, p.SessionIndex, dbTime(p.CreatedAt)); err != nil {
		return fmt.Errorf("sqlstore: put SAML participant %q: %w", p.EntityID, err)
	}
	return nil
}

// ListSAMLParticipants implements storage.SAMLStorage.
func (s *Store) ListSAMLParticipants(ctx context.Context, sessionID string) ([]storage.SAMLParticipant, error) {
	out, err := queryAll(ctx, s.q, scanSAMLPart, listSAMLParts, sessionID)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list SAML participants: %w", classify(err))
	}
	return out, nil
}

// FindSAMLParticipant implements storage.SAMLStorage.
func (s *Store) FindSAMLParticipant(ctx context.Context, entityID, sessionIndex string) (storage.SAMLParticipant, error) {
	p, err := scanSAMLPart(s.q.QueryRowContext(ctx, findSAMLPart, entityID, sessionIndex))
	if err != nil {
		return p, fmt.Errorf("sqlstore: find SAML participant %q: %w", entityID, err)
	}
	return p, nil
}

// DeleteSAMLParticipant implements storage.SAMLStorage.
func (s *Store) DeleteSAMLParticipant(ctx context.Context, sessionID, entityID string) error {
	if _, err := s.exec(ctx, deleteSAMLPart, sessionID, entityID); err != nil {
		return fmt.Errorf("sqlstore: delete SAML participant %q: %w", entityID, err)
	}
	return nil
}

// MoveSAMLParticipants implements storage.SAMLStorage.
func (s *Store) MoveSAMLParticipants(ctx context.Context, from, to string) error {
	err := s.withTx(ctx, func(tx *Store) error {
		if _, err := tx.exec(ctx, moveSAMLParts, from, to); err != nil {
			return err
		}
		_, err := tx.exec(ctx, dropSAMLParts, from)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlstore: move SAML participants: %w", err)
	}
	return nil
}
