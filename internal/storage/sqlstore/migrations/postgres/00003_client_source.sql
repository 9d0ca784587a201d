-- Who manages a client: 'cli' (portti client add/remove) or 'config' (the
-- configuration file's clients: list, which portti keeps the table in step
-- with at start-up and on SIGHUP). Rows from before this migration were
-- all added with the command. Same statement in both dialects.

-- +goose Up
ALTER TABLE clients ADD COLUMN source TEXT NOT NULL DEFAULT 'cli';

-- +goose Down
ALTER TABLE clients DROP COLUMN source;
