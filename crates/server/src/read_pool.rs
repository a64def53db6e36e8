//! A few long-lived threads for short blocking reads of the store.
//!
//! Under load they take queued reads one after another without parking, where
//! `spawn_blocking` wakes a pooled thread (a futex wake and a context switch) for every call.
//! There are as many threads as the store has read connections, so no read waits for one.

use std::sync::{Arc, Mutex, PoisonError, mpsc};

use tokio::sync::oneshot;

type Job = Box<dyn FnOnce() + Send>;

/// The handle of the read threads; they exit when it is dropped.
#[derive(Debug)]
pub struct ReadPool {
    jobs: mpsc::Sender<Job>,
}

impl ReadPool {
    /// Starts `threads` read threads (at least one).
    pub fn start(threads: usize) -> std::io::Result<Self> {
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for i in 0..threads.max(1) {
            let queue = Arc::clone(&queue);
            std::thread::Builder::new()
                .name(format!("store-read-{i}"))
                .spawn(move || {
                    loop {
                        // The lock is held only while waiting for the next job.
                        let job = queue.lock().unwrap_or_else(PoisonError::into_inner).recv();
                        match job {
                            Ok(job) => job(),
                            Err(_) => return,
                        }
                    }
                })?;
        }
        Ok(Self { jobs })
    }

    /// Runs `f` on a read thread and returns its result; `None` if the thread could not run
    /// it (the pool is gone or `f` panicked).
    pub async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Option<T> {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move || {
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
            if let Ok(value) = result {
                let _ = tx.send(value);
            }
        });
        self.jobs.send(job).ok()?;
        rx.await.ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn runs_jobs_and_survives_a_panic() {
        let pool = ReadPool::start(2).expect("threads");
        assert_eq!(pool.run(|| 6 * 7).await, Some(42));
        assert_eq!(pool.run(|| -> u8 { panic!("boom") }).await, None);
        let results = futures_util::future::join_all((0..100).map(|i| pool.run(move || i))).await;
        assert_eq!(results, (0..100).map(Some).collect::<Vec<_>>());
    }
}
