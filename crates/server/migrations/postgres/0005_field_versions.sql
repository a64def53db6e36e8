-- 0005: per-field versions (see migrations/0005_field_versions.sql for SQLite, which says why).
-- Each field carries the version whose write last changed its value; rows written before this
-- migration take their own version for every field.
ALTER TABLE profiles ADD COLUMN name_version BIGINT NOT NULL DEFAULT 0;
ALTER TABLE profiles ADD COLUMN photo_url_version BIGINT NOT NULL DEFAULT 0;
UPDATE profiles SET name_version = version, photo_url_version = version;
ALTER TABLE profile_history ADD COLUMN name_version BIGINT NOT NULL DEFAULT 0;
ALTER TABLE profile_history ADD COLUMN photo_url_version BIGINT NOT NULL DEFAULT 0;
UPDATE profile_history SET name_version = version, photo_url_version = version;
