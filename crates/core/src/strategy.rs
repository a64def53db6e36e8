//! The guide's reading and writing strategies: the choices, and the read decisions the
//! repository does not leave to the sync machine.
//!
//! The repository in the app performs the I/O (fetch, IndexedDB) and asks [`fallback_read`]
//! and [`local_only_read`] what to show and what to store, so those are tested here without a
//! browser. The stream read is the machine's own refresh (the stored copy is shown at once,
//! the answer when it comes), and both writes go through the machine (`LocalEdit`) or
//! straight to the server (online-only, [`crate::sync::OnlineSave`]), so they need no
//! function here. The settings store the serde names (`fallback`, `stream`, `local-only`,
//! `online-only`, `offline-first`).

use serde::{Deserialize, Serialize};

use crate::sync::{LocalRecord, Millis};
use crate::wire::{ProfileFields, ServerProfile};

/// How the profile is read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReadStrategy {
    /// Try the server; on failure use the local copy.
    Fallback,
    /// Show the local copy at once, then the server's when it arrives (the default: fast and
    /// fresh).
    #[default]
    Stream,
    /// Only the local copy; the sync loop keeps it fresh.
    LocalOnly,
}

/// How the profile is written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WriteStrategy {
    /// Server first; stored locally only once accepted.
    OnlineOnly,
    /// Stored locally first (not synchronized); the sync machine sends it (the default:
    /// nothing typed is lost).
    #[default]
    OfflineFirst,
}

impl ReadStrategy {
    /// The serde name, for the settings `<select>` values.
    pub fn as_str(self) -> &'static str {
        match self {
            ReadStrategy::Fallback => "fallback",
            ReadStrategy::Stream => "stream",
            ReadStrategy::LocalOnly => "local-only",
        }
    }
}

impl WriteStrategy {
    /// The serde name, for the settings `<select>` values.
    pub fn as_str(self) -> &'static str {
        match self {
            WriteStrategy::OnlineOnly => "online-only",
            WriteStrategy::OfflineFirst => "offline-first",
        }
    }
}

/// Why the server's copy could not be had; the repository maps its service errors to this.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RemoteFailure {
    /// Offline, unreachable, timed out or a 5xx.
    #[error("the server could not be reached")]
    Network,
    /// 401: the session is gone.
    #[error("the session has expired")]
    Unauthorized,
    /// Any other refusal, with the server's message for people.
    #[error("{0}")]
    Rejected(String),
}

/// A read that has nothing to show.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    /// No local copy yet and the server is out of reach.
    #[error("no copy on this device and the server is out of reach")]
    NotAvailableOffline,
}

/// Where a shown value came from, so the UI can say "saved on this device" or "from server".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    /// This device's store.
    Local,
    /// The server, just now.
    Remote,
}

/// The outcome of a read: what to show and, if it changed, what to store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Read {
    /// The record to show (its `local` are the values).
    pub record: LocalRecord,
    /// Where it came from.
    pub source: Source,
    /// Whether `record` differs from the stored one and must be persisted.
    pub store: bool,
}

impl Read {
    /// The values to show.
    pub fn fields(&self) -> &ProfileFields {
        &self.record.local
    }
}

/// Local fallback: the server's copy if it answered, else the local one, else
/// [`ReadError::NotAvailableOffline`].
///
/// A server answer never overwrites unsynchronized local changes: those are shown and left to
/// the sync machine to merge, so reading can never lose typing.
pub fn fallback_read(
    remote: Result<ServerProfile, RemoteFailure>,
    local: Option<&LocalRecord>,
    now: Millis,
) -> Result<Read, ReadError> {
    match (remote, local) {
        (Ok(_), Some(l)) if !l.synchronized || l.conflict.is_some() => Ok(Read {
            record: l.clone(),
            source: Source::Local,
            store: false,
        }),
        (Ok(profile), local) => {
            let stale = local.and_then(|l| l.base.as_ref()).map_or(0, |b| b.version);
            if let Some(l) = local.filter(|_| profile.version < stale) {
                // An older answer than what is stored (reordered): keep the stored one.
                return Ok(Read {
                    record: l.clone(),
                    source: Source::Local,
                    store: false,
                });
            }
            let record = LocalRecord::from_server(profile, now);
            let store = local != Some(&record);
            Ok(Read {
                record,
                source: Source::Remote,
                store,
            })
        }
        (Err(_), local) => local_only_read(local),
    }
}

