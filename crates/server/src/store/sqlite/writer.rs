//! The one writer connection, owned by a dedicated thread that takes write jobs from a queue.
//!
//! Writers queue in order instead of racing for SQLite's write lock (where the losers would
//! sleep in the busy handler). Jobs that queued up while a commit was in flight are run
//! together in one transaction (group commit): each job in its own savepoint, so a failing
//! job is rolled back alone, and one `COMMIT` (one fsync with `synchronous=FULL`) for all.
//! No job is answered before that commit returns, so a successful answer still means "on
//! disk", and a failed commit fails every job of the batch (none of them was written) --
//! also the jobs that failed on their own: what they read, such as the current profile a
//! stale write is answered with, may have been written by an earlier job of the batch, and
//! that version never existed once the batch is rolled back.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc;
use std::thread::JoinHandle;

use rusqlite::Connection;
use tokio::sync::oneshot;

use crate::store::StoreError;

/// At most this many jobs share one transaction.
const MAX_BATCH: usize = 128;

/// A queued write: runs inside the batch transaction, is answered after it ends.
trait Job: Send {
    /// Runs the write; `true` when its changes are to be kept.
    fn run(&mut self, conn: &Connection) -> bool;
    /// Answers the caller: with the job's own result, `Ok` or `Err`, if the batch committed,
    /// else with the batch's error (see the module documentation for why even an `Err`).
    fn finish(self: Box<Self>, batch: &Result<(), String>);
}

struct Pending<T, F> {
    work: Option<F>,
    result: Option<Result<T, StoreError>>,
    reply: Option<oneshot::Sender<Result<T, StoreError>>>,
}

impl<T, F> Job for Pending<T, F>
where
    T: Send,
    F: FnOnce(&Connection) -> Result<T, StoreError> + Send,
{
    fn run(&mut self, conn: &Connection) -> bool {
        let Some(work) = self.work.take() else {
            return false;
        };
        let result = catch_unwind(AssertUnwindSafe(|| work(conn)))
            .unwrap_or_else(|_| Err(StoreError::Database("a write panicked".to_owned())));
        let ok = result.is_ok();
        self.result = Some(result);
        ok
    }

    fn finish(self: Box<Self>, batch: &Result<(), String>) {
        let answer = match (batch, self.result) {
            (Err(e), _) => Err(StoreError::Database(e.clone())),
            (Ok(()), Some(result)) => result,
            (Ok(()), None) => Err(StoreError::Database("write was not run".to_owned())),
        };
        // The caller may have gone away; nothing to do then.
        if let Some(reply) = self.reply {
            let _ = reply.send(answer);
        }
    }
}

/// A job for `work` and the receiver of its answer.
fn job<T, F>(work: F) -> (Box<dyn Job>, oneshot::Receiver<Result<T, StoreError>>)
where
    T: Send + 'static,
    F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
{
    let (reply, answer) = oneshot::channel();
    let job = Box::new(Pending {
        work: Some(work),
        result: None,
        reply: Some(reply),
    });
    (job, answer)
}

/// The handle of the writer thread. Dropping it lets the thread finish the queued jobs,
/// close the connection and exit, and waits for that.
pub(super) struct Writer {
    jobs: Option<mpsc::Sender<Box<dyn Job>>>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer").finish_non_exhaustive()
    }
}

impl Writer {
    /// Starts the writer thread on `conn` (opened with the write pragmas).
    pub(super) fn start(conn: Connection) -> Result<Self, StoreError> {
        let (jobs, queue) = mpsc::channel::<Box<dyn Job>>();
        let thread = std::thread::Builder::new()
            .name("sqlite-writer".to_owned())
            .spawn(move || serve(&conn, &queue))
            .map_err(|e| StoreError::Database(format!("cannot start the writer thread: {e}")))?;
        Ok(Self {
            jobs: Some(jobs),
            thread: Some(thread),
        })
    }

