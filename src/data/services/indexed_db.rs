//! The IndexedDB API, performed directly: one connection per database, opened at a schema
//! version (creating the stores it lacks), with a read, a put, a delete and a
//! read-compare-write, each one transaction awaited until it ended.
//!
//! No wrapper crate: the read-compare-write needs transaction options (`durability:
//! "strict"`) and code run between a read and a write of one transaction, which rexie could
//! not express; with this module doing that, the rest was three small functions, and rexie
//! with `idb` and tokio's oneshot cost the first load about 13 KB of code.
//!
//! [`Connection::write_if`] issues the read and the write together and the compare runs in
//! the read's `success` handler, while the transaction is still active: it lets the
//! transaction commit or aborts it, so no other writer (another tab, the service worker) can
//! slip in between, and nobody ever sees a write the compare refused.

use std::cell::Cell;
use std::rc::Rc;

use js_sys::{Function, Promise};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    DomException, IdbDatabase, IdbObjectStore, IdbOpenDbRequest, IdbTransaction,
    IdbTransactionDurability, IdbTransactionMode, IdbTransactionOptions,
};

/// Why a transaction failed: the DOMException's name (`QuotaExceededError`, ...) and message.
#[derive(Clone, Debug)]
pub struct TxError {
    /// The exception's name.
    pub name: String,
    /// Its message.
    pub message: String,
}

impl TxError {
    fn from_js(value: &JsValue) -> Self {
        match value.dyn_ref::<DomException>() {
            Some(e) => Self {
                name: e.name(),
                message: e.message(),
            },
            None => Self {
                name: "Error".to_owned(),
                message: format!("{value:?}"),
            },
        }
    }
}

/// The write of a [`Connection::write_if`].
#[derive(Clone)]
pub enum Change {
    /// Put this value under the key.
    Put(JsValue),
    /// Delete the key (or every key of an `IDBKeyRange`).
    Delete,
}

impl Change {
    /// Issues this change of `key` on `store` (in that store's transaction).
    fn issue(&self, store: &IdbObjectStore, key: &JsValue) -> Result<(), JsValue> {
        match self {
            Change::Put(value) => store.put_with_key(value, key),
            Change::Delete => store.delete(key),
        }
        .map(|_| ())
    }
}

/// A connection of its own, closed when another tab upgrades the schema (so the upgrade is
/// never blocked by it) or when the browser closes it; the next write then opens a new one.
pub struct Connection {
    db: IdbDatabase,
    closed: Rc<Cell<bool>>,
    _on_versionchange: Closure<dyn FnMut()>,
}

impl Connection {
    /// Opens `name` at `version`, creating the stores of `stores` it lacks when the database
    /// is new or older (upgrades only add stores). A database already at a newer version
    /// fails with `VersionError`.
    pub async fn open(name: &str, version: u32, stores: &[&str]) -> Result<Self, TxError> {
        let factory = web_sys::window()
            .and_then(|w| w.indexed_db().ok().flatten())
            .ok_or_else(|| TxError {
                name: "UnknownError".to_owned(),
                message: "IndexedDB is not available".to_owned(),
            })?;
        let request: IdbOpenDbRequest = factory
            .open_with_u32(name, version)
            .map_err(|e| TxError::from_js(&e))?;
        let on_upgrade = {
            let (request, stores) = (request.clone(), stores.iter().map(|s| s.to_string()));
            let stores: Vec<String> = stores.collect();
            Closure::<dyn FnMut()>::new(move || {
                let Ok(db) = request.result().and_then(|r| r.dyn_into::<IdbDatabase>()) else {
                    return;
                };
                let existing = db.object_store_names();
                for store in &stores {
                    if !existing.contains(store) {
                        // A failure here aborts the upgrade; the open then reports it.
                        let _ = db.create_object_store(store);
                    }
                }
            })
        };
        request.set_onupgradeneeded(Some(on_upgrade.as_ref().unchecked_ref()));
        let opened = Promise::new(&mut |resolve: Function, reject: Function| {
            request.set_onsuccess(Some(&resolve));
            request.set_onerror(Some(&reject));
        });
        let outcome = JsFuture::from(opened).await;
        request.set_onupgradeneeded(None);
        drop(on_upgrade);
        outcome.map_err(|_| {
            let error = request.error().ok().flatten();
            error.map_or_else(
                || TxError::from_js(&JsValue::UNDEFINED),
                |e| TxError::from_js(&e),
            )
        })?;
        let db: IdbDatabase = request
            .result()
            .and_then(|r| r.dyn_into())
            .map_err(|e| TxError::from_js(&e))?;
        let closed = Rc::new(Cell::new(false));
        let on_versionchange = {
            let (db, closed) = (db.clone(), closed.clone());
            Closure::<dyn FnMut()>::new(move || {
                closed.set(true);
                db.close();
            })
        };
        db.set_onversionchange(Some(on_versionchange.as_ref().unchecked_ref()));
        // The browser closed it for its own reasons (storage cleared, a disk failure).
        db.set_onclose(Some(on_versionchange.as_ref().unchecked_ref()));
        Ok(Self {
            db,
            closed,
            _on_versionchange: on_versionchange,
        })
    }

    /// Whether another tab's upgrade, or the browser, closed this connection.
    pub fn is_closed(&self) -> bool {
        self.closed.get()
    }

    /// Closes the connection with nothing told (as Safari loses one), for the tests.
    #[cfg(feature = "testing")]
    pub fn lose(&self) {
        self.db.close();
    }

