//! One record's read-compare-write in a single IndexedDB readwrite transaction with
//! `durability: "strict"` (committed to disk, not only to the OS cache, before `complete`).
//!
//! rexie offers neither transaction options nor a way to run code between a read and a write
//! of one transaction, so this uses the IndexedDB API directly. The read and the write are
//! issued together and the compare runs in the read's `success` handler, while the
//! transaction is still active: it lets the transaction commit or aborts it, so no other
//! writer (another tab, the service worker) can slip in between, and nobody ever sees a write
//! the compare refused.

use std::cell::Cell;
use std::rc::Rc;

use js_sys::{Function, Promise};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    DomException, IdbDatabase, IdbOpenDbRequest, IdbTransactionDurability, IdbTransactionMode,
    IdbTransactionOptions,
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
    /// Delete the key.
    Delete,
}

/// A connection of its own, closed when another tab upgrades the schema (so the upgrade is
/// never blocked by it); the next write then opens a new one.
pub struct Connection {
    db: IdbDatabase,
    closed: Rc<Cell<bool>>,
    _on_versionchange: Closure<dyn FnMut()>,
}

impl Connection {
    /// Opens `name` at its current version. The schema must exist already (the caller opens
    /// it through rexie first), or this would create an empty database.
    pub async fn open(name: &str) -> Result<Self, TxError> {
        let factory = web_sys::window()
            .and_then(|w| w.indexed_db().ok().flatten())
            .ok_or_else(|| TxError {
                name: "UnknownError".to_owned(),
                message: "IndexedDB is not available".to_owned(),
            })?;
        let request: IdbOpenDbRequest = factory.open(name).map_err(|e| TxError::from_js(&e))?;
        let opened = Promise::new(&mut |resolve: Function, reject: Function| {
            request.set_onsuccess(Some(&resolve));
            request.set_onerror(Some(&reject));
        });
        JsFuture::from(opened).await.map_err(|_| {
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
        Ok(Self {
            db,
            closed,
            _on_versionchange: on_versionchange,
        })
    }

    /// Whether another tab's upgrade closed this connection.
    pub fn is_closed(&self) -> bool {
        self.closed.get()
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
    /// on another store too. `with` is one more value put in the same transaction (a store,
    /// a key, the value): it is kept exactly when the change is.
    pub async fn write_if(
        &self,
        store: &str,
        key: &str,
        also: Option<(&str, &str)>,
        with: Option<(&str, &str, &JsValue)>,
        change: Change,
        allow: impl FnOnce(JsValue, JsValue) -> bool + 'static,
    ) -> Result<bool, TxError> {
        let options = IdbTransactionOptions::new();
        options.set_durability(IdbTransactionDurability::Strict);
        let mut stores = vec![js_sys::JsString::from(store)];
        for other in [also.map(|(s, _)| s), with.map(|(s, _, _)| s)]
            .into_iter()
            .flatten()
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
        let issued = match &change {
            Change::Put(value) => object_store.put_with_key(value, &key),
            Change::Delete => object_store.delete(&key),
        }
        .and_then(|_| match with {
            Some((other, other_key, value)) => tx
                .object_store(other)
                .and_then(|s| s.put_with_key(value, &JsValue::from_str(other_key)))
                .map(|_| ()),
            None => Ok(()),
        });
        if let Err(e) = issued {
            // Not cloneable, say: nothing of this transaction may commit.
            let _ = tx.abort();
            return Err(TxError::from_js(&e));
        }
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
        let done = Promise::new(&mut |resolve: Function, reject: Function| {
            tx.set_oncomplete(Some(&resolve));
            tx.set_onabort(Some(&reject));
        });
        let outcome = JsFuture::from(done).await;
        drop(on_read);
        match outcome {
            Ok(_) => Ok(true),
            Err(_) if refused.get() => Ok(false),
            Err(_) => Err(tx.error().map_or_else(
                || TxError {
                    name: "AbortError".to_owned(),
                    message: "the transaction was aborted".to_owned(),
                },
                |e| TxError::from_js(&e),
            )),
        }
    }
}
