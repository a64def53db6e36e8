//! Which versions of each profile's history are kept, which uploaded photos go with them, and
//! how one pruning step walks the accounts: the rules both stores follow ([`PruneWalk`]), each
//! with its own SQL.
//!
//! A photo is kept while a kept version of its profile names it (the current one, or any the
//! history still holds) and, named or not, for a grace period after its last upload: the time
//! for the profile write that names it to arrive. Pruning the history can leave a photo
//! unnamed, so the same pass over an account does both, history first.

use super::AccountId;

/// Which versions of each profile the history keeps: the last `versions`, and every version
/// younger than `days` days, but never more than the last `max_versions`; the others are
/// pruned with their mutation ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HistoryRetention {
    /// How many of the latest versions are always kept (at least 1: the current one).
    pub versions: u64,
    /// Versions younger than this many days are kept, up to `max_versions`.
    pub days: u32,
    /// Young or not, at most this many of the latest versions are kept (at least
    /// `versions`): an account writing fast cannot grow its history without bound.
    pub max_versions: u64,
    /// At most this many versions are deleted by one [`Store::prune_history`](super::Store::prune_history) step.
    pub batch: u64,
}

impl Default for HistoryRetention {
    fn default() -> Self {
        Self {
            versions: 100,
            days: 30,
            max_versions: 10_000,
            batch: 500,
        }
    }
}

/// What one [`Store::prune_history`](super::Store::prune_history) step did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PruneStep {
    /// Versions deleted.
    pub deleted: u64,
    /// Photos deleted.
    pub photos: u64,
    /// Where the next step goes on (`None`: every account was looked at; start again).
    pub next: Option<AccountId>,
}

/// How many accounts one pruning step looks at.
const PRUNE_ACCOUNTS: u32 = 64;

/// At most this many photos are deleted by one step: each may be a megabyte, and the step is
/// one transaction that writes wait behind (SQLite's writer, PostgreSQL's row locks).
const PRUNE_PHOTOS: u64 = 32;

/// The new `history_floor` of an account whose profile is at `current`, whose history holds
/// the versions from `floor` up, with `budget` versions still to delete in this step; `young`
/// is the lowest version in `[floor, window_end(..))` younger than the cutoff, if any. Only a
/// prefix of the history is ever pruned, so every version at or above the floor is still
/// there with its mutation id.
fn next_floor(
    retention: &HistoryRetention,
    current: u64,
    floor: u64,
    budget: u64,
    young: Option<u64>,
) -> u64 {
    let end = window_end(retention, current, floor, budget);
    // Young versions stop the floor, except those beyond the last `max_versions`.
    let cap = retention.max_versions.max(retention.versions).max(1);
    let over_cap = (current.saturating_sub(cap) + 1).min(end);
    young
        .map_or(end, |young| end.min(young).max(over_cap))
        .max(floor)
}

/// The end (exclusive) of the versions a pruning step may consider for one account: below
/// the last `retention.versions`, and at most `budget` of them.
fn window_end(retention: &HistoryRetention, current: u64, floor: u64, budget: u64) -> u64 {
    let keep_from = current.saturating_sub(retention.versions.max(1)) + 1;
    keep_from.min(floor.saturating_add(budget)).max(floor)
}

/// Where one pruning step starts.
#[derive(Clone, Debug)]
pub struct PruneFrom {
    /// Which versions are kept.
    pub retention: HistoryRetention,
    /// The RFC 3339 time before which a version counts as old.
    pub cutoff: String,
    /// The last account the previous step finished (0 at the start of a sweep).
    pub after: AccountId,
    /// Unix seconds: photos last uploaded at or before it may go, if no kept version of
    /// their profile names them.
    pub photo_cutoff: i64,
}

