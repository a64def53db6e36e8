-- PostgreSQL 0001: the schema of SQLite's 0001 and 0002 in one step (accounts, sessions,
-- versioned profiles with their history, and mutation ids for exactly-once writes).
--
-- Applied once, in a transaction, under an advisory lock (several instances may start at
-- once), when outpost_schema.version < 1; afterwards it is 1.

CREATE TABLE accounts (
    id            BIGSERIAL PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    -- argon2 PHC string (salt and parameters included), never the password.
    password_hash TEXT NOT NULL,
    created_at    TEXT NOT NULL
);

-- Only the SHA-256 of a token is kept, so a leaked database gives no usable token.
CREATE TABLE sessions (
    token_hash  BYTEA  PRIMARY KEY,
    account_id  BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    created_at  BIGINT NOT NULL, -- unix seconds
    expires_at  BIGINT NOT NULL  -- unix seconds
);
CREATE INDEX sessions_by_account ON sessions(account_id);

-- The current profile; `version` is the ETag clients send back in If-Match. Writers lock the
-- row (SELECT ... FOR UPDATE), so two instances never both accept a write of one version.
CREATE TABLE profiles (
    account_id  BIGINT PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
    name        TEXT   NOT NULL,
    photo_url   TEXT   NOT NULL,
    version     BIGINT NOT NULL CHECK (version >= 1),
    updated_at  TEXT   NOT NULL,
    mutation_id TEXT
);

-- Every accepted version, written in the same transaction as the change.
CREATE TABLE profile_history (
    account_id  BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    version     BIGINT NOT NULL,
    name        TEXT   NOT NULL,
    photo_url   TEXT   NOT NULL,
    updated_at  TEXT   NOT NULL,
    mutation_id TEXT,
    PRIMARY KEY (account_id, version)
);
-- An id is applied at most once per account; also the index a repeat's lookup uses.
CREATE UNIQUE INDEX profile_history_by_mutation
    ON profile_history(account_id, mutation_id)
    WHERE mutation_id IS NOT NULL;
