-- Why a browser session was ended from elsewhere (a password change, a
-- sign-out of this browser from another one), kept until the session
-- would have expired, so that the browser is told on its next page
-- instead of silently finding itself signed out. Read once, then deleted.

-- +goose Up
CREATE TABLE ended_sessions (
    id         TEXT   NOT NULL PRIMARY KEY, -- the ended session's ID (hash of its cookie)
    reason     TEXT   NOT NULL,
    ended_at   INTEGER NOT NULL DEFAULT 0,
    expires_at INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX ended_sessions_expires_at ON ended_sessions (expires_at);

-- +goose Down
DROP TABLE ended_sessions;
