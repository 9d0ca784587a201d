-- Resource servers (RFC 8707) and the deny list of revoked self-contained
-- access tokens. Same statements in both dialects.
--
-- clients.resource_server is the API's identifier (an absolute URI) when
-- the client is a resource server, '' otherwise; unique among the clients
-- that have one. resource_scopes lists the scopes the API accepts, as a
-- JSON list like the other list columns ('[]': any).
--
-- revoked_jtis holds the "jti" of each revoked client_credentials access
-- token (a JWT, never stored itself) until the token's own expiry, when
-- DeleteExpired removes it: an expired token is refused by its "exp"
-- anyway. There is no foreign key to clients: removing a client must not
-- bring its revoked tokens back.

-- +goose Up
ALTER TABLE clients ADD COLUMN resource_server TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN resource_scopes TEXT NOT NULL DEFAULT '[]';
CREATE UNIQUE INDEX clients_resource_server ON clients (resource_server) WHERE resource_server <> '';

CREATE TABLE revoked_jtis (
    jti        TEXT   NOT NULL PRIMARY KEY,
    client_id  TEXT   NOT NULL,
    revoked_at BIGINT NOT NULL DEFAULT 0,
    expires_at BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX revoked_jtis_expires_at ON revoked_jtis (expires_at);

-- +goose Down
DROP TABLE revoked_jtis;
DROP INDEX clients_resource_server;
ALTER TABLE clients DROP COLUMN resource_scopes;
ALTER TABLE clients DROP COLUMN resource_server;
