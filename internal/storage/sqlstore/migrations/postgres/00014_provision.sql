-- Accounts and groups a registry keeps (SCIM, issue 11). Keep in step with
-- ../sqlite/00014_provision.sql.
--
-- An external ID is unique when not empty (a partial index, the same on
-- both backends). version is the SCIM ETag: it grows on every write.

-- +goose Up
CREATE TABLE provisioned_accounts (
    account_id      TEXT    NOT NULL PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    external_id     TEXT    NOT NULL DEFAULT '',
    user_type       TEXT    NOT NULL DEFAULT '',
    state           TEXT    NOT NULL DEFAULT 'active',
    starts_at       BIGINT NOT NULL DEFAULT 0,
    ends_at         BIGINT NOT NULL DEFAULT 0,
    display_name    TEXT    NOT NULL DEFAULT '',
    nick_name       TEXT    NOT NULL DEFAULT '',
    title           TEXT    NOT NULL DEFAULT '',
    employee_number TEXT    NOT NULL DEFAULT '',
    organization    TEXT    NOT NULL DEFAULT '',
    department      TEXT    NOT NULL DEFAULT '',
    manager         TEXT    NOT NULL DEFAULT '',
    extra           BYTEA    NOT NULL,
    source          TEXT    NOT NULL DEFAULT 'scim',
    due_at          BIGINT NOT NULL DEFAULT 0,
    end_notice_at   BIGINT NOT NULL DEFAULT 0,
    deleted_at      BIGINT NOT NULL DEFAULT 0,
    version         BIGINT NOT NULL DEFAULT 1,
    created_at      BIGINT NOT NULL DEFAULT 0,
    updated_at      BIGINT NOT NULL DEFAULT 0
);

CREATE UNIQUE INDEX provisioned_accounts_external_id ON provisioned_accounts (external_id) WHERE external_id <> '';

-- The lifecycle worker's queue: records with something due (a start date,
-- a notice before the end, the end of the grace, a purge).
CREATE INDEX provisioned_accounts_due ON provisioned_accounts (due_at) WHERE due_at > 0;

CREATE TABLE account_groups (
    id           TEXT    NOT NULL PRIMARY KEY,
    display_name TEXT COLLATE "C" NOT NULL DEFAULT '',
    external_id  TEXT    NOT NULL DEFAULT '',
    version      BIGINT NOT NULL DEFAULT 1,
    created_at   BIGINT NOT NULL DEFAULT 0,
    updated_at   BIGINT NOT NULL DEFAULT 0
);

CREATE UNIQUE INDEX account_groups_external_id ON account_groups (external_id) WHERE external_id <> '';

CREATE TABLE group_members (
    group_id   TEXT NOT NULL REFERENCES account_groups (id) ON DELETE CASCADE,
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, account_id)
);

-- The groups claim: an account's groups at every token.
CREATE INDEX group_members_account_id ON group_members (account_id);

-- People who asked the activation page to tell them when their account
-- appears; kept until expires_at, only to send that message.
CREATE TABLE provision_waitlist (
    email      TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    locale     TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL DEFAULT 0,
    expires_at BIGINT NOT NULL DEFAULT 0
);

-- An application limited to the members of some groups (by display name):
-- a JSON list like allowed_networks; '[]' is anyone.
ALTER TABLE clients ADD COLUMN allowed_groups TEXT NOT NULL DEFAULT '[]';

-- +goose Down
ALTER TABLE clients DROP COLUMN allowed_groups;
DROP TABLE provision_waitlist;
DROP TABLE group_members;
DROP TABLE account_groups;
DROP TABLE provisioned_accounts;
