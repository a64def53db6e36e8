//! `FakeApiClient`: a tiny in-memory Outpost server with the contract's version checks.

use std::cell::RefCell;
use std::rc::Rc;

use outpost_core::sync::SentWrite;
use outpost_core::validate::uploaded_photo;
use outpost_core::wire::{Credentials, ProfileFields, ServerProfile};

use crate::data::services::{ApiClient, ApiError};

/// The fake server's state, shared by clones so a test can change it while the repository
/// runs.
#[derive(Debug)]
pub struct FakeServer {
    /// The stored profile.
    pub profile: ServerProfile,
    /// The only token it accepts.
    pub valid_token: String,
    /// When false every call fails as unreachable.
    pub reachable: bool,
    /// When set, every PUT is refused as invalid with this message (a 422).
    pub reject_puts: Option<String>,
    /// When set, every profile request is answered 429 with this `Retry-After` (ms).
    pub busy_retry_after: Option<u64>,
    /// The next this many PUTs are applied, but their answer arrives unreadable (a proxy or a
    /// cut connection garbled the 200).
    pub garble_puts: u32,
    /// What such a garbled answer is read as (an unreadable body when `None`).
    pub garbled_as: Option<ApiError>,
    /// PUT requests received (answered or not).
    pub puts: u32,
    /// The Idempotency-Key of every PUT received, in order.
    pub put_keys: Vec<String>,
    /// GET requests received.
    pub gets: u32,
    /// Every applied write, with its mutation id: a repeat is answered from here.
    pub applied: Vec<ServerProfile>,
    /// The lowest version whose key it still knows (the history below was pruned): a write
    /// that would have made an older one is answered 409 `history_pruned`.
    pub history_floor: u64,
    /// The photos it holds, by SHA-256, in the order they arrived (a repeat is not stored
    /// twice).
    pub photos: Vec<(String, Vec<u8>)>,
    /// Photo uploads received (answered or not).
    pub photo_puts: u32,
    /// When set, the next photo fetch answers only once this is released (or dropped).
    pub photo_gate: Option<futures_channel::oneshot::Receiver<()>>,
}

/// A clonable handle on one [`FakeServer`].
#[derive(Clone, Debug)]
pub struct FakeApiClient(pub Rc<RefCell<FakeServer>>);

impl FakeApiClient {
    /// A reachable server holding `name` at version 1 and accepting `token`.
    pub fn new(name: &str, token: &str) -> Self {
        Self(Rc::new(RefCell::new(FakeServer {
            profile: ServerProfile::first(
                &ProfileFields::new(name, ""),
                "2026-01-01T00:00:00Z".to_owned(),
            ),
            applied: Vec::new(),
            history_floor: 1,
            photos: Vec::new(),
            photo_puts: 0,
            photo_gate: None,
            valid_token: token.to_owned(),
            reachable: true,
            reject_puts: None,
            busy_retry_after: None,
            garble_puts: 0,
            garbled_as: None,
            puts: 0,
            put_keys: Vec::new(),
            gets: 0,
        })))
    }

    fn check(&self, token: &str) -> Result<(), ApiError> {
        let server = self.0.borrow();
        if !server.reachable {
            return Err(ApiError::Unreachable);
        }
        if let Some(wait) = server.busy_retry_after {
            return Err(ApiError::Server {
                status: 429,
                retry_after_ms: Some(wait),
            });
        }
        if token != server.valid_token {
            return Err(ApiError::Unauthorized("session ended".into()));
        }
        Ok(())
    }
}

impl ApiClient for FakeApiClient {
    async fn create_account(&self, _: &Credentials) -> Result<String, ApiError> {
        Ok(self.0.borrow().valid_token.clone())
    }

    async fn sign_in(&self, _: &Credentials) -> Result<String, ApiError> {
        Ok(self.0.borrow().valid_token.clone())
    }

    async fn sign_out(&self, _: &str) -> Result<(), ApiError> {
        Ok(())
    }

    async fn get_profile(&self, token: &str) -> Result<ServerProfile, ApiError> {
        self.0.borrow_mut().gets += 1;
        self.check(token)?;
        Ok(self.0.borrow().profile.clone())
    }

    async fn put_profile(&self, token: &str, write: &SentWrite) -> Result<ServerProfile, ApiError> {
        let (fields, if_match, mutation) = (&write.fields, write.if_match, write.mutation.as_str());
        {
            let mut server = self.0.borrow_mut();
            server.puts += 1;
            server.put_keys.push(mutation.to_owned());
        }
        self.check(token)?;
        let mut server = self.0.borrow_mut();
        if let Some(sha) = uploaded_photo(&fields.photo_url)
            && !server.photos.iter().any(|(s, _)| s == sha)
        {
            return Err(ApiError::PhotoMissing("Upload the photo first.".into()));
        }
        if let Some(message) = server.reject_puts.clone() {
            return Err(ApiError::Invalid {
                field: Some("name".into()),
                message,
            });
        }
        if let Some(outcome) = server.applied.iter().find(|p| {
            p.mutation_id.as_deref() == Some(mutation) && p.version >= server.history_floor
        }) {
            return Ok(outcome.clone());
        }
        if if_match != server.profile.version {
            if if_match + 1 < server.history_floor {
                return Err(ApiError::Forgotten(Box::new(server.profile.clone())));
            }
            return Err(ApiError::Stale(Box::new(server.profile.clone())));
        }
        server.profile = server.profile.next(
            fields,
            "2026-01-01T00:00:01Z".to_owned(),
            Some(mutation.to_owned()),
        );
        let outcome = server.profile.clone();
        server.applied.push(outcome.clone());
        if server.garble_puts > 0 {
            server.garble_puts -= 1;
            return Err(server
                .garbled_as
                .clone()
                .unwrap_or_else(|| ApiError::OutcomeUnknown("unreadable answer".into())));
        }
        Ok(outcome)
    }
    async fn put_photo(&self, token: &str, sha256: &str, bytes: &[u8]) -> Result<(), ApiError> {
        self.0.borrow_mut().photo_puts += 1;
        self.check(token)?;
        let mut server = self.0.borrow_mut();
        if !server.photos.iter().any(|(s, _)| s == sha256) {
            server.photos.push((sha256.to_owned(), bytes.to_vec()));
        }
        Ok(())
    }

    async fn get_photo(&self, token: &str, sha256: &str) -> Result<Vec<u8>, ApiError> {
        self.check(token)?;
        let gate = self.0.borrow_mut().photo_gate.take();
        if let Some(gate) = gate {
            let _ = gate.await;
        }
        let server = self.0.borrow();
        server
            .photos
            .iter()
            .find(|(s, _)| s == sha256)
            .map(|(_, bytes)| bytes.clone())
            .ok_or_else(|| ApiError::OutcomeUnknown("HTTP 404".into()))
    }
}
