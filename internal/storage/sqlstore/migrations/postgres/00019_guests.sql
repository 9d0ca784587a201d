-- Guest invitations (package guests). The link's secret is kept only as
-- its SHA-256; accepted_at and account_id are set once, when the link is
-- used. account_id has no foreign key: the invitation stays as a record
-- of who invited whom after the guest account is deleted.

-- +goose Up
CREATE TABLE guest_invitations (
    id          TEXT    NOT NULL PRIMARY KEY,
    token_hash  TEXT    NOT NULL UNIQUE,
    email       TEXT    NOT NULL,
    locale      TEXT    NOT NULL,
    note        TEXT    NOT NULL,
    invited_by  TEXT    NOT NULL,
    inviter     TEXT    NOT NULL,
    ends_at     BIGINT  NOT NULL,
    expires_at  BIGINT  NOT NULL,
    created_at  BIGINT  NOT NULL,
    accepted_at BIGINT  NOT NULL,
    account_id  TEXT    NOT NULL
);
CREATE INDEX guest_invitations_inviter ON guest_invitations (invited_by, created_at);

-- +goose Down
DROP TABLE guest_invitations;
