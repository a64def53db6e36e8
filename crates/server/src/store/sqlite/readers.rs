//! A fixed pool of read-only connections. WAL lets them read while the writer writes; a
//! caller that finds none free waits for one instead of opening another, so connections
//! (and their prepared statements) live as long as the store.

use std::sync::{Condvar, Mutex, PoisonError};

use rusqlite::Connection;

use crate::store::StoreError;

/// Read connections, opened on demand up to a fixed number.
#[derive(Debug)]
pub(super) struct Readers {
    state: Mutex<PoolState>,
    freed: Condvar,
    max: usize,
}

#[derive(Debug)]
struct PoolState {
    idle: Vec<Connection>,
    /// Connections in existence: idle plus lent out.
    open: usize,
}

impl Readers {
    /// An empty pool that opens at most `max` connections.
    pub(super) fn new(max: usize) -> Self {
        Self {
            state: Mutex::new(PoolState {
                idle: Vec::with_capacity(max),
                open: 0,
            }),
            freed: Condvar::new(),
            max: max.max(1),
        }
    }

    /// Runs `f` on a free connection, opening one with `connect` if the pool is not full, or
    /// else waiting until one is returned. Blocking.
    pub(super) fn with<T>(
        &self,
        connect: impl FnOnce() -> Result<Connection, StoreError>,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let conn = {
            let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            loop {
                if let Some(conn) = state.idle.pop() {
                    break Some(conn);
                }
                if state.open < self.max {
                    state.open += 1;
                    break None;
                }
                state = self
                    .freed
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner);
            }
        };
        let conn = match conn {
            Some(conn) => conn,
            None => match connect() {
                Ok(conn) => conn,
                Err(e) => {
                    self.forget_one();
                    return Err(e);
                }
            },
        };
        self.lend(conn, f)
    }

    /// Runs `f` on an idle connection now, on the caller's thread; `None` (and `f` not run)
    /// when none is idle. Never waits and never opens a connection.
    pub(super) fn try_with<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Option<Result<T, StoreError>> {
        let conn = self
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .idle
            .pop()?;
        Some(self.lend(conn, f))
    }

    /// Runs `f` on `conn`, lent out of the pool, then gives it back; a connection left inside
    /// a transaction (should not happen) is dropped, not reused, and so is one whose borrower
    /// panicked, its slot freed either way.
    fn lend<T>(
        &self,
        conn: Connection,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let slot = SlotGuard(self);
        // Declared after the guard: on a panic the connection closes before its slot is freed.
        let conn = conn;
        let result = f(&conn);
        std::mem::forget(slot);
        if conn.is_autocommit() {
            self.state
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .idle
                .push(conn);
            self.freed.notify_one();
        } else {
            drop(conn);
            self.forget_one();
        }
        result
    }

    /// Frees the slot of a connection that was not opened or was dropped.
    fn forget_one(&self) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.open = state.open.saturating_sub(1);
        drop(state);
        self.freed.notify_one();
    }
}

/// Frees its pool's slot when dropped: kept while a connection is lent out, and dropped only if
/// the borrower panics (a slot kept by a panic would leave the pool one connection short for
/// good); otherwise [`Readers::lend`] forgets it and gives the connection back itself.
struct SlotGuard<'a>(&'a Readers);

impl Drop for SlotGuard<'_> {
    fn drop(&mut self) {
        self.0.forget_one();
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[test]
    fn never_opens_more_than_max_and_reuses() {
        let pool = Arc::new(Readers::new(2));
        let opened = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let pool = Arc::clone(&pool);
                let opened = Arc::clone(&opened);
                std::thread::spawn(move || {
                    for _ in 0..50 {
                        pool.with(
                            || {
                                opened.fetch_add(1, Ordering::SeqCst);
                                Ok(Connection::open_in_memory()?)
                            },
                            |c| Ok(c.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))?),
                        )
                        .unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert!(opened.load(Ordering::SeqCst) <= 2);
    }

    fn one(c: &Connection) -> Result<i64, StoreError> {
        Ok(c.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))?)
    }

    fn open() -> Result<Connection, StoreError> {
        Ok(Connection::open_in_memory()?)
    }

    #[test]
    fn try_with_runs_only_on_an_idle_connection_and_returns_it() {
        let pool = Readers::new(1);
        assert!(
            pool.try_with(one).is_none(),
            "none opened yet: never opens one"
        );
        assert_eq!(pool.with(open, one).unwrap(), 1);
        assert_eq!(pool.try_with(one).unwrap().unwrap(), 1);
        // Taken and given back: the one connection is idle again, and no other was opened.
        assert_eq!(pool.try_with(one).unwrap().unwrap(), 1);
        assert_eq!(pool.state.lock().unwrap().open, 1);
    }

    #[test]
    fn a_read_that_panics_frees_its_slot() {
        let pool = Readers::new(1);
        assert_eq!(pool.with(open, one).unwrap(), 1);
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            pool.try_with(|_| -> Result<(), StoreError> { panic!("a bug in a read") })
        }));
        assert!(panicked.is_err());
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            pool.with(open, |_| -> Result<(), StoreError> {
                panic!("a bug in a read")
            })
        }));
        assert!(panicked.is_err());
        // Both connections were closed and their slots freed: the next read opens a new one
        // instead of waiting forever for a connection that will never come back.
        assert_eq!(pool.state.lock().unwrap().open, 0);
        assert_eq!(pool.with(open, one).unwrap(), 1);
    }
}
