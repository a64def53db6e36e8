//! History retention, off the request path: every [`Config::prune_every`], one sweep over the
//! accounts in short steps (each one transaction of at most `batch` deleted versions), so the
//! `profile_history` table keeps the last `--history-versions` of each profile and every
//! version younger than `--history-days`, and no more.
//!
//! Pruning a version forgets its mutation id. What a late repeat of such a write is answered
//! (409 `history_pruned`, never 412) is decided in the stores' `update_profile` with
//! `history_floor`; see [`crate::store::outcome_forgotten`].
//!
//! [`Config::prune_every`]: crate::Config::prune_every

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::store::{AnyStore, HistoryRetention, PruneFrom, Store, StoreError};

/// One sweep over every account; returns how many versions were deleted.
pub async fn prune(store: &impl Store, retention: HistoryRetention) -> Result<u64, StoreError> {
    let mut from = PruneFrom {
        retention,
        // Versions older than this may be pruned.
        cutoff: crate::clock::days_ago_rfc3339(retention.days),
        after: 0,
    };
    let mut deleted = 0;
    loop {
        let step = store.prune_history(from.clone()).await?;
        deleted += step.deleted;
        match step.next {
            Some(next) => from.after = next,
            None => return Ok(deleted),
        }
        // Requests come first: each step is short, and the next one waits its turn.
        tokio::task::yield_now().await;
    }
}

/// Sweeps every `every` until shutdown; failures are logged and tried again next time.
pub async fn run(
    store: Arc<AnyStore>,
    retention: HistoryRetention,
    every: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            _ = shutdown.changed() => return,
        }
        match prune(store.as_ref(), retention).await {
            Ok(0) => {}
            Ok(deleted) => tracing::info!(deleted, "pruned profile history"),
            Err(error) => tracing::warn!(%error, "pruning the profile history failed"),
        }
    }
}
