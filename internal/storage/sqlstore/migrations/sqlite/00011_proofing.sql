-- Strong identification (package proofing): the identity bound to an
-- account (a keyed hash of the registry identifier, never the identifier),
-- portti's own relying-party keys (sealed like the signing keys), and the
-- identifications under way (minutes long; the provider's tokens are
-- never stored).

-- +goose Up
CREATE TABLE account_identities (
    account_id TEXT    NOT NULL PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    identity   TEXT    NOT NULL,
    provider   TEXT    NOT NULL,
    bound_at   INTEGER NOT NULL
) STRICT;
CREATE INDEX account_identities_identity ON account_identities (identity);

CREATE TABLE proofing_keys (
    id         TEXT    NOT NULL PRIMARY KEY,
    use        TEXT    NOT NULL,
    alg        TEXT    NOT NULL,
    private    BLOB    NOT NULL,
    public     BLOB    NOT NULL,
    created_at INTEGER NOT NULL,
    retired_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT;

CREATE TABLE proofing_flows (
    id          TEXT    NOT NULL PRIMARY KEY,
    purpose     TEXT    NOT NULL,
    provider    TEXT    NOT NULL,
    account_id  TEXT    NOT NULL,
    challenge   TEXT    NOT NULL,
    return_to   TEXT    NOT NULL,
    lang        TEXT    NOT NULL,
    state       TEXT    NOT NULL,
    nonce       TEXT    NOT NULL,
    verifier    TEXT    NOT NULL,
    identity    TEXT    NOT NULL,
    given_name  TEXT    NOT NULL,
    family_name TEXT    NOT NULL,
    proven_at   INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX proofing_flows_expires ON proofing_flows (expires_at);

-- +goose Down
DROP TABLE proofing_flows;
DROP TABLE proofing_keys;
DROP TABLE account_identities;
