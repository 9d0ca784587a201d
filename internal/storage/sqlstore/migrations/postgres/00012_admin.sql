-- The helpdesk console (package admin): staff roles, login-page notices,
-- when each staff session last used the console (its idle timeout), and
-- an index to find the event behind a reference code read from a page.

-- +goose Up
CREATE TABLE staff_roles (
    account_id TEXT    NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    role       TEXT    NOT NULL,
    granted_at BIGINT  NOT NULL,
    granted_by TEXT    NOT NULL DEFAULT '',
    PRIMARY KEY (account_id, role)
);

CREATE TABLE notices (
    id         TEXT    NOT NULL PRIMARY KEY,
    starts_at  BIGINT  NOT NULL,
    ends_at    BIGINT  NOT NULL,
    text_fi    TEXT    NOT NULL DEFAULT '',
    text_sv    TEXT    NOT NULL DEFAULT '',
    text_en    TEXT    NOT NULL DEFAULT '',
    created_at BIGINT  NOT NULL,
    created_by TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX notices_window ON notices (starts_at, ends_at);

CREATE TABLE staff_sessions (
    session_id TEXT    NOT NULL PRIMARY KEY REFERENCES sessions (id) ON DELETE CASCADE,
    seen_at    BIGINT  NOT NULL
);

CREATE INDEX events_ref ON events (ref) WHERE ref <> '';

-- +goose Down
DROP INDEX events_ref;
DROP TABLE staff_sessions;
DROP TABLE notices;
DROP TABLE staff_roles;
