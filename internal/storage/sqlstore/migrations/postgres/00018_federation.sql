-- Sign-in with a home organisation (package federation): the links from
-- an upstream identity provider's subject to a local account. A link is
-- only ever made on purpose (by the owner, an operator or an invitation),
-- never by matching an e-mail address. Upstream tokens are never stored;
-- the sign-ins under way reuse proofing_flows.

-- +goose Up
CREATE TABLE federated_links (
    provider   TEXT    NOT NULL,
    subject    TEXT    NOT NULL,
    account_id TEXT    NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    linked_by  TEXT    NOT NULL,
    linked_at  BIGINT  NOT NULL,
    PRIMARY KEY (provider, subject)
);
CREATE INDEX federated_links_account ON federated_links (account_id);

-- +goose Down
DROP TABLE federated_links;
