-- Mail under faults, and account work taken out of the request.
--
-- mail.unreachable: the last attempt failed because the SMTP server could
-- not be reached or talked to at all (not because it refused this
-- message): such messages are retried as soon as the server answers again
-- instead of waiting out their own back-off. A claim clears it.
--
-- account_tasks: work a form hands to the background worker (a password
-- reset link, an activation link, a registration), so that the request
-- does the same single insert whether or not the address has an account.
-- Claimed with a lease like the outbox; deleted in the transaction that
-- does the work.

-- +goose Up
ALTER TABLE mail ADD COLUMN unreachable INTEGER NOT NULL DEFAULT 0;
CREATE INDEX mail_unreachable ON mail (unreachable, sent_at);

CREATE TABLE account_tasks (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    kind            TEXT    NOT NULL,
    email           TEXT    NOT NULL DEFAULT '',
    payload         TEXT    NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL DEFAULT 0,
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT    NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX account_tasks_due ON account_tasks (next_attempt_at);

-- +goose Down
DROP TABLE account_tasks;
DROP INDEX mail_unreachable;
ALTER TABLE mail DROP COLUMN unreachable;
