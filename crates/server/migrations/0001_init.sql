-- 0001: accounts, sessions and versioned profiles.
--
-- Applied once, in a transaction, when PRAGMA user_version < 1; afterwards user_version = 1.

-- One row per person. The password is stored only as an argon2 PHC string (salt and
-- parameters included), never in clear.
CREATE TABLE accounts (
    id            INTEGER PRIMARY KEY,
    username      TEXT    NOT NULL UNIQUE,
    password_hash TEXT    NOT NULL,
    created_at    TEXT    NOT NULL
);

-- Bearer sessions. Only the SHA-256 of a token is kept, so a leaked database gives no
-- usable token. Signing out deletes the row; expiry is checked on every use.
CREATE TABLE sessions (
    token_hash  BLOB    PRIMARY KEY,
    account_id  INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    created_at  INTEGER NOT NULL, -- unix seconds
    expires_at  INTEGER NOT NULL  -- unix seconds
) WITHOUT ROWID;
CREATE INDEX sessions_by_account ON sessions(account_id);

-- The current profile of each account. `version` starts at 1 and grows by one with every
-- accepted write; it is the ETag clients send back in If-Match.
CREATE TABLE profiles (
    account_id  INTEGER PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
    name        TEXT    NOT NULL,
    photo_url   TEXT    NOT NULL,
    version     INTEGER NOT NULL CHECK (version >= 1),
    updated_at  TEXT    NOT NULL  -- RFC 3339, UTC
);

-- Every accepted version of every profile, written in the same transaction as the change,
-- so the history is complete and gap-free: an audit trail and a base for three-way merges.
CREATE TABLE profile_history (
    account_id  INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    version     INTEGER NOT NULL,
    name        TEXT    NOT NULL,
    photo_url   TEXT    NOT NULL,
    updated_at  TEXT    NOT NULL,
    PRIMARY KEY (account_id, version)
) WITHOUT ROWID;