/// A version as both databases store it.
pub(crate) fn version_to_sql(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// A stored version or `history_floor` (1, the first version, if it is not one).
pub(crate) fn version_from_sql(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(1)
}

/// The versions `[floor, end)` of one account's history a step may delete, unless one of
/// them is young (both as SQL integers).
#[derive(Clone, Copy, Debug)]
pub(crate) struct PruneWindow {
    pub floor: i64,
    pub end: i64,
    current: u64,
    budget: u64,
}

/// One pruning step as either store runs it: the store reads the candidate accounts
/// (`account_id > after()` with `history_floor + keep() <= version`, or with a photo last
/// uploaded at or before `photo_cutoff()` that no kept version names; in id order, at most
/// [`PRUNE_ACCOUNTS`]), asks [`PruneWalk::window`] for each, reads the lowest young version
/// in the window, and deletes below [`PruneWalk::raise`]'s floor when there is one; then
/// deletes at most `photo_budget()` of the account's photos that are old and named by no
/// version left, and reports both counts to [`PruneWalk::deleted`].
pub(crate) struct PruneWalk<'a> {
    from: &'a PruneFrom,
    deleted: u64,
    photos: u64,
    last: AccountId,
    seen: usize,
}

impl<'a> PruneWalk<'a> {
    pub fn new(from: &'a PruneFrom) -> Self {
        Self {
            from,
            deleted: 0,
            photos: 0,
            last: from.after,
            seen: 0,
        }
    }

    /// The candidates come after this account.
    pub fn after(&self) -> AccountId {
        self.from.after
    }

    /// A candidate holds more versions than this many.
    pub fn keep(&self) -> i64 {
        version_to_sql(self.from.retention.versions.max(1))
    }

    /// At most this many candidates.
    pub fn limit(&self) -> i64 {
        i64::from(PRUNE_ACCOUNTS)
    }

    /// Versions updated at or after this time are young.
    pub fn cutoff(&self) -> &str {
        &self.from.cutoff
    }

    /// Photos last uploaded at or before this unix time are old enough to go.
    pub fn photo_cutoff(&self) -> i64 {
        self.from.photo_cutoff
    }

    /// How many more photos this step may delete (at least 1 while the step goes on).
    pub fn photo_budget(&self) -> i64 {
        i64::try_from(PRUNE_PHOTOS.saturating_sub(self.photos)).unwrap_or(0)
    }

    /// The window of the next candidate, from its `account_id, version, history_floor`.
    pub fn window(&mut self, account: AccountId, current: i64, floor: i64) -> PruneWindow {
        self.last = account;
        self.seen += 1;
        let (current, floor) = (version_from_sql(current), version_from_sql(floor));
        let budget = self.from.retention.batch.saturating_sub(self.deleted);
        let end = window_end(&self.from.retention, current, floor, budget);
        PruneWindow {
            floor: version_to_sql(floor),
            end: version_to_sql(end),
            current,
            budget,
        }
    }

    /// The account's new floor, given the lowest young version in its window: `Some` when
    /// it rises (delete the versions below it, then store it).
    pub fn raise(&self, window: &PruneWindow, young: Option<i64>) -> Option<i64> {
        let floor = version_from_sql(window.floor);
        let young = young.and_then(|v| u64::try_from(v).ok());
        let new = next_floor(
            &self.from.retention,
            window.current,
            floor,
            window.budget,
            young,
        );
        (new > floor).then_some(version_to_sql(new))
    }

    /// Counts the versions and photos one account's pass deleted; `Some` (the step's
    /// outcome) once either budget of the step is spent.
    pub fn deleted(&mut self, versions: u64, photos: u64) -> Option<PruneStep> {
        self.deleted += versions;
        self.photos += photos;
        let spent = self.deleted >= self.from.retention.batch || self.photos >= PRUNE_PHOTOS;
        // This account may have more to prune: the next step starts with it again.
        spent.then_some(PruneStep {
            deleted: self.deleted,
            photos: self.photos,
            next: Some(self.last - 1),
        })
    }