/// Local only: the stored copy, or [`ReadError::NotAvailableOffline`].
pub fn local_only_read(local: Option<&LocalRecord>) -> Result<Read, ReadError> {
    local
        .map(|l| Read {
            record: l.clone(),
            source: Source::Local,
            store: false,
        })
        .ok_or(ReadError::NotAvailableOffline)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(name: &str, version: u64) -> ServerProfile {
        ServerProfile {
            name: name.into(),
            photo_url: String::new(),
            version,
            updated_at: "2026-01-01T00:00:00Z".into(),
            mutation_id: None,
            field_versions: None,
        }
    }

    fn fields(name: &str) -> ProfileFields {
        ProfileFields {
            name: name.into(),
            photo_url: String::new(),
        }
    }

    #[test]
    fn serde_names() {
        for (s, n) in [
            (ReadStrategy::Fallback, "fallback"),
            (ReadStrategy::Stream, "stream"),
            (ReadStrategy::LocalOnly, "local-only"),
        ] {
            assert_eq!(s.as_str(), n);
            crate::test_support::named(&s, n);
        }
        for (s, n) in [
            (WriteStrategy::OnlineOnly, "online-only"),
            (WriteStrategy::OfflineFirst, "offline-first"),
        ] {
            assert_eq!(s.as_str(), n);
            crate::test_support::named(&s, n);
        }
        assert_eq!(ReadStrategy::default(), ReadStrategy::Stream);
        assert_eq!(WriteStrategy::default(), WriteStrategy::OfflineFirst);
    }

    #[test]
    fn fallback_prefers_remote_and_stores_it() {
        let read = fallback_read(Ok(server("ann", 2)), None, 5).expect("read");
        assert_eq!(read.source, Source::Remote);
        assert!(read.store);
        assert_eq!(read.fields(), &fields("ann"));
        assert!(read.record.synchronized);
        // The same again: nothing new to store.
        let again = fallback_read(Ok(server("ann", 2)), Some(&read.record), 5).expect("read");
        assert!(!again.store);
    }

    #[test]
    fn fallback_uses_local_on_failure_and_errors_without_it() {
        let local = LocalRecord::from_server(server("ann", 2), 1);
        let read = fallback_read(Err(RemoteFailure::Network), Some(&local), 5).expect("read");
        assert_eq!(read.source, Source::Local);
        assert!(!read.store);
        assert_eq!(
            fallback_read(Err(RemoteFailure::Network), None, 5),
            Err(ReadError::NotAvailableOffline)
        );
    }

    #[test]
    fn fallback_never_overwrites_pending_local_changes_or_newer_state() {
        let pending = LocalRecord {
            local: fields("bob"),
            synchronized: false,
            changed_at: Some(3),
            ..LocalRecord::from_server(server("ann", 2), 1)
        };
        let read = fallback_read(Ok(server("cat", 3)), Some(&pending), 5).expect("read");
        assert_eq!(read.fields(), &fields("bob"));
        assert!(!read.store);
        let newer = LocalRecord::from_server(server("dan", 4), 1);
        let read = fallback_read(Ok(server("cat", 3)), Some(&newer), 5).expect("read");
        assert_eq!(read.fields(), &fields("dan"));
    }

    #[test]
    fn local_only_reads_the_store() {
        assert_eq!(local_only_read(None), Err(ReadError::NotAvailableOffline));
        let local = LocalRecord::from_server(server("ann", 2), 1);
        assert_eq!(local_only_read(Some(&local)).expect("read").record, local);
    }
}
