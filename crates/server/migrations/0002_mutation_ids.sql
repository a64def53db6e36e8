-- 0002: mutation ids, for exactly-once profile writes.
--
-- Applied once, in a transaction, when PRAGMA user_version < 2; afterwards user_version = 2.
--
-- A client names each write with a mutation id (the `Idempotency-Key` header) and sends the
-- same id again when it does not know whether the first attempt arrived. The server answers
-- a repeat with the outcome recorded for that id instead of writing again or answering 412.

-- The mutation id of the write that produced the current version; NULL for version 1 and for
-- writes sent without a key. Readers of the profile learn which write they are looking at.
ALTER TABLE profiles ADD COLUMN mutation_id TEXT;

-- The same for every version in the history: where a repeat of an id finds its outcome.
ALTER TABLE profile_history ADD COLUMN mutation_id TEXT;

-- An id is applied at most once per account (ids are the client's, so another account may use
-- the same one). Also the index the lookup of a repeat uses. Rows without an id are left out.
CREATE UNIQUE INDEX profile_history_by_mutation
    ON profile_history(account_id, mutation_id)
    WHERE mutation_id IS NOT NULL;