    /// The value under `key` of `store` (`undefined` when there is none), read in its own
    /// transaction.
    pub async fn get(&self, store: &str, key: &JsValue) -> Result<JsValue, TxError> {
        let tx = self.transaction(store, IdbTransactionMode::Readonly)?;
        let read = tx
            .object_store(store)
            .and_then(|s| s.get(key))
            .map_err(|e| TxError::from_js(&e))?;
        ended(&tx).await?;
        read.result().map_err(|e| TxError::from_js(&e))
    }

    /// Makes `change` to `key` (a key, or an `IDBKeyRange` to delete) of `store`; returns once
    /// the transaction committed.
    pub async fn write(&self, store: &str, key: &JsValue, change: &Change) -> Result<(), TxError> {
        let tx = self.transaction(store, IdbTransactionMode::Readwrite)?;
        let written = tx.object_store(store).and_then(|s| change.issue(&s, key));
        issued(&tx, written)?;
        ended(&tx).await
    }

    fn transaction(
        &self,
        store: &str,
        mode: IdbTransactionMode,
    ) -> Result<IdbTransaction, TxError> {
        self.db
            .transaction_with_str_and_mode(store, mode)
            .map_err(|e| TxError::from_js(&e))
    }

    /// Writes `change` under `key` of `store` and keeps it only if `allow`, called with the
    /// value the same transaction read just before (`undefined` if none), says so; all in one
    /// strict readwrite transaction. The write is issued together with the read instead of
    /// after its answer, so a save waits for one request, not two; when `allow` refuses, the
    /// transaction is aborted and the write never happened for anyone (readers of the store
    /// wait for this transaction to end). Resolves once the transaction ended: `true` when
    /// the change was committed, `false` when `allow` refused it.
    ///
    /// `also` names one more value (a store and a key) that the same transaction reads first:
    /// `allow` gets it as its second argument (`undefined` if none), so a compare can depend
    /// on another store too. `with` are more changes made in the same transaction (a store, a
    /// key or an `IDBKeyRange`, the change): they are kept exactly when the change is.
    pub async fn write_if(
        &self,
        store: &str,
        key: &str,
        also: Option<(&str, &str)>,
        with: &[(&str, JsValue, Change)],
        change: Change,
        allow: Box<dyn FnOnce(JsValue, JsValue) -> bool>,
    ) -> Result<bool, TxError> {
        let options = IdbTransactionOptions::new();
        options.set_durability(IdbTransactionDurability::Strict);
        let mut stores = vec![js_sys::JsString::from(store)];
        for other in also
            .map(|(s, _)| s)
            .into_iter()
            .chain(with.iter().map(|(s, _, _)| *s))
        {
            if !stores.iter().any(|s| s == other) {
                stores.push(js_sys::JsString::from(other));
            }
        }
        let tx = self
            .db
            .transaction_with_str_sequence_and_mode_and_options(
                &stores,
                IdbTransactionMode::Readwrite,
                &options,
            )
            .map_err(|e| TxError::from_js(&e))?;
        // Requests of one transaction are answered in the order they were made: this read's
        // answer is in before the compare runs.
        let other_read = match also {
            Some((other, other_key)) => Some(
                tx.object_store(other)
                    .and_then(|s| s.get(&JsValue::from_str(other_key)))
                    .map_err(|e| TxError::from_js(&e))?,
            ),
            None => None,
        };
        let object_store = tx.object_store(store).map_err(|e| TxError::from_js(&e))?;
        let key = JsValue::from_str(key);
        let read = object_store.get(&key).map_err(|e| TxError::from_js(&e))?;
        let issued_all = change.issue(&object_store, &key).and_then(|()| {
            with.iter()
                .try_for_each(|(other, other_key, other_change)| {
                    other_change.issue(&tx.object_store(other)?, other_key)
                })
        });
        issued(&tx, issued_all)?;
        let refused = Rc::new(Cell::new(false));
        let mut allow = Some(allow);
        let on_read = {
            let (read, tx, refused) = (read.clone(), tx.clone(), refused.clone());
            Closure::<dyn FnMut()>::new(move || {
                let current = read.result().unwrap_or(JsValue::UNDEFINED);
                let other = other_read
                    .as_ref()
                    .and_then(|r| r.result().ok())
                    .unwrap_or(JsValue::UNDEFINED);
                if !allow.take().is_some_and(|allow| allow(current, other)) {
                    refused.set(true);
                    let _ = tx.abort();
                }
            })
        };
        read.set_onsuccess(Some(on_read.as_ref().unchecked_ref()));
        let outcome = ended(&tx).await;
        drop(on_read);
        match outcome {
            Ok(()) => Ok(true),
            Err(_) if refused.get() => Ok(false),
            Err(e) => Err(e),
        }
    }
}

/// Aborts `tx` when a request could not be issued (a value that cannot be cloned, say):
/// nothing of that transaction may commit.
fn issued(tx: &IdbTransaction, request: Result<(), JsValue>) -> Result<(), TxError> {
    request.map_err(|e| {
        let _ = tx.abort();
        TxError::from_js(&e)
    })
}

/// Waits until `tx` ended: `Ok` once it committed, its error once it aborted (a failed
/// request aborts its transaction, so `abort` covers request errors too).
async fn ended(tx: &IdbTransaction) -> Result<(), TxError> {
    let done = Promise::new(&mut |resolve: Function, reject: Function| {
        tx.set_oncomplete(Some(&resolve));
        tx.set_onabort(Some(&reject));
    });
    JsFuture::from(done).await.map(|_| ()).map_err(|_| {
        tx.error().map_or_else(
            || TxError {
                name: "AbortError".to_owned(),
                message: "the transaction was aborted".to_owned(),
            },
            |e| TxError::from_js(&e),
        )
    })
}
