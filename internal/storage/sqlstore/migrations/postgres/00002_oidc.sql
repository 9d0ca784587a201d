-- The OpenID Connect provider's tables, for PostgreSQL. Keep in step with
-- ../sqlite/00002_oidc.sql: same tables, columns and indexes.
--
-- Conventions as in 00001: times are BIGINT unix microseconds (UTC), 0 for
-- "never"; booleans INTEGER 0/1, as on SQLite; byte strings BYTEA. String
-- lists ([]string: redirect URIs, scopes, audiences, …) are JSON arrays in
-- TEXT, not JSONB, so that the text is the same on both backends; an empty
-- list is '[]'.
--
-- Foreign keys:
--   - every row that belongs to a client references clients (id) ON DELETE
--     CASCADE, so deleting a client removes its auth requests, tokens,
--     consents, session clients and pending logout deliveries;
--   - every account_id references accounts (id) ON DELETE CASCADE. Where
--     a record may have no account (an auth request before anyone has
--     signed in, a client_credentials access token) the column is
--     nullable and NULL stands for the empty AccountID.
--   - session_id references nothing: refresh tokens and session clients
--     are needed after the browser session ends (to revoke, to send
--     back-channel logouts). DeleteExpired removes orphaned session
--     clients.
-- Each foreign key column has an index (or is the first column of one), so
-- that deleting a client or an account finds the rows to cascade to
-- without scanning the table (PostgreSQL does not index them by itself).

-- +goose Up
CREATE TABLE clients (
    id                        TEXT    NOT NULL PRIMARY KEY,
    name                      TEXT    NOT NULL DEFAULT '',
    secret_hash               TEXT    NOT NULL DEFAULT '',
    is_public                 INTEGER NOT NULL DEFAULT 0,
    redirect_uris             TEXT    NOT NULL DEFAULT '[]',
    post_logout_redirect_uris TEXT    NOT NULL DEFAULT '[]',
    grant_types               TEXT    NOT NULL DEFAULT '[]',
    backchannel_logout_uri    TEXT    NOT NULL DEFAULT '',
    allowed_networks          TEXT    NOT NULL DEFAULT '[]',
    third_party               INTEGER NOT NULL DEFAULT 0,
    id_token_alg              TEXT    NOT NULL DEFAULT '',
    created_at                BIGINT  NOT NULL DEFAULT 0,
    updated_at                BIGINT  NOT NULL DEFAULT 0
);

-- A handful of rows; ListSigningKeys sorts them without an index.
CREATE TABLE signing_keys (
    id          TEXT    NOT NULL PRIMARY KEY,
    alg         TEXT    NOT NULL,
    private_key BYTEA   NOT NULL,
    public_jwk  BYTEA   NOT NULL,
    created_at  BIGINT  NOT NULL DEFAULT 0,
    sign_from   BIGINT  NOT NULL DEFAULT 0,
    retired_at  BIGINT  NOT NULL DEFAULT 0,
    expires_at  BIGINT  NOT NULL DEFAULT 0
);

CREATE TABLE auth_requests (
    id         TEXT    NOT NULL PRIMARY KEY,
    client_id  TEXT    NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    account_id TEXT    REFERENCES accounts (id) ON DELETE CASCADE,
    session_id TEXT    NOT NULL DEFAULT '',
    auth_time  BIGINT  NOT NULL DEFAULT 0,
    code_hash  TEXT    NOT NULL DEFAULT '',
    data       BYTEA   NOT NULL,
    created_at BIGINT  NOT NULL DEFAULT 0,
    expires_at BIGINT  NOT NULL DEFAULT 0
);
-- One request per code; requests without a code yet are not indexed.
-- Queries repeat "code_hash <> ''", which SQLite needs to use the index.
CREATE UNIQUE INDEX auth_requests_code_hash ON auth_requests (code_hash) WHERE code_hash <> '';
CREATE INDEX auth_requests_expires_at ON auth_requests (expires_at);
CREATE INDEX auth_requests_client_id ON auth_requests (client_id);
CREATE INDEX auth_requests_account_id ON auth_requests (account_id);

