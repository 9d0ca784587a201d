-- The SAML identity provider (package saml): its keys, the services
-- registered with it, received message IDs (the replay cache) and the
-- services each browser session signed in to (for Single Logout; kept
-- past a session's end until the clean-up, so a sign-in that replaces a
-- session can take them over).

-- +goose Up
CREATE TABLE saml_keys (
    id          TEXT    NOT NULL PRIMARY KEY,
    key_use     TEXT    NOT NULL,
    private_key BLOB    NOT NULL,
    certificate BLOB    NOT NULL,
    created_at  INTEGER NOT NULL
) STRICT;

CREATE TABLE saml_service_providers (
    entity_id   TEXT    NOT NULL PRIMARY KEY,
    metadata    BLOB    NOT NULL,
    release_attrs TEXT    NOT NULL,
    source      TEXT    NOT NULL,
    valid_until INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
) STRICT;

CREATE TABLE saml_message_ids (
    id         TEXT    NOT NULL PRIMARY KEY,
    expires_at INTEGER NOT NULL
) STRICT;

CREATE TABLE saml_participants (
    session_id    TEXT    NOT NULL,
    entity_id     TEXT    NOT NULL,
    name_id       TEXT    NOT NULL,
    session_index TEXT    NOT NULL,
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (session_id, entity_id)
) STRICT;
CREATE INDEX saml_participants_index ON saml_participants (entity_id, session_index);

-- +goose Down
DROP TABLE saml_participants;
DROP TABLE saml_message_ids;
DROP TABLE saml_service_providers;
DROP TABLE saml_keys;
