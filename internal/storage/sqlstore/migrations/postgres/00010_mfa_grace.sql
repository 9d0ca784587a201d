-- When the operator's requirement of a second factor first met a person
-- who had none (mfa.enrolment_grace runs from then, once per account).

-- +goose Up
CREATE TABLE mfa_grace (
    account_id TEXT   NOT NULL PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    started_at BIGINT NOT NULL
);

-- +goose Down
DROP TABLE mfa_grace;
