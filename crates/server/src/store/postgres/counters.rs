//! Fixed-window counters in PostgreSQL, shared by every instance: the limits on failed
//! sign-ins and on accounts created per address hold for the whole service, not N times over
//! with N instances. Each operation is one statement, so concurrent instances count exactly.
//! A database failure lets the request through (and is logged): the request itself then
//! needs the same database and fails on its own.

use deadpool_postgres::Pool;

use crate::clock::now_unix;

/// Expired rows are deleted about once per this many recorded events.
const CLEANUP_EVERY: u8 = 64;

/// One scope's counters (`"login"`, `"signup"`).
#[derive(Clone)]
pub struct SharedCounter {
    pool: Pool,
    scope: &'static str,
    allowed: i32,
    window_secs: i64,
}

impl std::fmt::Debug for SharedCounter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedCounter")
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

impl SharedCounter {
    /// `allowed` events per key per `window`, in `scope`.
    pub fn new(pool: Pool, scope: &'static str, allowed: u32, window: std::time::Duration) -> Self {
        Self {
            pool,
            scope,
            allowed: i32::try_from(allowed).unwrap_or(i32::MAX),
            window_secs: i64::try_from(window.as_secs().max(1)).unwrap_or(i64::MAX),
        }
    }

    /// Counts one event for `key` and refuses it (`Err(seconds to wait)`) if that took the key
    /// past its window's allowance.
    pub async fn admit(&self, key: &str) -> Result<(), u64> {
        let counted = self.count(key).await;
        self.maybe_clean_up().await;
        match counted {
            Ok((count, window_start)) if count > self.allowed => {
                let wait = window_start + self.window_secs - now_unix();
                Err(u64::try_from(wait).unwrap_or(1).max(1))
            }
            Ok(_) => Ok(()),
            Err(error) => {
                tracing::warn!(scope = self.scope, %error, "shared limit not counted");
                Ok(())
            }
        }
    }

    /// Takes back one event of `key` (an attempt counted by [`Self::admit`] that was right).
    pub async fn forgive(&self, key: &str) {
        let forgiven = async {
            let client = self.pool.get().await.map_err(|e| e.to_string())?;
            client
                .execute(
                    "UPDATE rate_counts SET count = count - 1 \
                     WHERE scope = $1 AND key = $2 AND count > 0",
                    &[&self.scope, &key],
                )
                .await
                .map_err(|e| e.to_string())
        }
        .await;
        if let Err(error) = forgiven {
            tracing::warn!(scope = self.scope, %error, "shared limit not taken back");
        }
    }

    /// Forgets `key` (a successful sign-in clears its username's failures).
    pub async fn clear(&self, key: &str) {
        let cleared = async {
            let client = self.pool.get().await.map_err(|e| e.to_string())?;
            client
                .execute(
                    "DELETE FROM rate_counts WHERE scope = $1 AND key = $2",
                    &[&self.scope, &key],
                )
                .await
                .map_err(|e| e.to_string())
        }
        .await;
        if let Err(error) = cleared {
            tracing::warn!(scope = self.scope, %error, "shared limit not cleared");
        }
    }

    /// One upsert: a new window at 1, or one more in the current one. The count and the
    /// start of the window it is in.
    async fn count(&self, key: &str) -> Result<(i32, i64), String> {
        let client = self.pool.get().await.map_err(|e| e.to_string())?;
        let statement = client
            .prepare_cached(
                "INSERT INTO rate_counts (scope, key, window_start, count) VALUES ($1, $2, $3, 1) \
                 ON CONFLICT (scope, key) DO UPDATE SET \
                 count = CASE WHEN rate_counts.window_start <= $3 - $4 THEN 1 \
                              ELSE rate_counts.count + 1 END, \
                 window_start = CASE WHEN rate_counts.window_start <= $3 - $4 THEN $3 \
                                     ELSE rate_counts.window_start END \
                 RETURNING count, window_start",
            )
            .await
            .map_err(|e| e.to_string())?;
        let row = client
            .query_one(
                &statement,
                &[&self.scope, &key, &now_unix(), &self.window_secs],
            )
            .await
            .map_err(|e| e.to_string())?;
        Ok((
            row.try_get(0).map_err(|e| e.to_string())?,
            row.try_get(1).map_err(|e| e.to_string())?,
        ))
    }

    async fn maybe_clean_up(&self) {
        let mut byte = [0u8; 1];
        if getrandom::fill(&mut byte).is_err() || byte[0] % CLEANUP_EVERY != 0 {
            return;
        }
        if let Ok(client) = self.pool.get().await {
            let _ = client
                .execute(
                    "DELETE FROM rate_counts WHERE scope = $1 AND window_start <= $2 - $3",
                    &[&self.scope, &now_unix(), &self.window_secs],
                )
                .await;
        }
    }
}
