-- Second factors and passkeys (package authn): one table for every
-- method, the method-specific part in data; and the factors a session's
-- sign-in proved (JSON list of {method, time}), from which amr and acr
-- derive. Sessions from before this migration proved a password only.

-- +goose Up
CREATE TABLE credentials (
    id           TEXT    NOT NULL PRIMARY KEY,
    account_id   TEXT    NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    kind         TEXT    NOT NULL,
    name         TEXT    NOT NULL DEFAULT '',
    lookup       TEXT    NOT NULL DEFAULT '',
    secret       BLOB    NOT NULL,
    data         BLOB    NOT NULL,
    counter      INTEGER NOT NULL DEFAULT 0,
    created_at   INTEGER NOT NULL DEFAULT 0,
    last_used_at INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX credentials_account_id ON credentials (account_id, created_at);
CREATE UNIQUE INDEX credentials_lookup ON credentials (kind, lookup) WHERE lookup <> '';
ALTER TABLE sessions ADD COLUMN factors TEXT NOT NULL DEFAULT '[]';

-- +goose Down
ALTER TABLE sessions DROP COLUMN factors;
DROP TABLE credentials;
