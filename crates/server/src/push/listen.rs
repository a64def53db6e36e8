//! One `LISTEN` connection per instance: every write applied through any instance is
//! announced with `NOTIFY` in its transaction, and this connection hands it to the event
//! streams of this instance. When the connection is lost, notifications sent meanwhile are
//! lost with it: once it listens again, it reads the current version of every account with
//! an open stream here and announces it, so a client that missed a change fetches it, and no
//! stream is ended (ending them all made every client of the instance reconnect at once).
//! Only if that read fails are the streams ended, for their clients to re-check. At start-up
//! event streams wait for the first `LISTEN` ([`Hub::wait_listening`]), so none opens
//! before it and misses a change.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::{mpsc, watch};
use tokio_postgres::{AsyncMessage, NoTls};

use super::Hub;
use crate::store::AccountId;
use crate::store::postgres::{NOTIFY_CHANNEL, client_config};

/// The wait before reconnecting, doubling to [`MAX_WAIT`] while the database is away.
const FIRST_WAIT: Duration = Duration::from_millis(100);
const MAX_WAIT: Duration = Duration::from_secs(5);

/// The `application_name` of the `LISTEN` connection, to tell it apart in
/// `pg_stat_activity`.
pub const LISTEN_APPLICATION_NAME: &str = "outpost-listen";

/// A notification's payload, `account:version`.
pub fn parse_payload(payload: &str) -> Option<(AccountId, u64)> {
    let (account, version) = payload.split_once(':')?;
    Some((account.parse().ok()?, version.parse().ok()?))
}

/// Listens until `shutdown` turns true, reconnecting whenever the connection is lost.
pub async fn run(url: String, hub: Arc<Hub>, mut shutdown: watch::Receiver<bool>) {
    let mut config = match client_config(&url) {
        Ok(config) => config,
        Err(error) => {
            tracing::error!(%error, "the database URL cannot be parsed; push across instances is off");
            return;
        }
    };
    config.application_name(LISTEN_APPLICATION_NAME);
    let mut wait = FIRST_WAIT;
    loop {
        let lost = tokio::select! {
            lost = listen_once(&config, &hub, &mut wait) => lost,
            _ = shutdown.wait_for(|down| *down) => return,
        };
        tracing::warn!(error = %lost, "the LISTEN connection to the database ended; reconnecting");
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            _ = shutdown.wait_for(|down| *down) => return,
        }
        wait = (wait * 2).min(MAX_WAIT);
    }
}

/// One connection: `LISTEN`, then every notification to the hub until the connection ends.
/// Returns why it ended.
async fn listen_once(config: &tokio_postgres::Config, hub: &Hub, wait: &mut Duration) -> String {
    let (client, mut connection) = match config.connect(NoTls).await {
        Ok(pair) => pair,
        Err(error) => return error.to_string(),
    };
    let (tx, mut rx) = mpsc::unbounded_channel();
    // The connection yields notifications only while it is polled, on its own task.
    let driver = tokio::spawn(async move {
        let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(message) = messages.next().await {
            let forwarded = match message {
                Ok(AsyncMessage::Notification(n)) => tx.send(Ok(n.payload().to_owned())),
                Ok(_) => Ok(()),
                Err(error) => tx.send(Err(error.to_string())),
            };
            if forwarded.is_err() {
                break;
            }
        }
    });
    if let Err(error) = client
        .batch_execute(&format!("LISTEN {NOTIFY_CHANNEL}"))
        .await
    {
        driver.abort();
        return error.to_string();
    }
    // Streams open while the connection was lost missed what was committed meanwhile:
    // announce what they may have missed. (At start-up no stream is open yet: streams wait
    // for the first `LISTEN`, see [`Hub::wait_listening`].)
    if hub.set_listening()
        && let Err(error) = announce_current(&client, hub).await
    {
        tracing::warn!(%error, "the versions missed while not listening could not be read");
        hub.disconnect_all();
    }
    *wait = FIRST_WAIT;
    let ended = loop {
        match rx.recv().await {
            Some(Ok(payload)) => match parse_payload(&payload) {
                Some((account, version)) => hub.publish(account, version),
                None => tracing::warn!(%payload, "a notification that is not account:version"),
            },
            Some(Err(error)) => break error,
            None => break "the connection closed".to_owned(),
        }
    };
    drop(client);
    driver.abort();
    ended
}

/// Announces the current version of every account with an open stream here (read after
/// `LISTEN`, so nothing committed since goes unannounced).
async fn announce_current(
    client: &tokio_postgres::Client,
    hub: &Hub,
) -> Result<(), tokio_postgres::Error> {
    let accounts = hub.account_ids();
    if accounts.is_empty() {
        return Ok(());
    }
    let rows = client
        .query(
            "SELECT account_id, version FROM profiles WHERE account_id = ANY($1)",
            &[&accounts],
        )
        .await?;
    for row in rows {
        let (account, version): (AccountId, i64) = (row.try_get(0)?, row.try_get(1)?);
        hub.publish(account, u64::try_from(version).unwrap_or(0));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_name_an_account_and_a_version() {
        assert_eq!(parse_payload("12:7"), Some((12, 7)));
        assert_eq!(parse_payload("12"), None);
        assert_eq!(parse_payload("x:7"), None);
        assert_eq!(parse_payload("12:-1"), None);
    }
}