    /// Runs `work` on the writer connection inside a write transaction and returns its
    /// result once the transaction is committed. An `Err` from `work` rolls back its
    /// changes only. Resolves after the jobs queued before it, and after the commit.
    pub(super) async fn write<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let (job, answer) = job(work);
        let stopped = || StoreError::Database("the writer thread stopped".to_owned());
        self.jobs
            .as_ref()
            .ok_or_else(stopped)?
            .send(job)
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        drop(self.jobs.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The writer thread: batches whatever is queued, until every sender is gone.
fn serve(conn: &Connection, queue: &mpsc::Receiver<Box<dyn Job>>) {
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        run_batch(conn, batch);
    }
}

fn exec(conn: &Connection, sql: &str) -> Result<(), String> {
    conn.prepare_cached(sql)
        .and_then(|mut stmt| stmt.execute([]))
        .map(drop)
        .map_err(|e| e.to_string())
}

/// One transaction for the whole batch, one savepoint per job, then every answer.
fn run_batch(conn: &Connection, mut batch: Vec<Box<dyn Job>>) {
    let outcome = (|| {
        exec(conn, "BEGIN IMMEDIATE")?;
        for job in &mut batch {
            exec(conn, "SAVEPOINT job")?;
            if !job.run(conn) {
                exec(conn, "ROLLBACK TO job")?;
            }
            exec(conn, "RELEASE job")?;
            // Some errors (disk full, I/O) make SQLite roll the whole transaction back; the
            // jobs after it must not run in autocommit mode as if nothing happened.
            if conn.is_autocommit() {
                return Err("the transaction was rolled back".to_owned());
            }
        }
        exec(conn, "COMMIT")
    })();
    if let Err(e) = &outcome {
        tracing::error!(error = %e, jobs = batch.len(), "write batch failed");
        if !conn.is_autocommit() {
            let _ = exec(conn, "ROLLBACK");
        }
    }
    for job in batch {
        job.finish(&outcome);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use outpost_core::wire::ServerProfile;

    use super::*;

    fn value(conn: &Connection) -> Result<u64, StoreError> {
        Ok(conn.query_row("SELECT v FROM t", [], |r| r.get(0))?)
    }

    /// Where a test job's answer arrives.
    type Answer = oneshot::Receiver<Result<u64, StoreError>>;

    /// Job 1 writes version 2; job 2 expects version 1, so it fails on its own with
    /// `Stale`, carrying the version 2 that job 1 wrote in the same batch.
    fn two_jobs(conn: &Connection) -> (Answer, Answer) {
        let (write, written) = job(|c| {
            c.execute("UPDATE t SET v = 2", [])?;
            value(c)
        });
        let (stale, refused) = job(|c| {
            let version = value(c)?;
            Err(StoreError::Stale(Box::new(ServerProfile {
                name: "n".into(),
                photo_url: String::new(),
                version,
                updated_at: "t".into(),
                mutation_id: None,
                field_versions: None,
            })))
        });
        run_batch(conn, vec![write, stale]);
        (written, refused)
    }

    fn table() -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (v INTEGER NOT NULL); INSERT INTO t VALUES (1);")
            .unwrap();
        conn
    }

    #[test]
    fn a_committed_batch_answers_each_job_with_its_own_result() {
        let conn = table();
        let (written, refused) = two_jobs(&conn);
        assert_eq!(written.blocking_recv().unwrap().unwrap(), 2);
        assert!(
            matches!(refused.blocking_recv().unwrap(), Err(StoreError::Stale(p)) if p.version == 2)
        );
        assert_eq!(value(&conn).unwrap(), 2);
    }

    #[test]
    fn a_failed_commit_fails_every_job_also_one_that_failed_alone() {
        let conn = table();
        // Returning true from the commit hook turns the COMMIT into a rollback.
        conn.commit_hook(Some(|| true));
        let (written, refused) = two_jobs(&conn);
        // Version 2 never committed: no answer may carry it, not even the stale one's.
        assert!(matches!(
            written.blocking_recv().unwrap(),
            Err(StoreError::Database(_))
        ));
        assert!(matches!(
            refused.blocking_recv().unwrap(),
            Err(StoreError::Database(_))
        ));
        conn.commit_hook(None::<fn() -> bool>);
        assert!(conn.is_autocommit());
        assert_eq!(value(&conn).unwrap(), 1);
    }
}
