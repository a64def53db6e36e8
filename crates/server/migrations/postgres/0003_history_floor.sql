-- 0003: history retention (see migrations/0003_history_floor.sql for SQLite, which says why).
-- `history_floor` is the lowest version the history still holds; versions below it were
-- pruned with their mutation ids.
ALTER TABLE profiles ADD COLUMN history_floor BIGINT NOT NULL DEFAULT 1;
