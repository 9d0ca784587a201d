-- The successor of a rotated refresh token, sealed, for the reuse grace
-- period (refresh_reuse_grace): parallel refreshes by one client with the
-- same token all get that successor instead of the chain's revocation.
-- The sealing key is derived from the rotated token, which is stored only
-- as its hash, so the database alone opens nothing. A row is of use for
-- seconds; DeleteExpired removes it at its next sweep after expires_at.
-- As on SQLite, no foreign key and no index beyond the primary key: every
-- rotation writes a row, and the sweep scans only the rotations since the
-- last one.

-- +goose Up
CREATE TABLE refresh_successors (
    hash       TEXT    NOT NULL PRIMARY KEY,
    sealed     BYTEA   NOT NULL,
    expires_at BIGINT  NOT NULL
);

-- +goose Down
DROP TABLE refresh_successors;
