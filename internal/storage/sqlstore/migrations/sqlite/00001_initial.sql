-- portti's initial schema for SQLite. Keep in step with
-- ../postgres/00001_initial.sql: same tables, columns and indexes.
--
-- Times are INTEGER unix microseconds (UTC), 0 for "never"; booleans are
-- INTEGER 0/1. STRICT tables reject values of the wrong type.

-- +goose Up
CREATE TABLE accounts (
    id                  TEXT    NOT NULL PRIMARY KEY,
    email               TEXT    NOT NULL UNIQUE,
    given_name          TEXT    NOT NULL DEFAULT '',
    family_name         TEXT    NOT NULL DEFAULT '',
    phone_number        TEXT    NOT NULL DEFAULT '',
    street_address      TEXT    NOT NULL DEFAULT '',
    postal_code         TEXT    NOT NULL DEFAULT '',
    locality            TEXT    NOT NULL DEFAULT '',
    locale              TEXT    NOT NULL DEFAULT '',
    password_hash       TEXT    NOT NULL DEFAULT '',
    password_changed_at INTEGER NOT NULL DEFAULT 0,
    activated_at        INTEGER NOT NULL DEFAULT 0,
    disabled            INTEGER NOT NULL DEFAULT 0,
    failed_logins       INTEGER NOT NULL DEFAULT 0,
    locked_until        INTEGER NOT NULL DEFAULT 0,
    terms_version       TEXT    NOT NULL DEFAULT '',
    terms_accepted_at   INTEGER NOT NULL DEFAULT 0,
    pending_email       TEXT    NOT NULL DEFAULT '',
    created_at          INTEGER NOT NULL DEFAULT 0,
    updated_at          INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE TABLE tokens (
    hash       TEXT    NOT NULL PRIMARY KEY,
    kind       TEXT    NOT NULL,
    account_id TEXT    NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    email      TEXT    NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL DEFAULT 0,
    expires_at INTEGER NOT NULL DEFAULT 0,
    used_at    INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX tokens_account_kind ON tokens (account_id, kind);
CREATE INDEX tokens_expires_at ON tokens (expires_at);

CREATE TABLE sessions (
    id           TEXT    NOT NULL PRIMARY KEY,
    account_id   TEXT    NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    device_id    TEXT    NOT NULL DEFAULT '',
    persistent   INTEGER NOT NULL DEFAULT 0,
    created_at   INTEGER NOT NULL DEFAULT 0,
    last_seen_at INTEGER NOT NULL DEFAULT 0,
    expires_at   INTEGER NOT NULL DEFAULT 0,
    client_ip    TEXT    NOT NULL DEFAULT '',
    user_agent   TEXT    NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX sessions_account_id ON sessions (account_id);
CREATE INDEX sessions_expires_at ON sessions (expires_at);

CREATE TABLE known_devices (
    account_id    TEXT    NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    device_id     TEXT    NOT NULL,
    first_seen_at INTEGER NOT NULL DEFAULT 0,
    last_seen_at  INTEGER NOT NULL DEFAULT 0,
    failed_logins INTEGER NOT NULL DEFAULT 0,
    locked_until  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (account_id, device_id)
) STRICT;

CREATE TABLE attempts (
    key          TEXT    NOT NULL PRIMARY KEY,
    window_start INTEGER NOT NULL,
    count        INTEGER NOT NULL
) STRICT;
CREATE INDEX attempts_window_start ON attempts (window_start);

-- No foreign key: the audit trail outlives accounts and records attempts
-- on addresses that have none.
CREATE TABLE events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    occurred_at INTEGER NOT NULL,
    kind        TEXT    NOT NULL,
    account_id  TEXT    NOT NULL DEFAULT '',
    email       TEXT    NOT NULL DEFAULT '',
    client_ip   TEXT    NOT NULL DEFAULT '',
    user_agent  TEXT    NOT NULL DEFAULT '',
    reason      TEXT    NOT NULL DEFAULT '',
    ref         TEXT    NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX events_account_id ON events (account_id, id);

CREATE TABLE mail (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    to_addr         TEXT    NOT NULL,
    subject         TEXT    NOT NULL DEFAULT '',
    text_body       TEXT    NOT NULL DEFAULT '',
    html_body       TEXT    NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL DEFAULT 0,
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT    NOT NULL DEFAULT '',
    sent_at         INTEGER NOT NULL DEFAULT 0
) STRICT;
-- ClaimMail looks for sent_at = 0 and a due next_attempt_at; DeleteExpired
-- for old sent_at.
CREATE INDEX mail_due ON mail (sent_at, next_attempt_at);

-- +goose Down
DROP TABLE mail;
DROP TABLE events;
DROP TABLE attempts;
DROP TABLE known_devices;
DROP TABLE sessions;
DROP TABLE tokens;
DROP TABLE accounts;