CREATE TABLE refresh_tokens (
    hash       TEXT    NOT NULL PRIMARY KEY,
    chain_id   TEXT    NOT NULL,
    client_id  TEXT    NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    account_id TEXT    NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    session_id TEXT    NOT NULL DEFAULT '',
    scopes     TEXT    NOT NULL DEFAULT '[]',
    audience   TEXT    NOT NULL DEFAULT '[]',
    amr        TEXT    NOT NULL DEFAULT '[]',
    auth_time  BIGINT  NOT NULL DEFAULT 0,
    created_at BIGINT  NOT NULL DEFAULT 0,
    expires_at BIGINT  NOT NULL DEFAULT 0,
    used_at    BIGINT  NOT NULL DEFAULT 0,
    revoked_at BIGINT  NOT NULL DEFAULT 0
);
CREATE INDEX refresh_tokens_chain_id ON refresh_tokens (chain_id);
-- RevokeSessionTokens, for all clients or one.
CREATE INDEX refresh_tokens_session_id ON refresh_tokens (session_id, client_id);
CREATE INDEX refresh_tokens_expires_at ON refresh_tokens (expires_at);
CREATE INDEX refresh_tokens_client_id ON refresh_tokens (client_id);
CREATE INDEX refresh_tokens_account_id ON refresh_tokens (account_id);

-- account_id is NULL for client_credentials tokens.
CREATE TABLE access_tokens (
    id         TEXT    NOT NULL PRIMARY KEY,
    chain_id   TEXT    NOT NULL DEFAULT '',
    client_id  TEXT    NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    account_id TEXT    REFERENCES accounts (id) ON DELETE CASCADE,
    scopes     TEXT    NOT NULL DEFAULT '[]',
    audience   TEXT    NOT NULL DEFAULT '[]',
    created_at BIGINT  NOT NULL DEFAULT 0,
    expires_at BIGINT  NOT NULL DEFAULT 0,
    revoked_at BIGINT  NOT NULL DEFAULT 0
);
CREATE INDEX access_tokens_chain_id ON access_tokens (chain_id);
CREATE INDEX access_tokens_expires_at ON access_tokens (expires_at);
CREATE INDEX access_tokens_client_id ON access_tokens (client_id);
CREATE INDEX access_tokens_account_id ON access_tokens (account_id);

CREATE TABLE consents (
    account_id TEXT    NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    client_id  TEXT    NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    scopes     TEXT    NOT NULL DEFAULT '[]',
    granted_at BIGINT  NOT NULL DEFAULT 0,
    PRIMARY KEY (account_id, client_id)
);
CREATE INDEX consents_client_id ON consents (client_id);

CREATE TABLE session_clients (
    session_id TEXT    NOT NULL,
    client_id  TEXT    NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    account_id TEXT    NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    created_at BIGINT  NOT NULL DEFAULT 0,
    PRIMARY KEY (session_id, client_id)
);
CREATE INDEX session_clients_client_id ON session_clients (client_id);
CREATE INDEX session_clients_account_id ON session_clients (account_id);

CREATE TABLE logout_deliveries (
    id              BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    client_id       TEXT    NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    uri             TEXT    NOT NULL,
    token           TEXT    NOT NULL,
    created_at      BIGINT  NOT NULL DEFAULT 0,
    next_attempt_at BIGINT  NOT NULL DEFAULT 0,
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT    NOT NULL DEFAULT '',
    delivered_at    BIGINT  NOT NULL DEFAULT 0
);
-- ClaimLogouts looks for delivered_at = 0 and a due next_attempt_at;
-- DeleteExpired for old delivered_at.
CREATE INDEX logout_deliveries_due ON logout_deliveries (delivered_at, next_attempt_at);
CREATE INDEX logout_deliveries_client_id ON logout_deliveries (client_id);

-- +goose Down
DROP TABLE logout_deliveries;
DROP TABLE session_clients;
DROP TABLE consents;
DROP TABLE access_tokens;
DROP TABLE refresh_tokens;
DROP TABLE auth_requests;
DROP TABLE signing_keys;
DROP TABLE clients;
