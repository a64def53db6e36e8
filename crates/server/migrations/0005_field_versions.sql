-- 0005: per-field versions.
--
-- Applied once, in a transaction, when PRAGMA user_version < 5; afterwards user_version = 5.
--
-- Each field of a profile carries the version whose write last changed its value. A field can
-- be changed and changed back between two versions a device saw ("Ann", "Bo", "Ann"): its value
-- alone says "unchanged", and that device's save would undo, unasked, a choice made by someone
-- who saw "Bo". With these versions the client tells the two apart (`field_versions` in the
-- profile JSON). Rows written before this migration did not record when a field changed: each
-- field is taken to have changed at its row's version, which can only make a client ask where
-- it need not, never write over a change unasked.
ALTER TABLE profiles ADD COLUMN name_version INTEGER NOT NULL DEFAULT 0;
ALTER TABLE profiles ADD COLUMN photo_url_version INTEGER NOT NULL DEFAULT 0;
UPDATE profiles SET name_version = version, photo_url_version = version;
ALTER TABLE profile_history ADD COLUMN name_version INTEGER NOT NULL DEFAULT 0;
ALTER TABLE profile_history ADD COLUMN photo_url_version INTEGER NOT NULL DEFAULT 0;
UPDATE profile_history SET name_version = version, photo_url_version = version;
