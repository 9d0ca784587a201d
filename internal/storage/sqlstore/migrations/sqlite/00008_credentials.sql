-- Second factors and passkeys (package authn): one table for every
-- method, the method-specific part in data; the factors a session's
-- sign-in proved (JSON list of {method, time}), from which amr and acr
-- derive (sessions from before this migration proved a password only);
-- and a client's demand for a second factor.

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
-- A client may require a second factor of everyone signing in to it.
ALTER TABLE clients ADD COLUMN require_mfa INTEGER NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE clients DROP COLUMN require_mfa;
ALTER TABLE sessions DROP COLUMN factors;
DROP TABLE credentials;
