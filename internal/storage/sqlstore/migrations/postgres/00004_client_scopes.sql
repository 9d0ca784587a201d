-- The scopes a client may be granted with client_credentials (its API
-- permissions), as a JSON list like the other list columns. Rows from
-- before this migration have none. Same statement in both dialects.

-- +goose Up
ALTER TABLE clients ADD COLUMN scopes TEXT NOT NULL DEFAULT '[]';

-- +goose Down
ALTER TABLE clients DROP COLUMN scopes;
