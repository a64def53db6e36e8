//! History retention, off the request path: every [`Config::prune_every`], one sweep over the
//! accounts in short steps (each one transaction of at most `batch` deleted versions), so the
//! `profile_history` table keeps the last `--history-versions` of each profile and every
//! version younger than `--history-days`, and no more.
//!
//! Pruning a version forgets its mutation id. What a late repeat of such a write is answered
//! (409 `history_pruned`, never 412) is decided in the stores' `update_profile` with
//! `history_floor`; see [`crate::store::outcome_forgotten`].
//!
//! The same pass removes the uploaded photos that no kept version names any more, once they
//! are older than [`Config::photo_grace`] (see `store/retention.rs`).
//!
//! [`Config::prune_every`]: crate::Config::prune_every
//! [`Config::photo_grace`]: crate::Config::photo_grace

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::store::{AnyStore, HistoryRetention, PruneFrom, Store, StoreError};

/// What one sweep deleted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pruned {
    /// Versions of profiles.
    pub versions: u64,
    /// Uploaded photos.
    pub photos: u64,
}

/// One sweep over every account: the versions `retention` does not keep, and the photos no
/// kept version names that were last uploaded more than `photo_grace` ago.
pub async fn prune(
    store: &impl Store,
    retention: HistoryRetention,
    photo_grace: Duration,
) -> Result<Pruned, StoreError> {
    let grace = i64::try_from(photo_grace.as_secs()).unwrap_or(i64::MAX);
    let mut from = PruneFrom {
        retention,
        // Versions older than this may be pruned.
        cutoff: crate::clock::days_ago_rfc3339(retention.days),
        after: 0,
        photo_cutoff: crate::clock::now_unix().saturating_sub(grace),
    };
    let mut pruned = Pruned::default();
    loop {
        let step = store.prune_history(from.clone()).await?;
        pruned.versions += step.deleted;
        pruned.photos += step.photos;
        match step.next {
            Some(next) => from.after = next,
            None => return Ok(pruned),
        }
        // Requests come first: each step is short, and the next one waits its turn.
        tokio::task::yield_now().await;
    }
}

/// Sweeps every `every` until shutdown; failures are logged and tried again next time.
pub async fn run(
    store: Arc<AnyStore>,
    retention: HistoryRetention,
    photo_grace: Duration,
    every: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            _ = shutdown.changed() => return,
        }
        match prune(store.as_ref(), retention, photo_grace).await {
            Ok(Pruned {
                versions: 0,
                photos: 0,
            }) => {}
            Ok(Pruned { versions, photos }) => {
                tracing::info!(deleted = versions, photos, "pruned profile history");
            }
            Err(error) => tracing::warn!(%error, "pruning the profile history failed"),
        }
    }
}
