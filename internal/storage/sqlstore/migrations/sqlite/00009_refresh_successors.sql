-- The successor of a rotated refresh token, sealed, for the reuse grace
-- period (refresh_reuse_grace): parallel refreshes by one client with the
-- same token all get that successor instead of the chain's revocation.
-- The sealing key is derived from the rotated token, which is stored only
-- as its hash, so the database alone opens nothing. A row is of use for
-- seconds; DeleteExpired removes it at its next sweep after expires_at.
--
-- Kept lean, because every rotation writes a row inside the token
-- grant's transaction: WITHOUT ROWID (one B-tree, not a table and its
-- primary-key index), no foreign key (no lookup of the token; a row whose
-- token was deleted is useless and goes at the sweep like the rest) and
-- no index on expires_at (the sweep scans a table holding only the
-- rotations since the last sweep). With these, a rotation on SQLite costs
-- about a tenth more CPU than without a grace; with the foreign key and
-- the index it cost a third more (BenchmarkRefresh).

-- +goose Up
CREATE TABLE refresh_successors (
    hash       TEXT    NOT NULL PRIMARY KEY,
    sealed     BLOB    NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- +goose Down
DROP TABLE refresh_successors;
