//! The session reads of `GET /api/profile`, batched: the reads waiting at one moment go to
//! PostgreSQL as one statement, on a connection kept for them.
//!
//! Each read alone would cost a round trip, a wake-up of a backend process and one of a
//! runtime worker, and on a small machine that is most of its cost. The reader task takes
//! every read queued when it is free (none is ever held back to fill a batch, so a lone read
//! goes at once) and looks up all their sessions with `token_hash = ANY($1)`, an index scan.
//! Each read gets exactly the answer it would get alone: its own session, checked against its
//! own `now`, and a statement sees every write committed before it started, on any instance.
//!
//! One task and one connection: reads arriving while a batch is in PostgreSQL make up the
//! next, so batches grow with the load (17 reads on average at 64 concurrent requests here).
//! A second connection halved the batches and cost a fifth of the throughput.
//!
//! A lost connection fails the batch in flight, as a lost pooled connection fails its
//! request, and the next batch connects again.

use std::collections::HashMap;

use outpost_core::wire::ServerProfile;
use tokio::sync::{mpsc, oneshot};
use tokio_postgres::{Client, NoTls, Statement};

use super::queries;
use crate::store::{AccountId, SessionAt, StoreError};

/// The `application_name` of the session-read connection, to tell it apart in
/// `pg_stat_activity`.
pub const READERS_APPLICATION_NAME: &str = "outpost-session-reads";

/// The most reads in one statement; more wait for the next batch.
const MAX_BATCH: usize = 128;

/// How long opening the connection or a batch may take before it is given up: a database
/// that stopped answering must not hold every later read of the instance behind it.
const READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

type Answer = Result<Option<(AccountId, ServerProfile)>, StoreError>;

/// One queued read.
struct Lookup {
    token_hash: [u8; 32],
    now_unix: i64,
    reply: oneshot::Sender<Answer>,
}

/// The queue of session reads of one instance; its reader task ends when it is dropped.
pub struct Readers {
    queue: mpsc::UnboundedSender<Lookup>,
}

impl Readers {
    /// Starts the reader task on the current runtime for the database of `config`; it
    /// connects on first use.
    pub fn start(mut config: tokio_postgres::Config) -> Self {
        config.application_name(READERS_APPLICATION_NAME);
        let (queue, receiver) = mpsc::unbounded_channel();
        tokio::spawn(read_batches(config, receiver));
        Self { queue }
    }

    /// [`crate::store::Store::session_profile`], in the next batch.
    pub async fn session_profile(&self, session: SessionAt) -> Answer {
        let (reply, answer) = oneshot::channel();
        let lookup = Lookup {
            token_hash: session.token_hash,
            now_unix: session.now_unix,
            reply,
        };
        let stopped = || StoreError::Database("the session reader stopped".to_owned());
        self.queue.send(lookup).map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

/// One connection with the batched read prepared on it.
struct Connection {
    client: Client,
    statement: Statement,
}

impl Connection {
    async fn open(config: &tokio_postgres::Config) -> Result<Self, StoreError> {
        let (client, connection) = config.connect(NoTls).await?;
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::warn!(%error, "a session read connection to the database ended");
            }
        });
        // Only lookups by primary key run here. On a small table the planner would rather
        // scan it whole for every batch than use the index, which costs more than the reads.
        client.batch_execute("SET enable_seqscan = off").await?;
        let statement = client.prepare(queries::SESSION_PROFILES).await?;
        Ok(Self { client, statement })
    }

    /// The answer to every lookup of `batch`, in order.
    async fn read(
        &self,
        batch: &[Lookup],
    ) -> Result<Vec<Option<(AccountId, ServerProfile)>>, StoreError> {
        let hashes: Vec<&[u8]> = batch.iter().map(|l| &l.token_hash[..]).collect();
        let rows = self.client.query(&self.statement, &[&hashes]).await?;
        let mut sessions = HashMap::with_capacity(rows.len());
        for row in &rows {
            let session = queries::session_profiles_row(row)?;
            sessions.insert(session.token_hash, session);
        }
        Ok(batch
            .iter()
            .map(|lookup| {
                sessions
                    .get(&lookup.token_hash)
                    .filter(|s| s.expires_unix > lookup.now_unix)
                    .map(|s| (s.account, s.profile.clone()))
            })
            .collect())
    }
}

/// The reader task: takes every lookup queued when it is free, answers them with one
/// statement, and goes on until the queue is dropped.
async fn read_batches(config: tokio_postgres::Config, mut queue: mpsc::UnboundedReceiver<Lookup>) {
    let mut connection: Option<Connection> = None;
    let mut batch = Vec::with_capacity(MAX_BATCH);
    loop {
        if queue.recv_many(&mut batch, MAX_BATCH).await == 0 {
            return;
        }
        let open = match connection.take().filter(|c| !c.client.is_closed()) {
            Some(open) => open,
            None => match tokio::time::timeout(READ_TIMEOUT, Connection::open(&config)).await {
                Ok(Ok(opened)) => opened,
                Ok(Err(error)) => {
                    fail(&mut batch, &error);
                    continue;
                }
                Err(_) => {
                    let error = StoreError::Database(
                        "opening the session read connection timed out".to_owned(),
                    );
                    fail(&mut batch, &error);
                    continue;
                }
            },
        };
        match tokio::time::timeout(READ_TIMEOUT, open.read(&batch)).await {
            Ok(Ok(answers)) => {
                for (lookup, answer) in batch.drain(..).zip(answers) {
                    // A request that gave up no longer waits for its answer.
                    let _ = lookup.reply.send(Ok(answer));
                }
                connection = Some(open);
            }
            Ok(Err(error)) => {
                fail(&mut batch, &error);
                connection = Some(open);
            }
            // The connection is dropped: the next batch does not queue behind this one.
            Err(_) => fail(
                &mut batch,
                &StoreError::Database("the session read timed out".to_owned()),
            ),
        }
    }
}

/// Answers every lookup of `batch` with `error`, emptying it.
fn fail(batch: &mut Vec<Lookup>, error: &StoreError) {
    let message = match error {
        StoreError::Database(message) => message.clone(),
        other => other.to_string(),
    };
    for lookup in batch.drain(..) {
        let _ = lookup
            .reply
            .send(Err(StoreError::Database(message.clone())));
    }
}
