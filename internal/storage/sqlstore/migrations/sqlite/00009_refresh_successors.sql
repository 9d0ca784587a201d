-- The successor of a rotated refresh token, sealed, for the reuse grace
-- period (refresh_reuse_grace): parallel refreshes by one client with the
-- same token all get that successor instead of the chain's revocation.
-- The sealing key is derived from the rotated token, which is stored only
-- as its hash, so the database alone opens nothing. Rows live seconds:
-- DeleteExpired removes them after expires_at, and they go with their
-- refresh token.

-- +goose Up
CREATE TABLE refresh_successors (
    hash       TEXT    NOT NULL PRIMARY KEY REFERENCES refresh_tokens (hash) ON DELETE CASCADE,
    sealed     BLOB    NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX refresh_successors_expires_at ON refresh_successors (expires_at);

-- +goose Down
DROP TABLE refresh_successors;