    /// The step's outcome once every candidate was looked at.
    pub fn finish(self) -> PruneStep {
        let more = self.seen == PRUNE_ACCOUNTS as usize;
        PruneStep {
            deleted: self.deleted,
            photos: self.photos,
            next: more.then_some(self.last),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pruning_keeps_the_last_versions_and_the_young_ones_and_goes_in_steps() {
        let r = HistoryRetention {
            versions: 3,
            days: 1,
            max_versions: 6,
            batch: 100,
        };
        // At version 10 with the whole history: versions 8-10 stay.
        assert_eq!(window_end(&r, 10, 1, 100), 8);
        assert_eq!(next_floor(&r, 10, 1, 100, None), 8);
        // A young version 5 stops the floor there; a budget of 2 stops it at 3.
        assert_eq!(next_floor(&r, 10, 1, 100, Some(5)), 5);
        assert_eq!(next_floor(&r, 10, 1, 2, None), 3);
        // Never down, and nothing while there are no more than three versions.
        assert_eq!(next_floor(&r, 10, 8, 100, None), 8);
        // Young versions beyond the last six go all the same (versions 5-10 stay).
        assert_eq!(next_floor(&r, 10, 1, 100, Some(2)), 5);
        assert_eq!(next_floor(&r, 10, 1, 2, Some(2)), 3);
        assert_eq!(next_floor(&r, 3, 1, 100, None), 1);
    }

    #[test]
    fn a_step_stops_when_its_budget_is_spent_and_resumes_with_that_account() {
        let from = PruneFrom {
            retention: HistoryRetention {
                versions: 3,
                days: 1,
                max_versions: 100,
                batch: 5,
            },
            cutoff: "t".to_owned(),
            after: 0,
            photo_cutoff: 0,
        };
        let mut walk = PruneWalk::new(&from);
        // Account 7 at version 10, floor 1: versions 1-5 may go (the budget), none young.
        let window = walk.window(7, 10, 1);
        assert_eq!((window.floor, window.end), (1, 6));
        assert_eq!(walk.raise(&window, None), Some(6));
        // A young version 1 keeps everything.
        assert_eq!(walk.raise(&window, Some(1)), None);
        assert_eq!(
            walk.deleted(5, 0),
            Some(PruneStep {
                deleted: 5,
                photos: 0,
                next: Some(6)
            })
        );
    }

    #[test]
    fn a_step_over_fewer_accounts_than_its_limit_ends_the_sweep() {
        let from = PruneFrom {
            retention: HistoryRetention::default(),
            cutoff: "t".to_owned(),
            after: 3,
            photo_cutoff: 0,
        };
        let mut walk = PruneWalk::new(&from);
        walk.window(4, 200, 1);
        assert_eq!(walk.deleted(99, 3), None);
        assert_eq!(
            walk.finish(),
            PruneStep {
                deleted: 99,
                photos: 3,
                next: None
            }
        );
    }

    #[test]
    fn a_step_deletes_a_bounded_number_of_photos_and_resumes_with_that_account() {
        let from = PruneFrom {
            retention: HistoryRetention::default(),
            cutoff: "t".to_owned(),
            after: 0,
            photo_cutoff: 1_000,
        };
        let mut walk = PruneWalk::new(&from);
        assert_eq!(walk.photo_cutoff(), 1_000);
        assert_eq!(walk.photo_budget(), 32);
        // Account 2 had 20 old unnamed photos, account 5 more than the rest of the budget.
        walk.window(2, 1, 1);
        assert_eq!(walk.deleted(0, 20), None);
        assert_eq!(walk.photo_budget(), 12, "what account 5 may delete");
        walk.window(5, 1, 1);
        assert_eq!(
            walk.deleted(1, 12),
            Some(PruneStep {
                deleted: 1,
                photos: 32,
                next: Some(4)
            }),
            "the next step starts with account 5 again"
        );
        assert_eq!(walk.photo_budget(), 0);
    }
}
