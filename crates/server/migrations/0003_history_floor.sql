-- 0003: history retention.
--
-- Applied once, in a transaction, when PRAGMA user_version < 3; afterwards user_version = 3.
--
-- Old versions of a profile are pruned (the last N and every version younger than D days are
-- kept). Their mutation ids go with them, so a repeat of a pruned write can no longer be told
-- from a new one. `history_floor` is the lowest version the history still holds: a repeat whose
-- key is unknown and whose write would have produced a version below it is answered "outcome
-- unknown" (409 `history_pruned`), never 412 as if another device had written first.
ALTER TABLE profiles ADD COLUMN history_floor INTEGER NOT NULL DEFAULT 1;
