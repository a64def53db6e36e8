-- 0004: profile photos uploaded to the server.
--
-- Applied once, in a transaction, when PRAGMA user_version < 4; afterwards user_version = 4.
--
-- A profile's photo_url may name `/api/photos/{sha256}`, a photo its account uploaded
-- (`PUT /api/photos/{sha256}`). The bytes live here, in the database, not in files beside it:
-- a profile write checks in its own transaction that the account holds the photo it names,
-- pruning removes photos in a transaction of its own, backups hold photos and profiles of
-- one moment, and with PostgreSQL every instance sees every photo. A photo is small (1 MiB at
-- most, about 200 KB from the app) and an account holds few (32 at most).
--
-- A photo stays while a kept version of its profile names it (the current one, or one the
-- history holds) or while it is younger than the grace period, counted from its last upload;
-- then the history pruning pass removes it.
CREATE TABLE photos (
    account_id   INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    -- SHA-256 of `bytes`, 64 lowercase hex digits: as photo_url names it, so pruning compares
    -- the two as text.
    sha256       TEXT    NOT NULL CHECK (length(sha256) = 64 AND sha256 NOT GLOB '*[^0-9a-f]*'),
    -- Read from the bytes at upload (their magic number), never from the client's header.
    content_type TEXT    NOT NULL
                 CHECK (content_type IN ('image/jpeg', 'image/png', 'image/webp')),
    bytes        BLOB    NOT NULL,
    size         INTEGER NOT NULL CHECK (size = length(bytes)),
    created_at   INTEGER NOT NULL, -- unix seconds of the last upload of these bytes
    PRIMARY KEY (account_id, sha256)
);
