-- 0004: profile photos uploaded to the server (see migrations/0004_photos.sql for SQLite,
-- which says why they live in the database). Uploads, profile writes naming a photo and
-- pruning each lock the account's profile row first, so an account's photo count and the
-- "the named photo is held" check hold across instances.
CREATE TABLE photos (
    account_id   BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    -- SHA-256 of `bytes`, 64 lowercase hex digits, as photo_url names it.
    sha256       TEXT   NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    content_type TEXT   NOT NULL
                 CHECK (content_type IN ('image/jpeg', 'image/png', 'image/webp')),
    bytes        BYTEA  NOT NULL,
    size         BIGINT NOT NULL CHECK (size = octet_length(bytes)),
    created_at   BIGINT NOT NULL, -- unix seconds of the last upload of these bytes
    PRIMARY KEY (account_id, sha256)
);
-- Images are compressed already: stored out of line as they are, not compressed again.
ALTER TABLE photos ALTER COLUMN bytes SET STORAGE EXTERNAL;
